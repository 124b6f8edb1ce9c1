"""Shared tools of the adversarial suite: fixtures from ``tests/conftest.py``, a hang watchdog, a tally of what the
suite did (printed at the end of the run), stores that pause at an exact request, and object forgers.

Everything here is deterministic: randomness is seeded by the tests, time comes from injected clocks, and an
interleaving is forced by parking one client at its n-th request on an `asyncio.Event`, never by sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import faulthandler
import itertools
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
import zstandard

# re-exported for the test modules (``X as X``: an explicit re-export)
from conftest import BUCKET as BUCKET
from conftest import LATER as LATER
from conftest import S3Server as S3Server
from conftest import attach_counter as attach_counter
from pydantic import JsonValue

from s3sessions import AgentError, S3SessionManager, Session, SessionMetadata
from s3sessions.testing import InMemoryObjectStore
from s3sessions.testing.conformance import SettableClock

PREFIX = "adv/"


class Bounds(TypedDict):
    """S3SessionManager's size bounds, typed for ``**SMALL``."""

    tail_bytes: int
    segment_bytes: int


SMALL: Bounds = {"tail_bytes": 600, "segment_bytes": 2000}
"""Small bounds, so that a few turns already seal segments (every protocol path then has segments to lose)."""
HANG_SECONDS = 150
"""A test that runs longer than this is a hang: faulthandler dumps every thread's stack and ends the run."""

TALLY: Counter[str] = Counter()
"""What the suite did: operations, kills, faults, corruptions, interleavings (printed by the terminal summary)."""

STORE_METHODS = frozenset(
    {
        "get",
        "head",
        "put",
        "copy",
        "delete",
        "delete_keys",
        "list_page",
        "list_objects",
        "list_prefixes",
        "list_versions",
        "delete_versions",
    }
)
WRITE_METHODS = frozenset({"put", "copy", "delete", "delete_keys", "delete_versions"})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        counts = ", ".join(f"{name} {TALLY[name]}" for name in sorted(TALLY))
        terminalreporter.write_line(f"adversarial suite: {counts}")


@pytest.fixture(autouse=True)
def watchdog() -> Any:
    """Turns a hang into a failure with every thread's stack, instead of a CI job that never ends."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# ------------------------------------------------------------------------------------------------- sessions


def turn(marker: str, words: int = 30) -> list[JsonValue]:
    """One turn (user question, assistant answer) that carries a unique marker."""
    return [
        {"role": "user", "content": f"question {marker} " + "why " * words},
        {"role": "assistant", "content": f"answer {marker} " + "because " * words},
    ]


def turns(prefix: str, count: int, words: int = 30) -> list[JsonValue]:
    return [message for index in range(count) for message in turn(f"{prefix}{index}", words)]


def markers(messages: list[Any]) -> list[str]:
    """The markers of a session's turns, in order (one per user message)."""
    found = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            found.append(message["content"].split(" ", 2)[1])
    return found


def content(session: Session) -> tuple[Any, ...]:
    """What a reader sees of a session, versions and times aside."""
    metadata = session.metadata
    return (session.messages, session.state, metadata.name, metadata.tags, metadata.turn_count)


def memory_manager(store: Any = None, **options: Any) -> S3SessionManager:
    """The real engine on an in-memory store (or the store given), under `PREFIX`, with small bounds."""
    return S3SessionManager(
        store=store if store is not None else InMemoryObjectStore(), prefix=PREFIX, **{**SMALL, **options}
    )


def s3_manager(endpoint: str | None, **options: Any) -> S3SessionManager:
    return S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint, **{**SMALL, **options})


def clone_store(store: InMemoryObjectStore) -> InMemoryObjectStore:
    """An independent copy of an in-memory store's contents and switches (test-only: reads its internals)."""
    twin = InMemoryObjectStore(
        versioned=store.versioned,
        quoted_if_match=store.quoted_if_match,
        conditional_delete=store.conditional_delete,
        missing_if_match=store.missing_if_match,
        clock=store.clock,
    )
    twin._keys = copy.deepcopy(store._keys)
    twin._ids = itertools.count(10_000_000)
    return twin


async def outcome(awaitable: Awaitable[Any]) -> tuple[str, Any]:
    """Runs an operation: ("ok", result) or ("error", the AgentError). Anything else fails the test at once."""
    TALLY["operations"] += 1
    try:
        return "ok", await awaitable
    except AgentError as exc:
        return "error", exc


# ------------------------------------------------------------------------------------------ pausing stores


class PausingStore:
    """Delegates to a store and parks its n-th request (before it is sent, or after it returned) until released.

    The forced interleavings park client A here, run client B to completion, then release A.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.pause_at: int | None = None
        self.match: Callable[[str, str], bool] | None = None
        self.when = "before"
        self.paused = asyncio.Event()
        self.release = asyncio.Event()

    def arm(self, pause_at: int | None, when: str = "before", match: Callable[[str, str], bool] | None = None) -> None:
        """Parks request number ``pause_at`` (or the first request ``match(method, key)`` accepts)."""
        self.calls.clear()
        self.pause_at = pause_at
        self.match = match
        self.when = when
        self.paused = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in STORE_METHODS:
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            key = str(args[0]) if args else ""
            self.calls.append((name, key))
            number = len(self.calls)
            if self.match is not None and self.match(name, key):
                self.match = None
                self.pause_at = number
            if number == self.pause_at and self.when == "before":
                self.paused.set()
                await self.release.wait()
            result = await attribute(*args, **kwargs)
            if number == self.pause_at and self.when == "after":
                self.paused.set()
                await self.release.wait()
            return result

        return call


@dataclass
class Interleaving:
    """What happened when A was parked at its n-th request while B ran: each side's outcome."""

    a: tuple[str, Any]
    b: tuple[str, Any]
    reached: bool


