"""Poison values on the write path (findings 1, 5, 6 and the bad-argument list): refused with `InvalidInput` at
once, before any request, with nothing changed in the bucket.

Counts (in-memory store, no network): 26 poison values x 4 placements x 2 managers (a warm one creating, a warm
one updating a session it holds) = 208 saves, each checked for InvalidInput, zero requests, nothing changed,
under 2 s and (circular and deep values) under 64 MiB allocated; the 26 values through a manager that does not
hold the session (reads allowed, no write) and 5 through a cold manager (no manifest yet); 169 bad ids, names,
tags, tag filters, turn indexes, last_turns, page sizes, cursors and version ids across every operation, 4 turn
indexes that need the head, 9 metadata fields changed behind validation; 6 oversize layouts x (create, update) and
1 on a cold manager (finding 6); the nesting bound at exactly `MAX_NESTING` levels and one more; 13 operations run
by a caller 100 frames from Python's recursion limit, with a shallow value and with one at the bound.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from conftest import LATER
from pydantic import JsonValue

from s3sessions import InvalidInput, S3SessionManager, Session, SessionMetadata
from s3sessions.admin.fsck import fsck
from s3sessions.formats.json_values import MAX_NESTING
from s3sessions.testing import InMemoryObjectStore

from .conftest import TALLY, memory_manager, saved, turn


def circular_list() -> Any:
    value: list[Any] = ["loop"]
    value.append(value)
    return value


def circular_dict() -> Any:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


def circular_pair() -> Any:
    first: dict[str, Any] = {"name": "a"}
    second: dict[str, Any] = {"name": "b", "other": first}
    first["other"] = second
    return first


def circular_through_tuple() -> Any:
    inner: list[Any] = []
    outer = (inner,)
    inner.append(outer)
    return {"role": "user", "content": outer}


def deep_list(depth: int, leaf: Any = "leaf") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


POISON: dict[str, Callable[[], Any]] = {
    "circular-list": circular_list,
    "circular-dict": circular_dict,
    "circular-pair": circular_pair,
    "circular-through-tuple": circular_through_tuple,
    "deep-list-max+1": lambda: deep_list(MAX_NESTING + 1),
    "deep-dict-max+1": lambda: deep_dict(MAX_NESTING + 1),
    "deep-255": lambda: {"role": "user", "content": deep_list(255)},
    "deep-5000": lambda: deep_list(5000),
    "deep-100000": lambda: deep_list(100_000),
    "nan": lambda: {"role": "user", "score": math.nan},
    "inf": lambda: {"role": "user", "score": math.inf},
    "minus-inf-nested": lambda: {"role": "user", "content": [{"x": [-math.inf]}]},
    "int-4400-digits": lambda: {"role": "user", "n": 10**4400},
    "int-5000-digits-negative": lambda: {"role": "user", "n": -(10**5000)},
    "int-100000-digits": lambda: [10**100_000],
    "lone-surrogate-value": lambda: {"role": "user", "content": "a\ud800b"},
    "lone-surrogate-key": lambda: {"role": "user", "\udfff": 1},
    "lone-surrogate-deep": lambda: {"role": "user", "content": [{"text": ["\udc80"]}]},
    "bytes": lambda: {"role": "user", "content": b"raw"},
    "set": lambda: {"role": "user", "content": {1, 2}},
    "object": lambda: {"role": "user", "content": object()},
    "complex": lambda: {"role": "user", "content": 1j},
    "datetime": lambda: {"role": "user", "at": datetime(2026, 1, 1)},
    "int-key": lambda: {"role": "user", 1: "one"},
    "tuple-key": lambda: {"role": "user", (1, 2): "pair"},
    "none-key": lambda: {None: "x"},
}
PLACEMENTS = ("new-message", "state", "nested-in-message", "edited-old-message")
HEAVY = {"circular-list", "circular-dict", "circular-pair", "circular-through-tuple", "deep-5000", "deep-100000"}


def place(session: Session, placement: str, value: Any) -> None:
    """Puts a poison value into a session the way a caller would (appending or assigning: unvalidated)."""
    if placement == "new-message":
        session.messages.extend(turn("poisoned"))
        session.messages.append(value)
    elif placement == "state":
        session.state = value
    elif placement == "nested-in-message":
        session.messages.append({"role": "user", "content": [{"type": "text", "text": "hi", "extra": value}]})
    else:
        first = session.messages[0]
        assert isinstance(first, dict)
        first["content"] = value


async def warm_manager(store: InMemoryObjectStore) -> tuple[S3SessionManager, Session]:
    """A manager whose manifest is loaded and which holds session ``held`` (saved by itself)."""
    manager = memory_manager(store)
    held = await saved(manager, "held", 4)
    return manager, held


async def refused(
    manager: S3SessionManager, store: InMemoryObjectStore, session: Session, *, heavy: bool, writes_only: bool = False
) -> None:
    """Saves ``session``: it must be InvalidInput, at once, bounded in memory, and make no request (or no write)."""
    before_requests = len(store.requests)
    before_keys = store.keys()
    if heavy:
        tracemalloc.start()
    started = time.perf_counter()
    TALLY["operations"] += 1
    try:
        with pytest.raises(InvalidInput):
            await manager.save(session)
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if heavy else 0
        if heavy:
            tracemalloc.stop()
    assert elapsed < 2.0, f"refusing took {elapsed:.2f} s"
    assert peak < 64 * 1024 * 1024, f"refusing allocated {peak / 2**20:.0f} MiB"
    made = store.requests[before_requests:]
    if writes_only:
        assert not [op for op, _ in made if op not in {"GetObject", "HeadObject", "ListObjectsV2"}], made
    else:
        assert made == [], f"requests before the refusal: {made}"
    assert store.keys() == before_keys


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("poison", sorted(POISON))
async def test_a_poison_value_in_a_new_session_is_refused_before_any_request(poison, placement):
    store = InMemoryObjectStore()
    manager, _ = await warm_manager(store)
    session = Session(metadata=SessionMetadata(id="fresh"), messages=turn("a") + turn("b"))
    place(session, placement, POISON[poison]())
    await refused(manager, store, session, heavy=poison in HEAVY)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("poison", sorted(POISON))
async def test_a_poison_value_in_an_update_is_refused_before_any_request(poison, placement):
    store = InMemoryObjectStore()
    manager, held = await warm_manager(store)
    place(held, placement, POISON[poison]())
    await refused(manager, store, held, heavy=poison in HEAVY)
    assert (await memory_manager(store).resume("held")).messages[0] == turn("held-0")[0]


@pytest.mark.parametrize("poison", sorted(POISON))
async def test_a_poison_value_saved_through_another_manager_writes_nothing(poison):
    """A manager that never read the session may read its head, but must write nothing."""
    store = InMemoryObjectStore()
    _, held = await warm_manager(store)
    other = memory_manager(store)
    await other.list()
    place(held, "new-message", POISON[poison]())
    await refused(other, store, held, heavy=poison in HEAVY, writes_only=True)


@pytest.mark.parametrize("poison", ["circular-dict", "deep-5000", "nan", "int-5000-digits-negative", "bytes"])
async def test_a_poison_value_on_a_cold_manager_is_refused_before_any_request(poison):
    store = InMemoryObjectStore()
    session = Session(metadata=SessionMetadata(id="fresh"), messages=turn("a"))
    place(session, "new-message", POISON[poison]())
    await refused(memory_manager(store), store, session, heavy=poison in HEAVY)


# ------------------------------------------------------------------------------------------------ finding 6


def oversize_layouts(cap: int) -> dict[str, Callable[[], Session]]:
    big: JsonValue = {"role": "tool", "content": "x" * (cap + 1000)}
    just_over: JsonValue = {
        "role": "tool",
        "content": "y" * (cap - 20),
    }  # fits the cap alone, not inside a segment object
    history = [message for index in range(24) for message in turn(f"h{index}", 40)]
    return {
        "big-message-last": lambda: Session(metadata=SessionMetadata(id="big"), messages=[*history, big]),
        "big-message-first": lambda: Session(metadata=SessionMetadata(id="big"), messages=[big, *history]),
        "big-message-middle": lambda: Session(
            metadata=SessionMetadata(id="big"), messages=[*history[:20], big, *history[20:]]
        ),
        "message-filling-the-cap": lambda: Session(metadata=SessionMetadata(id="big"), messages=[*history, just_over]),
        "big-state": lambda: Session(metadata=SessionMetadata(id="big"), messages=history, state={"blob": "z" * cap}),
        "many-tags-and-big-state": lambda: Session(
            metadata=SessionMetadata(id="big", tags=[f"{index:02d}" + "t" * 60 for index in range(64)]),
            messages=history,
            state="s" * (cap - 3000),
        ),
    }


CAP = 32 * 1024
LIMITS = {"max_object_bytes": CAP, "tail_bytes": 2048, "segment_bytes": 8192}


@pytest.mark.parametrize("layout", sorted(oversize_layouts(CAP)))
async def test_every_size_limit_is_checked_before_the_first_request(layout):
    """Finding 6: the other new segments are never uploaded before an oversize object is refused."""
    store = InMemoryObjectStore()
    manager = memory_manager(store, **LIMITS)
    await manager.save(Session(metadata=SessionMetadata(id="warm"), messages=turn("w")))
    await refused(manager, store, oversize_layouts(CAP)[layout](), heavy=False)
    # ... and as an update of a session this manager holds, with new segments to seal before the big one
    held = Session(metadata=SessionMetadata(id="held"), messages=turn("h"))
    await manager.save(held)
    grown = oversize_layouts(CAP)[layout]()
    held.messages.extend(grown.messages)
    held.state = grown.state
    held.metadata.tags = grown.metadata.tags
    await refused(manager, store, held, heavy=False)


async def test_an_oversize_message_on_a_cold_manager_is_refused_before_any_request():
    store = InMemoryObjectStore()
    await refused(memory_manager(store, **LIMITS), store, oversize_layouts(CAP)["big-message-last"](), heavy=False)


# ----------------------------------------------------------------------------------------- bad arguments


BAD_IDS: list[Any] = [
    "",
    ".",
    "..",
    "a/b",
    "../x",
    "x" * 201,
    "a\x00",
    "é",
    " ",
    "a b",
    "\ud800",
    None,
    5,
    b"id",
    ["a"],
]
BAD_NAMES: list[Any] = ["", "x" * 257, "\x1b[31mred", "a\nb", "\ud800", "\u202eevil", "\x00", 5, b"x"]
BAD_TAGS: list[Any] = [
    "solo",
    [""],
    ["x" * 65],
    ["\x00"],
    [5],
    [f"t{index}" for index in range(65)],
    None,
    ["\ud800"],
    ["\x1b[2J"],
]
BAD_TAG_FILTERS: list[Any] = ["", "x" * 65, "\x00", 5, "\ud800", "\x1b[2J"]
BAD_TURN_TYPES: list[Any] = [True, 1.5, "0", None, [0]]
BAD_LAST_TURNS: list[Any] = [-1, True, 1.5, "1"]
BAD_LIMITS: list[Any] = [0, -1, 1001, True, "10", None]
BAD_CURSORS: list[Any] = ["", "abc", "0000000000000~../x", "9" * 14 + "~a", 5]
BAD_VERSIONS: list[Any] = ["", None, 5, "v" * 1025]


def bad_calls() -> dict[str, Callable[[S3SessionManager], Any]]:
    # ``...``: each lambda binds its bad value as a default argument (``b=bad``), and mypy cannot infer a lambda
    # with more parameters than its Callable context; the return type is the precise one
    calls: dict[str, Callable[..., Any]] = {}
    for index, bad in enumerate(BAD_IDS):
        calls[f"resume-id-{index}"] = lambda m, b=bad: m.resume(b)
        calls[f"delete-id-{index}"] = lambda m, b=bad: m.delete(b)
        calls[f"fork-id-{index}"] = lambda m, b=bad: m.fork(b)
        calls[f"rewind-id-{index}"] = lambda m, b=bad: m.rewind(b, 0)
        calls[f"tag-id-{index}"] = lambda m, b=bad: m.tag(b, ["ok"])
        calls[f"rename-id-{index}"] = lambda m, b=bad: m.rename(b, "ok")
        calls[f"update-id-{index}"] = lambda m, b=bad: m.update(b, lambda s: None)
    for index, bad in enumerate(BAD_NAMES):
        calls[f"rename-{index}"] = lambda m, b=bad: m.rename("held", b)
        calls[f"fork-name-{index}"] = lambda m, b=bad: m.fork("held", b)
    for index, bad in enumerate(BAD_TAGS):
        calls[f"tag-{index}"] = lambda m, b=bad: m.tag("held", b)
    for index, bad in enumerate(BAD_TAG_FILTERS):
        calls[f"list-tag-{index}"] = lambda m, b=bad: m.list(tag=b)
        calls[f"page-tag-{index}"] = lambda m, b=bad: m.list_page(tag=b)
    for index, bad in enumerate(BAD_TURN_TYPES):
        calls[f"rewind-type-{index}"] = lambda m, b=bad: m.rewind("held", b)
    for index, bad in enumerate(BAD_LAST_TURNS):
        calls[f"last-turns-{index}"] = lambda m, b=bad: m.resume("held", last_turns=b)
    for index, bad in enumerate(BAD_LIMITS):
        calls[f"page-limit-{index}"] = lambda m, b=bad: m.list_page(limit=b)
    for index, bad in enumerate(BAD_CURSORS):
        calls[f"page-cursor-{index}"] = lambda m, b=bad: m.list_page(cursor=b)
    for index, bad in enumerate(BAD_VERSIONS):
        calls[f"restore-{index}"] = lambda m, b=bad: m.restore("held", b)
    calls["update-attempts-0"] = lambda m: m.update("held", lambda s: None, attempts=0)
    return calls


BAD_CALLS = bad_calls()


async def assert_refused(call: Callable[[S3SessionManager], Any], *, reads_allowed: bool = False) -> None:
    store = InMemoryObjectStore()
    manager, _ = await warm_manager(store)
    before_keys = store.keys()
    before = len(store.requests)
    TALLY["operations"] += 1
    with pytest.raises(InvalidInput):
        await call(manager)
    made = store.requests[before:]
    if reads_allowed:
        assert not [op for op, _ in made if op not in {"GetObject", "HeadObject"}], made
    else:
        assert made == [], f"requests before the refusal: {made}"
    assert store.keys() == before_keys


@pytest.mark.parametrize("call", sorted(BAD_CALLS))
async def test_a_bad_argument_is_refused_before_any_request(call):
    await assert_refused(BAD_CALLS[call])


@pytest.mark.parametrize("turn_index", [4, 10**100])
async def test_a_turn_index_past_the_last_turn_is_refused_without_a_write(turn_index):
    """Only the head knows the turn count: a read is allowed, a write never."""
    await assert_refused(lambda m: m.rewind("held", turn_index), reads_allowed=True)


@pytest.mark.parametrize("turn_index", [-1, -(10**100)])
async def test_a_negative_turn_index_is_refused_before_any_request(turn_index):
    await assert_refused(lambda m: m.rewind("held", turn_index))


@pytest.mark.parametrize(
    "mutate",
    [
        "id-bypassing-validation",
        "tag-appended",
        "name-bypassing-validation",
        "agent-bypassing-validation",
        "tokens-negative",
        "parent-traversal",
    ],
)
async def test_metadata_changed_behind_validation_is_refused_before_any_request(mutate):
    store = InMemoryObjectStore()
    manager, held = await warm_manager(store)
    metadata = held.metadata
    if mutate == "id-bypassing-validation":
        object.__setattr__(metadata, "id", "../../etc")
    elif mutate == "tag-appended":
        metadata.tags.append("\x1b[31m")
    elif mutate == "name-bypassing-validation":
        object.__setattr__(metadata, "name", "a\x1bb")
    elif mutate == "agent-bypassing-validation":
        object.__setattr__(metadata, "agent_name", "")
    elif mutate == "tokens-negative":
        object.__setattr__(metadata, "total_tokens", -1)
    else:
        object.__setattr__(metadata, "parent_id", "../x")
    await refused(manager, store, held, heavy=False)


@pytest.mark.parametrize("created_at", [math.nan, math.inf, -5.0])
async def test_a_created_at_changed_behind_validation_is_invalid_input(created_at):
    store = InMemoryObjectStore()
    manager, _ = await warm_manager(store)
    metadata = SessionMetadata.model_construct(**{**SessionMetadata(id="ctor").model_dump(), "created_at": created_at})
    await refused(manager, store, Session(metadata=metadata, messages=turn("c")), heavy=False)


# ---------------------------------------------------------------------------------- the nesting bound (5)


async def test_the_nesting_bound_is_exactly_max_nesting_on_write_and_read():
    """A value nested exactly `MAX_NESTING` levels is stored and read back whole; one level more is refused."""
    manager = memory_manager()
    at_bound = {
        "role": "user",
        "content": deep_list(MAX_NESTING - 1),
    }
    session = Session(
        metadata=SessionMetadata(id="deep"), messages=[*turn("a"), at_bound], state=deep_dict(MAX_NESTING)
    )
    await manager.save(session)
    session.messages.extend(turn("b", 300))
    await manager.save(session)  # seals the deep message into a segment
    back = await memory_manager(manager.store).resume("deep")
    assert back.messages == session.messages and back.state == session.state
    fork = await manager.fork("deep")
    assert (await manager.resume(fork.id)).messages == session.messages
    assert (await manager.rewind("deep", 0)).messages == session.messages[:2]
    too_deep = Session(
        metadata=SessionMetadata(id="deeper"), messages=[{"role": "user", "content": deep_list(MAX_NESTING)}]
    )
    with pytest.raises(InvalidInput):
        await manager.save(too_deep)
    TALLY["operations"] += 7


def at_stack_depth(free_frames: int, function: Callable[[], Any]) -> Any:
    """Calls ``function`` with only ``free_frames`` frames left below Python's recursion limit."""

    def descend(remaining: int) -> Any:
        return function() if remaining <= 0 else descend(remaining - 1)

    return descend(sys.getrecursionlimit() - free_frames - len(inspect.stack(0)))


