"""A long random workload through a proxy that breaks 20% of requests: every operation either succeeds or
raises an `AgentError`, and afterwards every session equals the reference model's view of the operations that
reported success. An operation that raised may or may not have happened, but never half: after each failure
the session read back (without faults) must equal the model either before or after that operation.

Size: ``S3SESSIONS_FAULT_OPERATIONS`` operations (default 90) for each of two seeds, the first
``S3SESSIONS_FAULT_SEED`` (default 7). botocore's retries are off, so that faults reach the library.
"""

from __future__ import annotations

import copy
import os
import random
from typing import Any

import pytest
from conftest import BUCKET, LATER
from faults import FaultProxy

from s3sessions import AgentError, InMemorySessionManager, S3SessionManager, Session, SessionMetadata
from s3sessions.admin.fsck import fsck
from s3sessions.admin.scan import scan_heads

OPERATIONS = int(os.environ.get("S3SESSIONS_FAULT_OPERATIONS", "90"))
SEED = int(os.environ.get("S3SESSIONS_FAULT_SEED", "7"))
SMALL: dict[str, Any] = {"tail_bytes": 700, "segment_bytes": 2500, "fanout": 4}


def content(session: Session) -> tuple[Any, ...]:
    m = session.metadata
    return (session.messages, session.state, m.name, m.tags, m.turn_count, m.parent_id is not None)


class Workload:
    """Drives the same operations into the faulty S3 manager and, when they succeed, the reference model."""

    def __init__(self, faulty: S3SessionManager, clean: S3SessionManager, rng: random.Random) -> None:
        self.faulty = faulty
        self.clean = clean
        self.model = InMemorySessionManager()
        self.rng = rng
        self.ids: dict[str, str] = {}  # s3 id -> model id
        self.held: dict[str, tuple[Session, Session]] = {}  # s3 id -> (s3 copy, model copy)
        self.failures = 0
        self.ambiguous_landed = 0

    def message(self, index: int) -> list[Any]:
        size = self.rng.choice([10, 100, 400])
        return [
            {"role": "user", "content": f"q{index} " + "word " * size},
            {"role": "assistant", "content": f"a{index} " + "reply " * size},
        ]

    async def model_state(self, model: InMemorySessionManager, model_id: str) -> tuple[Any, ...] | None:
        try:
            return content(await model.resume(model_id))
        except AgentError:
            return None

    async def s3_state(self, s3_id: str) -> tuple[Any, ...] | None:
        try:
            return content(await self.clean.resume(s3_id))
        except AgentError:
            return None

    async def step(self, index: int) -> None:
        live = sorted(self.ids)
        choice = self.rng.choice(
            ["create"] * 3 + ["save"] * 6 + ["fork", "rewind", "tag", "rename", "delete"] if live else ["create"]
        )
        s3_id = self.rng.choice(live) if live else ""
        if choice == "create":
            s3_id = f"s{index}"
            session = Session(metadata=SessionMetadata(id=s3_id, name=f"n{index}"), messages=self.message(index))
            s3_call: Any = lambda m: m.save(session.model_copy(deep=True))  # noqa: E731
            model_call: Any = lambda m: m.save(session.model_copy(deep=True))  # noqa: E731
            model_id = s3_id
        else:
            model_id = self.ids[s3_id]
            arguments: tuple[Any, ...] = ()
            if choice == "save":
                new = self.message(index)
                held_s3, held_model = self.held[s3_id]
                held_s3.messages.extend(new)
                held_model.messages.extend(copy.deepcopy(new))
                s3_call = lambda m: m.save(held_s3)  # noqa: E731
                model_call = lambda m: m.save(held_model)  # noqa: E731
            else:
                turns = (await self.model.resume(model_id)).metadata.turn_count
                arguments = {
                    "fork": (f"fork{index}",),
                    "rewind": (self.rng.randrange(max(turns, 1)),),
                    "tag": ([f"t{index % 3}"],),
                    "rename": (f"r{index}",),
                    "delete": (),
                }[choice]
                s3_call = lambda m: getattr(m, choice)(s3_id, *arguments)  # noqa: E731
                model_call = lambda m: getattr(m, choice)(model_id, *arguments)  # noqa: E731

        before_heads = set((await scan_heads(self.clean)).live) if choice == "fork" else set()
        try:
            result = await s3_call(self.faulty)
        except AgentError:
            self.failures += 1
            await self.settle_failure(choice, s3_id, model_id, model_call, before_heads)
            return
        model_result = await model_call(self.model)
        if choice == "create":
            self.ids[s3_id] = model_id
        elif choice == "fork":
            self.ids[result.id] = model_result.id
            await self.refresh(result.id)
        elif choice == "delete":
            self.ids.pop(s3_id, None)
            self.held.pop(s3_id, None)
        if choice in ("create", "rewind", "tag", "rename"):
            await self.refresh(s3_id)

    async def refresh(self, s3_id: str) -> None:
        """What an agent does after an error or a change it did not make: read the session again."""
        self.held[s3_id] = (await self.clean.resume(s3_id), await self.model.resume(self.ids[s3_id]))

    async def settle_failure(self, choice: str, s3_id: str, model_id: str, model_call: Any, heads: set[str]) -> None:
        """The failed operation happened entirely or not at all: find out which and bring the model along."""
        after_model = copy.deepcopy(self.model)
        try:
            after_result = await model_call(after_model)
            possible = True
        except AgentError:
            possible = False  # it would have failed anyway (e.g. a stale copy): nothing can have happened
        if choice == "fork":
            new_heads = set((await scan_heads(self.clean)).live) - heads
            assert len(new_heads) <= 1
            if new_heads:
                fork_id = new_heads.pop()
                assert await self.s3_state(fork_id) == await self.model_state(after_model, after_result.id)
                self.model = after_model
                self.ids[fork_id] = after_result.id
                self.ambiguous_landed += 1
                await self.refresh(fork_id)
            return
        now = await self.s3_state(s3_id)
        before = await self.model_state(self.model, model_id)
        after = await self.model_state(after_model, model_id)
        if now == before:
            pass
        else:
            assert possible and now == after, f"{choice} on {s3_id} left a torn session: {now}"
            self.model = after_model
            self.ambiguous_landed += 1
            if choice == "create":
                self.ids[s3_id] = model_id
            if choice == "delete":
                self.ids.pop(s3_id, None)
                self.held.pop(s3_id, None)
        if s3_id in self.ids:
            await self.refresh(s3_id)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [SEED, SEED + 1000])