async def interleave(
    gate: PausingStore,
    first: Callable[[], Awaitable[Any]],
    second: Callable[[], Awaitable[Any]],
    pause_at: int | None,
    when: str,
    match: Callable[[str, str], bool] | None = None,
) -> Interleaving:
    """Runs ``first`` until its request number ``pause_at`` (through ``gate``), then ``second`` to the end, then
    the rest of ``first``. ``reached`` is False when ``first`` finished before making that request."""
    TALLY["interleavings"] += 1
    gate.arm(pause_at, when, match)
    task = asyncio.ensure_future(outcome(first()))
    paused = asyncio.ensure_future(gate.paused.wait())
    await asyncio.wait({task, paused}, return_when=asyncio.FIRST_COMPLETED)
    if not gate.paused.is_set():
        paused.cancel()
        gate.pause_at = None
        return Interleaving(await task, ("skipped", None), reached=False)
    b = await outcome(second())
    gate.release.set()
    a = await task
    gate.pause_at = None
    return Interleaving(a, b, reached=True)


# --------------------------------------------------------------------------------------------- forgery


def decompress(body: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


def compress(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(raw)


def split_head(raw: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """A format-2 head's raw JSON as (its header fields, the state's JSON, the tail region)."""
    first = raw.find(b"\n")
    state_end = raw.find(b"\n", first + 1)
    tail_start = raw.find(b"\n", state_end + 1) + 1
    tail_end = raw.rfind(b"\n")
    header = json.loads(raw[: first - len(b',"state":')] + b"}")
    return header, raw[first + 1 : state_end], raw[tail_start:tail_end]


def join_head(header: dict[str, Any], state: bytes, tail: bytes) -> bytes:
    """The inverse of `split_head` (any int size, NaN allowed: forging is the point)."""
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        text = json.dumps(header, separators=(",", ":"), allow_nan=True, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    finally:
        sys.set_int_max_str_digits(limit)
    return text[:-1] + b',"state":\n' + state + b'\n,"tail":[\n' + tail + b"\n]}"


def nested(depth: int, leaf: str = "0") -> bytes:
    """JSON text of a list nested ``depth`` levels deep."""
    return b"[" * depth + leaf.encode() + b"]" * depth


async def saved(manager: S3SessionManager, session_id: str, count: int = 6, **metadata: Any) -> Session:
    """Creates a session of ``count`` turns, saved turn by turn (so it has sealed segments and a tail)."""
    session = Session(metadata=SessionMetadata(id=session_id, **metadata))
    for index in range(count):
        session.messages.extend(turn(f"{session_id}-{index}"))
        await manager.save(session)
    return session


def session_keys(store: InMemoryObjectStore, session_id: str) -> list[str]:
    return store.keys(f"{PREFIX}sessions/{session_id}/")


def index_keys(store: InMemoryObjectStore, session_id: str | None = None) -> list[str]:
    return [key for key in store.keys(f"{PREFIX}index/") if session_id is None or f"~{session_id}~" in key]


DIALECTS: dict[str, Callable[[], InMemoryObjectStore]] = {
    "s3": InMemoryObjectStore,
    "rgw": lambda: InMemoryObjectStore(quoted_if_match=False, conditional_delete=False, missing_if_match="412"),
    "versioned": lambda: InMemoryObjectStore(versioned=True),
}
"""The store dialects the engine adapts to: S3 (and moto), Ceph RGW's quirks, a bucket with versioning on."""


async def leftovers(store: InMemoryObjectStore, session_id: str) -> list[str]:
    """What a finished delete may leave of a session: nothing, or on RGW (no conditional delete) a cleaned
    tombstone at the head key. Returns anything else that is left (every version, on a versioned bucket)."""
    from s3sessions.formats.bodies import decode_head_object
    from s3sessions.formats.records import TombstoneRecord

    head = f"{PREFIX}sessions/{session_id}/head.json.zst"
    left = [version.key for version in await store.list_versions(f"{PREFIX}sessions/{session_id}/")]
    if left == [head] and not store.conditional_delete:
        record = decode_head_object(
            (await store.get(head, max_bytes=10**6)).body, max_bytes=10**6, key=head, session_id=session_id
        )
        if isinstance(record, TombstoneRecord) and record.cleaned:
            return []
    return left


def clock_store(start: float = 1_800_000_000.0) -> tuple[InMemoryObjectStore, SettableClock]:
    """An in-memory store whose last-modified times come from a settable clock (the "server" clock)."""
    clock = SettableClock(start)
    return InMemoryObjectStore(clock=clock), clock