async def every_operation(manager: S3SessionManager, depth: int) -> list[str]:
    """Runs each operation on a session holding a value nested ``depth`` levels; returns what failed."""
    session = Session(
        metadata=SessionMetadata(id="stack"),
        messages=[*turn("s"), {"role": "user", "content": deep_list(depth - 1)}],
        state=deep_dict(depth),
    )

    def save_after_append() -> Awaitable[Any]:
        session.messages.extend(turn("t"))
        return manager.save(session)

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("save", lambda: manager.save(session)),
        ("save-again-unchanged", lambda: manager.save(session)),
        ("save-after-append", save_after_append),
        ("resume", lambda: manager.resume("stack")),
        ("resume-fresh-manager", lambda: memory_manager(manager.store).resume("stack")),
        ("tag", lambda: manager.tag("stack", ["x"])),
        ("rewind", lambda: manager.rewind("stack", 0)),
        ("fork", lambda: manager.fork("stack")),
        ("list", lambda: manager.list()),
        ("reindex", lambda: manager.reindex()),
        ("fsck", lambda: fsck(manager, repair=True, grace_seconds=0, now=LATER)),
        ("update", lambda: manager.update("stack", lambda s: s.messages.extend(turn("u")))),
        ("delete", lambda: manager.delete("stack")),
    ]
    failed = []
    for name, step in steps:
        TALLY["operations"] += 1
        try:
            await step()
        except RecursionError:
            failed.append(f"{name}: RecursionError")
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}"[:200])
    return failed


FREE_FRAMES = 100


def test_the_library_itself_runs_within_100_frames_of_the_recursion_limit():
    """The control for the next test: with a shallow value, every operation works this close to the limit."""
    failed = at_stack_depth(FREE_FRAMES, lambda: asyncio.run(every_operation(memory_manager(), 1)))
    assert failed == []


def test_a_value_at_the_nesting_bound_needs_no_python_stack():
    """Finding 5: whatever the caller's stack depth, the nesting bound is the same (no RecursionError)."""
    failed = at_stack_depth(FREE_FRAMES, lambda: asyncio.run(every_operation(memory_manager(), MAX_NESTING)))
    assert failed == []
