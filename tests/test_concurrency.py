"""Races against a real (serialised) moto server: conditional writes must pick exactly one winner."""

from __future__ import annotations

import asyncio

from conftest import BUCKET

from s3sessions import ConflictError, S3SessionManager, Session, SessionMetadata


def message(text: str) -> dict:
    return {"role": "user", "content": text}


async def test_32_writers_of_one_stale_session_exactly_one_wins(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="race/", endpoint_url=s3_endpoint) as manager:
        base = Session(messages=[message("start")])
        await manager.save(base)
        copies = [base.model_copy(deep=True) for _ in range(32)]
        for index, copy in enumerate(copies):
            copy.messages.append(message(f"writer {index}"))
        results = await asyncio.gather(*(manager.save(copy) for copy in copies), return_exceptions=True)
        winners = [index for index, result in enumerate(results) if not isinstance(result, BaseException)]
        losers = [result for result in results if isinstance(result, BaseException)]
        assert len(winners) == 1, results
        assert all(isinstance(loser, ConflictError) for loser in losers), losers
        stored = await manager.resume(base.id)
        assert stored.messages == copies[winners[0]].messages


async def test_32_writers_across_separate_managers_exactly_one_wins(s3_endpoint):
    """Separate managers share no cache: the race is decided by S3's If-Match alone."""
    managers = [S3SessionManager(bucket=BUCKET, prefix="race2/", endpoint_url=s3_endpoint) for _ in range(32)]
    try:
        base = Session(messages=[message("start")])
        await managers[0].save(base)
        copies = [base.model_copy(deep=True) for _ in managers]
        for index, copy in enumerate(copies):
            copy.messages.append(message(f"writer {index}"))
        results = await asyncio.gather(
            *(manager.save(copy) for manager, copy in zip(managers, copies, strict=True)), return_exceptions=True
        )
        winners = [result for result in results if not isinstance(result, BaseException)]
        assert len(winners) == 1, results
        assert all(isinstance(result, ConflictError) for result in results if isinstance(result, BaseException))
    finally:
        await asyncio.gather(*(manager.close() for manager in managers))


async def test_32_creators_of_one_id_exactly_one_wins(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="race3/", endpoint_url=s3_endpoint) as manager:
        sessions = [Session(metadata=SessionMetadata(id="same"), messages=[message(f"{i}")]) for i in range(32)]
        results = await asyncio.gather(*(manager.save(s) for s in sessions), return_exceptions=True)
        assert sum(not isinstance(result, BaseException) for result in results) == 1
        assert all(isinstance(result, ConflictError) for result in results if isinstance(result, BaseException))
        assert [m.id for m in await manager.list()] == ["same"]


async def test_32_creators_of_distinct_sessions_all_listed(s3_endpoint):
    managers = [
        S3SessionManager(bucket=BUCKET, prefix="many/", endpoint_url=s3_endpoint, shard_count=4) for _ in range(4)
    ]
    try:
        sessions = [Session(messages=[message(f"session {i}")]) for i in range(32)]
        await asyncio.gather(*(managers[i % 4].save(session) for i, session in enumerate(sessions)))
        # A fresh manager sees every entry: none lost to index CAS races.
        async with S3SessionManager(bucket=BUCKET, prefix="many/", endpoint_url=s3_endpoint) as fresh:
            listed = await fresh.list()
        assert {m.id for m in listed} == {s.id for s in sessions}
        assert all(m.turn_count == 1 for m in listed)
        assert sum(manager.index.conflicts for manager in managers) >= 0
    finally:
        await asyncio.gather(*(manager.close() for manager in managers))


async def test_concurrent_tags_and_renames_all_land(s3_endpoint):
    managers = [S3SessionManager(bucket=BUCKET, prefix="meta/", endpoint_url=s3_endpoint) for _ in range(8)]
    try:
        session = Session(messages=[message("x")])
        await managers[0].save(session)
        await asyncio.gather(*(manager.tag(session.id, [f"t{i}"]) for i, manager in enumerate(managers)))
        loaded = await managers[0].resume(session.id)
        assert sorted(loaded.metadata.tags) == sorted(f"t{i}" for i in range(8))
        # And an agent saving its stale copy merges over all of those metadata edits.
        session.messages.append(message("y"))
        await managers[1].save(session)
        assert sorted((await managers[2].resume(session.id)).metadata.tags) == sorted(f"t{i}" for i in range(8))
    finally:
        await asyncio.gather(*(manager.close() for manager in managers))


async def test_index_updates_never_go_backwards(s3_endpoint):
    """A delayed index update from an older revision must not replace a newer entry."""
    async with S3SessionManager(bucket=BUCKET, prefix="idx/", endpoint_url=s3_endpoint) as manager:
        session = Session(messages=[message("a")])
        await manager.save(session)
        old_version = session.metadata.version
        _, old_head = await manager._read_head(session.id)
        await manager.rename(session.id, "newer")
        await manager._update_index(session.id, old_version, old_head)  # the late update arrives
        assert [m.name for m in await manager.list()] == ["newer"]
        await manager.delete(session.id)
        await manager._update_index(session.id, old_version, old_head)  # even after delete
        assert await manager.list() == []
