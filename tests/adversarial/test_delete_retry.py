"""A delete that failed midway, or landed and then answered 500, is finished by deleting again (finding 8).

Every request of a delete is failed in turn, before it takes effect and after (landed, then 500), alone and
followed by a failure of the very next request (the settling read fails too: retries exhausted), on three store
dialects (S3, Ceph RGW, a versioned bucket). The caller then deletes again until it hears success or
SessionNotFound. Afterwards nothing of the session is left (no head, segment, version or index entry; on RGW a
cleaned tombstone), the bystander is untouched and fsck finds nothing to repair.

Counts: 3 dialects x 7 requests x 2 timings x 2 (single, double) = 84 faulted deletes (and their retries) on the
in-memory store, plus 12 deletes through the HTTP fault proxy at a 20% rate of 500s and dropped responses with
botocore's retries off (about 30 injected faults).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import LATER
from faults import FaultProxy

from s3sessions import AgentError, S3SessionManager, SessionNotFound, StorageError
from s3sessions.admin.fsck import fsck
from s3sessions.testing import InMemoryObjectStore

from .conftest import BUCKET, DIALECTS, PREFIX, SMALL, TALLY, index_keys, leftovers, memory_manager, saved

X, Y = "x", "y"


class Injector:
    """A fault plan for `InMemoryObjectStore`: fail request number ``at`` (and maybe the next) once armed."""

    def __init__(self) -> None:
        self.count = 0
        self.plan: dict[int, str] = {}
        self.seen: list[tuple[str, str]] = []

    def arm(self, plan: dict[int, str]) -> None:
        self.count = 0
        self.plan = plan
        self.seen = []

    def __call__(self, operation: str, key: str) -> Any:
        if not self.plan:
            return None
        self.count += 1
        self.seen.append((operation, key))
        when = self.plan.get(self.count)
        if when is None:
            return None
        TALLY["faults"] += 1
        return when, StorageError(f"injected 500 on {operation} ({when} it took effect)", key=key)


async def prepared(dialect: str) -> tuple[InMemoryObjectStore, Injector, S3SessionManager]:
    injector = Injector()
    store = DIALECTS[dialect]()
    store.faults = injector
    manager = memory_manager(store)
    await saved(manager, X, 6)
    await saved(manager, Y, 2)
    await manager.tag(X, ["t"])
    return store, injector, memory_manager(store)


async def requests_of_a_delete(dialect: str) -> int:
    _, injector, deleter = await prepared(dialect)
    injector.arm({10**9: "never"})
    await deleter.delete(X)
    return injector.count


async def assert_gone(store: InMemoryObjectStore, dialect: str) -> None:
    manager = memory_manager(store)
    with pytest.raises(SessionNotFound):
        await manager.resume(X)
    assert await leftovers(store, X) == []
    assert index_keys(store, X) == []
    assert (await manager.resume(Y)).metadata.turn_count == 2
    assert [m.id for m in await manager.list()] == [Y]
    report = await fsck(manager, grace_seconds=0, now=LATER)
    assert report.clean, report.summary()


def plans() -> list[Any]:
    params = []
    for dialect in DIALECTS:
        for when in ("before", "after"):
            for double in (False, True):
                params.append(
                    pytest.param(dialect, when, double, id=f"{dialect}-{when}-{'double' if double else 'single'}")
                )
    return params


@pytest.mark.parametrize(("dialect", "when", "double"), plans())
async def test_a_delete_that_failed_at_any_request_is_finished_by_deleting_again(dialect, when, double):
    total = await requests_of_a_delete(dialect)
    assert total >= 4
    for at in range(1, total + 1):
        store, injector, deleter = await prepared(dialect)
        plan = {at: when}
        if double:
            plan[at + 1] = "before"
        injector.arm(plan)
        TALLY["operations"] += 1
        try:
            await deleter.delete(X)
        except StorageError:
            pass
        except AgentError as exc:
            raise AssertionError(f"request {at} ({injector.seen[at - 1 : at]}) {when}: {exc!r}") from exc
        injector.arm({})
        for _ in range(3):  # the caller's retry
            TALLY["operations"] += 1
            try:
                await memory_manager(store).delete(X)
                break
            except SessionNotFound:
                break
        try:
            await assert_gone(store, dialect)
        except AssertionError as exc:
            raise AssertionError(f"request {at} {injector.seen[at - 1 : at]} failed {when}: {exc}") from exc


async def test_deletes_through_a_faulty_network_with_retries_off_are_finished_by_retrying(s3_endpoint):
    """The same in the terms of the finding: HTTP, botocore's retries off, 500s and responses lost after landing."""
    proxy = FaultProxy(s3_endpoint, rate=0.0, seed=8, kinds=("internal_error", "drop_after", "drop_before")).start()
    no_retries = {"retries": {"total_max_attempts": 1}, "read_timeout": 5, "connect_timeout": 5}
    try:
        async with (
            S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint, **SMALL) as clean,
            S3SessionManager(
                bucket=BUCKET, prefix=PREFIX, endpoint_url=proxy.endpoint_url, client_config=no_retries, **SMALL
            ) as faulty,
        ):
            ids = [f"d{index}" for index in range(12)]
            for session_id in [*ids, Y]:
                await saved(clean, session_id, 3)
            proxy.rate = 0.2
            for session_id in ids:
                for _attempt in range(40):
                    TALLY["operations"] += 1
                    try:
                        await faulty.delete(session_id)
                        break
                    except SessionNotFound:
                        break
                    except StorageError:
                        continue
                else:
                    raise AssertionError(f"{session_id}: 40 deletes through the proxy never finished")
            proxy.rate = 0.0
            TALLY["faults"] += sum(proxy.injected.values())
            assert sum(proxy.injected.values()) >= 10, proxy.injected
            listed = [m.id for m in await clean.list()]
            assert listed == [Y]
            for session_id in ids:
                with pytest.raises(SessionNotFound):
                    await clean.resume(session_id)
            report = await fsck(clean, grace_seconds=0, now=LATER)
            assert report.clean, report.summary()
    finally:
        proxy.stop()
