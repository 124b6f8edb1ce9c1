"""Forced interleavings of two clients for each pair of operations that can race (findings 2, 3 and 9): client A
is parked before (or after) its n-th request, for every n, while client B runs to the end; then A finishes.
Afterwards every acknowledged write is whole (resume never raises CorruptObject), a delete is never undone by a
repair, and ``fsck --repair`` leaves a clean prefix.

Counts: 9 races (save/delete, create/delete, fsck/retried save, reindex/delete and fsck/delete each with a
missing entry and with a stale duplicate, fork/delete, rewind/save); save/delete, create/delete and reindex/delete
again on Ceph RGW's dialect and on a versioned bucket; a crashed delete finished (by fsck --repair, or by deleting
again) while the id is created again, on all three dialects: each x both roles x (before, after) x every request
of the parked client. Plus create/delete over an undecodable head, 3 variants of fsck --repair against a save in
flight (grace, clock skew) and the re-creation by a slower clock: 706 interleavings on the in-memory store (about
3,700 operations, each race followed by fsck, fsck --repair and fsck); 3 races over HTTP against moto: 23
interleavings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import LATER

from s3sessions import (
    CorruptObject,
    InvalidInput,
    S3SessionManager,
    Session,
    SessionMetadata,
    SessionNotFound,
)
from s3sessions.admin.fsck import MIN_GRACE_SECONDS, fsck
from s3sessions.storage.s3 import S3ObjectStore
from s3sessions.testing import InMemoryObjectStore
from s3sessions.testing.conformance import SettableClock

from .conftest import (
    BUCKET,
    DIALECTS,
    PREFIX,
    SMALL,
    TALLY,
    Interleaving,
    PausingStore,
    clock_store,
    index_keys,
    interleave,
    leftovers,
    memory_manager,
    saved,
    turn,
    turns,
)

X = "x"


class Crash(BaseException):
    """The process died (a BaseException: no ``except Exception`` in the library can swallow it)."""


class CrashOnHeadPut:
    """Delegates to a store; the first PUT of a head key raises `Crash` before it is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        if self.armed and key.endswith("/head.json.zst"):
            self.armed = False
            raise Crash(key)
        return str(await self.inner.put(key, body, **kwargs))


Operation = Callable[[], Awaitable[Any]]
"""One side of a race (its result is whatever the operation returns)."""


@dataclass
class World:
    """One race: the shared store, the parked client's gate, the two operations, and what to check after."""

    store: Any
    gate: PausingStore
    first: Operation
    second: Operation
    check: Callable[[Interleaving], Awaitable[None]]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def explore(setup: Callable[[str], Awaitable[World]], role: str, when: str, *, limit: int = 60) -> int:
    """Parks the first client at each of its requests in turn (until it no longer reaches one); returns how many
    interleavings ran."""
    for pause_at in range(1, limit + 1):
        world = await setup(role)
        result = await interleave(world.gate, world.first, world.second, pause_at, when)
        if not result.reached:
            assert pause_at > 1, "the parked client made no request at all"
            return pause_at - 1
        try:
            await world.check(result)
        except AssertionError as exc:
            parked = world.gate.calls[pause_at - 1 : pause_at]
            raise AssertionError(f"{role}, parked {when} request {pause_at} {parked}: {exc}") from exc
        finally:
            for close in world.closers:
                await close()
    raise AssertionError(f"the parked client made more than {limit} requests")


async def settled(store: Any, *, now: float = LATER, grace: float = 0, prefix: str = PREFIX) -> S3SessionManager:
    """After the race: every live head resumes whole, fsck finds nothing torn, and --repair leaves it clean."""
    manager = S3SessionManager(store=store, prefix=prefix, **SMALL)
    for metadata in await manager.list():
        with contextlib.suppress(SessionNotFound):
            await manager.resume(metadata.id)
    report = await fsck(manager, grace_seconds=grace, now=now)
    assert not report.missing_segments and not report.corrupt, report.summary()
    await fsck(manager, repair=True, grace_seconds=grace, now=now)
    after = await fsck(manager, grace_seconds=grace, now=now)
    assert after.clean, after.summary()
    TALLY["operations"] += 4
    return manager


