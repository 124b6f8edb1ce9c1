"""Races against a real (serialised) moto server: conditional writes must pick exactly one winner."""

from __future__ import annotations

import asyncio

from conftest import BUCKET

from s3sessions import ConflictError, S3SessionManager, Session, SessionMetadata
from s3sessions.admin.fsck import fsck


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


async def test_32_creators_of_distinct_sessions_all_listed(s3_endpoint, s3):
    managers = [S3SessionManager(bucket=BUCKET, prefix="many/", endpoint_url=s3_endpoint, fanout=4) for _ in range(4)]
    try:
        sessions = [Session(messages=[message(f"session {i}")]) for i in range(32)]
        await asyncio.gather(*(managers[i % 4].save(session) for i, session in enumerate(sessions)))
        # A fresh manager sees every entry: nothing is shared between sessions, so nothing was lost to a race.
        async with S3SessionManager(bucket=BUCKET, prefix="many/", endpoint_url=s3_endpoint) as fresh:
            listed = await fresh.list()
        assert {m.id for m in listed} == {s.id for s in sessions}
        assert all(m.turn_count == 1 for m in listed)
        entries = s3.list_objects_v2(Bucket=BUCKET, Prefix="many/index/").get("Contents", [])
        assert len(entries) == 32 and {entry["Key"].split("/")[2] for entry in entries} == {"0", "1", "2", "3"}
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


async def test_a_late_index_write_never_hides_a_newer_commit(s3_endpoint, s3):
    """A delayed index PUT of an older revision lands after a newer commit: list still shows the newer one, the
    next commit removes the stale entry, and after a delete fsck finds and removes such a ghost."""
    async with S3SessionManager(bucket=BUCKET, prefix="idx/", endpoint_url=s3_endpoint) as manager:
        session = Session(messages=[message("a")])
        await manager.save(session)
        old = await manager.objects.read_live_head(session.id)
        await manager.rename(session.id, "newer")
        await manager.index.record(session.id, old.record, old.etag)  # the late write arrives
        assert [m.name for m in await manager.list()] == ["newer"]
        assert [m.name for m in (await manager.list_page(10)).sessions] == ["newer"]
        await manager.rename(session.id, "newest")
        entries = s3.list_objects_v2(Bucket=BUCKET, Prefix="idx/index/").get("Contents", [])
        assert len(entries) == 1 and "&n=newest" in entries[0]["Key"]
        await manager.delete(session.id)
        await manager.index.record(session.id, old.record, old.etag)  # even after the delete
        report = await fsck(manager, repair=True)
        assert report.ghost_entries == [session.id] and report.repaired
        assert await manager.list() == []