async def test_random_workload_under_20_percent_faults_never_tears_a_session(s3_endpoint, seed):
    proxy = FaultProxy(s3_endpoint, rate=0.2, seed=seed).start()
    faulty_config = {"retries": {"mode": "standard", "total_max_attempts": 1}, "read_timeout": 1, "connect_timeout": 2}
    try:
        async with (
            S3SessionManager(
                BUCKET, "faults/", endpoint_url=proxy.endpoint_url, client_config=faulty_config, **SMALL
            ) as faulty,
            S3SessionManager(BUCKET, "faults/", endpoint_url=s3_endpoint, **SMALL) as clean,
        ):
            workload = Workload(faulty, clean, random.Random(seed))
            for index in range(OPERATIONS):
                await workload.step(index)
            proxy.enabled = False

            # Every session equals the model's view of what succeeded (or landed despite an error).
            for s3_id, model_id in sorted(workload.ids.items()):
                assert await workload.s3_state(s3_id) == await workload.model_state(workload.model, model_id)
            assert set((await scan_heads(clean)).live) == set(workload.ids)
            # The index may lag where an index update failed after its commit; fsck repairs exactly that.
            await fsck(clean, repair=True, grace_seconds=0, now=LATER)
            assert (await fsck(clean, grace_seconds=0, now=LATER)).clean
            assert {m.id for m in await clean.list()} == set(workload.ids)
    finally:
        proxy.stop()
    print(
        f"faults {dict(proxy.injected)} over {proxy.requests} requests; {workload.failures} operations raised,"
        f" {workload.ambiguous_landed} of them had landed"
    )
    assert sum(proxy.injected.values()) > 0.1 * proxy.requests  # the faults were really there
    assert workload.failures > 0 and proxy.injected["drop_after"] > 0


async def test_a_single_writer_under_30_percent_409_conflicts_never_sees_an_error(s3_endpoint):
    """AWS answers a conditional write that raced another in flight with 409 ConditionalRequestConflict, which
    botocore does not retry; the engine settles it like a lost answer and writes again (heads and manifest)."""
    proxy = FaultProxy(s3_endpoint, rate=0.0, seed=SEED, conflicts=0.3).start()
    try:
        async with S3SessionManager(BUCKET, "conflicts/", endpoint_url=proxy.endpoint_url, **SMALL) as writer:
            session = Session(metadata=SessionMetadata(name="busy"))
            for index in range(40):
                session.messages.extend(
                    [{"role": "user", "content": f"q{index} " * 30}, {"role": "assistant", "content": "a " * 30}]
                )
                await writer.save(session)
                if index % 10 == 0:
                    await writer.tag(session.id, [f"t{index}"])
                    await writer.rename(session.id, f"busy {index}")
            fork = await writer.fork(session.id)
            await writer.rewind(fork.id, 3)
            await writer.delete(fork.id)
            proxy.enabled = False
            loaded = await writer.resume(session.id)
            assert loaded.messages == session.messages and loaded.metadata.name == "busy 30"
            assert [m.id for m in await writer.list()] == [session.id]
    finally:
        proxy.stop()
    assert proxy.injected["conflict_409"] >= 15, proxy.injected