def kind(result: tuple[str, Any]) -> str:
    return "ok" if result[0] == "ok" else type(result[1]).__name__


# ------------------------------------------------------------------------------------------- save/delete


def save_delete(dialect: str = "s3") -> Callable[[str], Awaitable[World]]:
    async def setup(role: str) -> World:
        store = DIALECTS[dialect]()
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        saver, deleter = (parked, free) if role == "save parked" else (free, parked)
        held = await saved(saver, X, 6)
        held.messages.extend(turns("new", 3, 60))  # seals a new segment

        async def check(result: Interleaving) -> None:
            save, delete = (result.a, result.b) if role == "save parked" else (result.b, result.a)
            assert kind(save) in {"ok", "ConflictError", "SessionNotFound"}, save
            assert kind(delete) == "ok", delete
            with pytest.raises(SessionNotFound):  # an acknowledged delete of the only incarnation
                await memory_manager(store).resume(X)
            await settled(store)
            assert await leftovers(store, X) == [] and index_keys(store, X) == []

        first: Operation
        second: Operation
        first, second = (lambda: saver.save(held), lambda: deleter.delete(X))
        if role != "save parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# ----------------------------------------------------------------------------------------- create/delete


def create_delete(*, damaged_head: bool, dialect: str = "s3") -> Callable[[str], Awaitable[World]]:
    """Finding 2: a delete racing a re-create of the same id never tears the new session."""

    async def setup(role: str) -> World:
        store = DIALECTS[dialect]()
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        creator, deleter = (parked, free) if role == "create parked" else (free, parked)
        await saved(free, X, 6)
        if damaged_head:
            await store.put(f"{PREFIX}sessions/{X}/head.json.zst", b"damaged")
        fresh = Session(metadata=SessionMetadata(id=X, name="re-created"), messages=turns("re", 8, 60))
        expected = list(fresh.messages)

        async def check(result: Interleaving) -> None:
            create, delete = (result.a, result.b) if role == "create parked" else (result.b, result.a)
            assert kind(create) in {"ok", "ConflictError", "CorruptObject"}, create
            assert kind(delete) in {"ok", "SessionNotFound"}, delete
            try:
                now = await memory_manager(store).resume(X)
            except SessionNotFound:
                now = None
            except CorruptObject as exc:
                raise AssertionError(
                    f"create {kind(create)}, delete {kind(delete)}: the session is torn: {exc}"
                ) from exc
            if now is not None:
                assert kind(create) == "ok" and now.messages == expected and now.metadata.name == "re-created"
            elif kind(delete) == "ok" and kind(create) == "ok":
                pass  # the delete came second (it deleted the new incarnation): allowed
            await settled(store)

        first: Operation
        second: Operation
        first, second = (lambda: creator.save(fresh), lambda: deleter.delete(X))
        if role != "create parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# ------------------------------------------------------------------------------------ fsck / retried save


def fsck_retried_save() -> Callable[[str], Awaitable[World]]:
    """Finding 3: a save died after uploading its segments; it is retried two hours later while fsck --repair
    (default grace) runs. fsck's earlier LIST saw the dead save's uploads as old orphans."""

    async def setup(role: str) -> World:
        store, clock = clock_store()
        crashing = CrashOnHeadPut(store)
        dying = memory_manager(crashing)
        held = await saved(memory_manager(store), X, 6)
        held = await dying.resume(X)
        held.messages.extend(turns("retried", 3, 60))
        with pytest.raises(Crash):
            await dying.save(held)
        clock.now += 7200  # the retry comes after the grace period
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        saver, checker = (parked, free) if role == "save parked" else (free, parked)
        expected = list(held.messages)

        async def check(result: Interleaving) -> None:
            save = result.a if role == "save parked" else result.b
            assert kind(save) == "ok", save
            back = await memory_manager(store).resume(X)  # never CorruptObject
            assert back.messages == expected
            await settled(store, now=clock.now + 7200)

        first: Callable[[], Awaitable[Any]] = lambda: saver.save(held)  # noqa: E731
        second: Callable[[], Awaitable[Any]] = lambda: fsck(checker, repair=True, now=clock.now)  # noqa: E731
        if role != "save parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# ------------------------------------------------------------------- finishing a delete / re-create (2, 8)


class CrashAfterTombstone:
    """Delegates to a store; the delete's first clean-up request raises `Crash` (its tombstone has landed)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if self.armed and name in {"list_versions", "delete_keys"}:

            async def crash(*args: Any, **kwargs: Any) -> Any:
                self.armed = False
                raise Crash("after the tombstone")

            return crash
        return attribute


def finish_create(finisher: str, dialect: str) -> Callable[[str], Awaitable[World]]:
    """A delete died after its tombstone; fsck --repair (default grace) or a retried delete finishes it while
    the id is created again. The acknowledged re-creation must be whole."""

    async def setup(role: str) -> World:
        store = DIALECTS[dialect]()
        free = memory_manager(store)
        await saved(free, X, 6)
        with pytest.raises(Crash):
            await memory_manager(CrashAfterTombstone(store)).delete(X)
        gate = PausingStore(store)
        parked = memory_manager(gate)
        fresh = Session(metadata=SessionMetadata(id=X, name="re-created"), messages=turns("re", 8, 60))
        expected = list(fresh.messages)
        fixer, creator = (parked, free) if role == "finisher parked" else (free, parked)

        async def finish() -> Any:
            return await (fsck(fixer, repair=True) if finisher == "fsck" else fixer.delete(X))

        async def check(result: Interleaving) -> None:
            create, done = (result.b, result.a) if role == "finisher parked" else (result.a, result.b)
            assert kind(done) in {"ok", "SessionNotFound"}, done
            try:
                now = await memory_manager(store).resume(X)
            except SessionNotFound:
                now = None
            except CorruptObject as exc:
                raise AssertionError(f"the re-creation is torn: {exc}") from exc
            if kind(create) == "ok" and (finisher == "fsck" or now is not None):
                assert now is not None and now.messages == expected
            await settled(store)

        first, second = finish, (lambda: creator.save(fresh))
        if role != "finisher parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# -------------------------------------------------------------------------------- reindex, fsck / delete


def repair_delete(repair: str, index_state: str, dialect: str = "s3") -> Callable[[str], Awaitable[World]]:
    """Finding 9: a repair racing a delete never puts the deleted session back in the index."""

    async def setup(role: str) -> World:
        store = DIALECTS[dialect]()
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        repairer, deleter = (parked, free) if role == "repair parked" else (free, parked)
        await saved(free, X, 4)
        await saved(free, "y", 2)
        if index_state == "entry missing":
            await store.delete_keys(index_keys(store, X))
        else:  # a stale duplicate survived: the entry of an older head is back
            (old,) = index_keys(store, X)
            await free.tag(X, ["newer"])
            await store.put(old, b"")

        async def run_repair() -> Any:
            return await (
                repairer.reindex() if repair == "reindex" else fsck(repairer, repair=True, grace_seconds=0, now=LATER)
            )

        async def check(result: Interleaving) -> None:
            delete = result.b if role == "repair parked" else result.a
            assert kind(delete) == "ok", delete
            listed = {m.id for m in await memory_manager(store).list()}
            assert X not in listed, f"the deleted session is listed again: {index_keys(store, X)}"
            assert "y" in listed or role == "repair parked"
            await settled(store)
            assert X not in {m.id for m in await memory_manager(store).list()}

        first, second = run_repair, lambda: deleter.delete(X)
        if role != "repair parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# ------------------------------------------------------------------------------------------- fork/delete


def fork_delete() -> Callable[[str], Awaitable[World]]:
    async def setup(role: str) -> World:
        store = InMemoryObjectStore()
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        forker, deleter = (parked, free) if role == "fork parked" else (free, parked)
        source = await saved(free, X, 8)

        async def check(result: Interleaving) -> None:
            fork, delete = (result.a, result.b) if role == "fork parked" else (result.b, result.a)
            assert kind(delete) == "ok", delete
            assert kind(fork) in {"ok", "SessionNotFound"}, fork
            if fork[0] == "ok":
                copy = await memory_manager(store).resume(fork[1].id)  # never CorruptObject
                assert copy.messages == source.messages and copy.metadata.parent_id == X
            await settled(store)

        first: Operation
        second: Operation
        first, second = (lambda: forker.fork(X)), (lambda: deleter.delete(X))
        if role != "fork parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


# ------------------------------------------------------------------------------------------- rewind/save


def rewind_save() -> Callable[[str], Awaitable[World]]:
    async def setup(role: str) -> World:
        store = InMemoryObjectStore()
        gate = PausingStore(store)
        parked, free = memory_manager(gate), memory_manager(store)
        rewinder, saver = (parked, free) if role == "rewind parked" else (free, parked)
        original = await saved(free, X, 8)
        held = await saver.resume(X)
        held.messages.extend(turns("appended", 2, 60))
        grown = list(held.messages)

        async def check(result: Interleaving) -> None:
            rewind, save = (result.a, result.b) if role == "rewind parked" else (result.b, result.a)
            assert kind(rewind) == "ok", rewind
            assert kind(save) in {"ok", "ConflictError"}, save
            now = await memory_manager(store).resume(X)
            assert now.messages == original.messages[:4], "rewind keeps turns 0..1 of whatever head it cut"
            if kind(save) == "ok":  # the save came first: the rewind cut the newer head
                assert grown[:4] == now.messages
            await settled(store)

        first: Operation
        second: Operation
        first, second = (lambda: rewinder.rewind(X, 1)), (lambda: saver.save(held))
        if role != "rewind parked":
            first, second = second, first
        return World(store, gate, first, second, check)

    return setup


PAIRS: dict[str, tuple[Callable[[str], Awaitable[World]], tuple[str, str]]] = {
    "save/delete": (save_delete(), ("save parked", "delete parked")),
    "create/delete": (create_delete(damaged_head=False), ("create parked", "delete parked")),
    "fsck/retried-save": (fsck_retried_save(), ("save parked", "fsck parked")),
    "reindex/delete (entry missing)": (repair_delete("reindex", "entry missing"), ("repair parked", "delete parked")),
    "reindex/delete (stale duplicate)": (
        repair_delete("reindex", "stale duplicate"),
        ("repair parked", "delete parked"),
    ),
    "fsck/delete (entry missing)": (repair_delete("fsck", "entry missing"), ("repair parked", "delete parked")),
    "fsck/delete (stale duplicate)": (repair_delete("fsck", "stale duplicate"), ("repair parked", "delete parked")),
    "fork/delete": (fork_delete(), ("fork parked", "delete parked")),
    "rewind/save": (rewind_save(), ("rewind parked", "save parked")),
}
for _dialect in ("s3", "rgw", "versioned"):
    for _finisher in ("fsck", "delete"):
        PAIRS[f"{_finisher} finishing a delete/create on {_dialect}"] = (
            finish_create(_finisher, _dialect),
            ("finisher parked", "create parked"),
        )
for _dialect in ("rgw", "versioned"):
    PAIRS[f"save/delete on {_dialect}"] = (save_delete(_dialect), ("save parked", "delete parked"))
    PAIRS[f"create/delete on {_dialect}"] = (
        create_delete(damaged_head=False, dialect=_dialect),
        ("create parked", "delete parked"),
    )
    PAIRS[f"reindex/delete on {_dialect}"] = (
        repair_delete("reindex", "entry missing", _dialect),
        ("repair parked", "delete parked"),
    )


def pair_params() -> list[Any]:
    return [
        pytest.param(name, role, when, id=f"{name}-{role}-{when}")
        for name, (_, roles) in PAIRS.items()
        for role in roles
        for when in ("before", "after")
    ]


@pytest.mark.parametrize(("pair", "role", "when"), pair_params())
async def test_two_clients_at_every_interleaving(pair, role, when):
    setup, _ = PAIRS[pair]
    assert await explore(setup, role, when) > 0


@pytest.mark.parametrize("when", ["before", "after"])
async def test_deleting_an_undecodable_session_never_tears_its_re_creation(when):
    assert await explore(create_delete(damaged_head=True), "create parked", when) > 0


# ----------------------------------------------------------------------- fsck against a save in flight (3)


@pytest.mark.parametrize(
    ("grace", "skew"),
    [
        pytest.param(3600, 0.0, id="default-grace"),
        pytest.param(60, 0.0, id="grace-below-the-upload-age"),
        pytest.param(3600, 7200.0, id="fsck-clock-two-hours-ahead"),
    ],
)
async def test_fsck_repair_never_deletes_what_a_save_in_flight_will_reference(grace, skew, monkeypatch):
    """The save is parked after each of its requests; meanwhile 61 s pass and fsck --repair runs, on the store's
    clock (fsck reads it from a scratch object). A grace below the upload age is refused; a machine clock that
    runs ahead (``time.time`` patched by ``skew``) plays no part."""
    import time as time_module

    real_time = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real_time() + skew)

    async def setup(role: str) -> World:
        store, clock = clock_store()
        await saved(memory_manager(store), X, 6)
        gate = PausingStore(store)
        saver = memory_manager(gate)
        held = await saver.resume(X)
        held.messages.extend(turns("inflight", 3, 60))
        expected = list(held.messages)

        async def later_fsck() -> Any:
            clock.now += 61
            if grace < MIN_GRACE_SECONDS:
                with pytest.raises(InvalidInput, match="below the 360 s minimum"):
                    await fsck(memory_manager(store), repair=True, grace_seconds=grace)
                return None
            return await fsck(memory_manager(store), repair=True, grace_seconds=grace)

        async def check(result: Interleaving) -> None:
            assert kind(result.a) == "ok", result.a
            try:
                back = await memory_manager(store).resume(X)
            except CorruptObject as exc:
                raise AssertionError(f"the acknowledged save is torn: {exc}") from exc
            assert back.messages == expected

        return World(store, gate, lambda: saver.save(held), later_fsck, check)

    assert await explore(setup, "save parked", "after") > 0


# ----------------------------------------------------------------------------- clocks of two machines (9)


async def test_a_re_creation_by_a_slower_clock_is_listed_whatever_the_first_creators_clock():
    """Finding 9: the first creator's clock ran a day ahead; its last index write lands after the session was
    deleted and re-created by a machine with the right clock. The index must show the re-creation."""
    store = InMemoryObjectStore()
    fast, slow = SettableClock(1_800_086_400.0), SettableClock(1_800_000_000.0)
    gate = PausingStore(store)
    ahead = memory_manager(gate, clock=fast)
    session = await saved(ahead, X, 3, name="first")
    session.messages.extend(turn("last"))
    others = memory_manager(store, clock=slow)

    async def delete_and_re_create() -> Any:
        await others.delete(X)
        return await others.save(Session(metadata=SessionMetadata(id=X, name="second"), messages=turn("again")))

    # park the fast creator's save after its head PUT, before its index entry PUT
    result = await interleave(
        gate,
        lambda: ahead.save(session),
        delete_and_re_create,
        None,
        "after",
        match=lambda method, key: method == "put" and key.endswith("/head.json.zst"),
    )
    assert result.reached and kind(result.b) == "ok"
    assert kind(result.a) == "ok"
    reader = memory_manager(store, clock=slow)
    listed = [m for m in await reader.list() if m.id == X]
    assert [m.name for m in listed] == ["second"], listed
    walked, cursor = [], None
    while True:
        page = await reader.list_page(limit=1, cursor=cursor)
        walked += [m.name for m in page.sessions if m.id == X]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert walked and set(walked) == {"second"}, walked
    await reader.reindex()
    assert [m.name for m in await reader.list() if m.id == X] == ["second"]
    TALLY["operations"] += 6


# --------------------------------------------------------------------------------------- over HTTP (moto)


def http_world(endpoint: str, serial: list[int]) -> tuple[Any, PausingStore, str]:
    """A fresh prefix on moto (no clearing between interleavings) and a gate around its store."""
    serial[0] += 1
    store = S3ObjectStore(BUCKET, endpoint_url=endpoint)
    return store, PausingStore(store), f"{PREFIX}{serial[0]}/"


@pytest.mark.parametrize("role", ["save parked", "delete parked"])
async def test_save_and_delete_over_http_at_every_interleaving(s3_endpoint, s3, role):
    serial = [0]

    async def setup(role: str) -> World:
        store, gate, prefix = http_world(s3_endpoint, serial)
        parked = S3SessionManager(store=gate, prefix=prefix, **SMALL)
        free = S3SessionManager(store=store, prefix=prefix, **SMALL)
        saver, deleter = (parked, free) if role == "save parked" else (free, parked)
        held = await saved(saver, X, 3)
        held.messages.extend(turns("new", 3, 60))

        async def check(result: Interleaving) -> None:
            save, delete = (result.a, result.b) if role == "save parked" else (result.b, result.a)
            assert kind(save) in {"ok", "ConflictError", "SessionNotFound"}, save
            assert kind(delete) == "ok", delete
            with pytest.raises(SessionNotFound):
                await free.resume(X)
            await settled(store, prefix=prefix)
            assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}sessions/{X}/").get("KeyCount") == 0

        first: Operation
        second: Operation
        first, second = (lambda: saver.save(held)), (lambda: deleter.delete(X))
        if role != "save parked":
            first, second = second, first
        return World(store, gate, first, second, check, [store.close])

    assert await explore(setup, role, "before") > 0


async def test_a_retried_save_and_fsck_over_http_at_every_interleaving(s3_endpoint, s3):
    """Finding 3 over HTTP: moto's LastModified is real time, so fsck is told the time is two hours later."""
    import time

    serial = [0]

    async def setup(role: str) -> World:
        store, gate, prefix = http_world(s3_endpoint, serial)
        free = S3SessionManager(store=store, prefix=prefix, **SMALL)
        await saved(free, X, 3)
        dying = S3SessionManager(store=CrashOnHeadPut(store), prefix=prefix, **SMALL)
        held = await dying.resume(X)
        held.messages.extend(turns("retried", 3, 60))
        with pytest.raises(Crash):
            await dying.save(held)
        checker = S3SessionManager(store=gate, prefix=prefix, **SMALL)
        expected = list(held.messages)
        later = time.time() + 7200

        async def check(result: Interleaving) -> None:
            assert kind(result.b) == "ok", result.b
            assert (await free.resume(X)).messages == expected
            report = await fsck(free, grace_seconds=0, now=later + 7200)
            assert not report.missing_segments and not report.corrupt, report.summary()

        return World(
            store, gate, lambda: fsck(checker, repair=True, now=later), lambda: free.save(held), check, [store.close]
        )

    assert await explore(setup, "fsck parked", "before") > 0
