"""Edge cases found by adversarial review: aliasing, races with delete and fsck, damaged index and heads."""

from __future__ import annotations

import json

import boto3
import pytest
import zstandard
from conftest import BUCKET
from faults import FaultProxy

from s3sessions import (
    CorruptObject,
    InMemorySessionManager,
    InvalidInput,
    S3SessionManager,
    Session,
    SessionMetadata,
    SessionNotFound,
    StorageError,
)
from s3sessions.fsck import fsck

SMALL = {"tail_bytes": 300, "segment_bytes": 900}


def message(text: str) -> dict:
    return {"role": "user", "content": text}


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture(params=["memory", "s3"])
async def manager(request):
    if request.param == "memory":
        yield InMemorySessionManager()
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    async with S3SessionManager(bucket=BUCKET, prefix="edge/", endpoint_url=endpoint, **SMALL) as s3_manager:
        yield s3_manager


async def test_unsaved_edits_of_a_held_copy_never_reach_storage(manager):
    session = Session(messages=[message("hi")], state={"n": 1})
    await manager.save(session)
    session.state["n"] = 999  # type: ignore[index]
    session.messages[0]["content"] = "EDITED"  # type: ignore[index]
    await manager.tag(session.id, ["x"])
    loaded = await manager.resume(session.id)
    assert loaded.state == {"n": 1} and loaded.messages == [message("hi")]
    loaded.state["n"] = 5  # type: ignore[index]
    loaded.messages[0]["content"] = "EDITED AGAIN"  # type: ignore[index]
    await manager.rename(session.id, "renamed")
    again = await manager.resume(session.id)
    assert again.state == {"n": 1} and again.messages == [message("hi")]


async def test_deeply_nested_values_are_invalid_input(manager):
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    session = Session()
    session.messages.append({"role": "user", "content": deep})  # type: ignore[dict-item]  # appended: unvalidated
    with pytest.raises(InvalidInput, match="nested too deeply"):
        await manager.save(session)


async def test_delete_spares_a_session_created_again_meanwhile(s3_endpoint):
    async with (
        S3SessionManager(bucket=BUCKET, prefix="race/", endpoint_url=s3_endpoint, **SMALL) as deleter,
        S3SessionManager(bucket=BUCKET, prefix="race/", endpoint_url=s3_endpoint, **SMALL) as creator,
    ):
        await deleter.save(Session(metadata=SessionMetadata(id="s1"), messages=[message("old " * 100)] * 5))
        fresh = Session(metadata=SessionMetadata(id="s1"), messages=[message("new " * 100)] * 5)
        list_versions = deleter.store.list_versions

        async def recreate_then_list(prefix):  # the re-create lands between the head delete and the cleanup
            await creator.save(fresh)
            return await list_versions(prefix)

        deleter.store.list_versions = recreate_then_list  # type: ignore[method-assign]
        await deleter.delete("s1")
        assert (await creator.resume("s1")).messages == fresh.messages
        assert [m.id for m in await creator.list()] == ["s1"]
        assert not (await fsck(creator, grace_seconds=0)).missing_segments


async def test_fsck_repair_spares_a_session_created_while_it_runs(s3_endpoint, s3):
    import time

    async with (
        S3SessionManager(bucket=BUCKET, prefix="fr/", endpoint_url=s3_endpoint) as checker,
        S3SessionManager(bucket=BUCKET, prefix="fr/", endpoint_url=s3_endpoint) as creator,
    ):
        s3.put_object(Bucket=BUCKET, Key=f"fr/sessions/s1/segments/{'0' * 64}.json.zst", Body=b"left over")
        list_versions = checker.store.list_versions

        async def create_then_list(prefix):
            await creator.save(Session(metadata=SessionMetadata(id="s1"), messages=[message("NEW")]))
            return await list_versions(prefix)

        checker.store.list_versions = create_then_list  # type: ignore[method-assign]
        report = await fsck(checker, repair=True, now=time.time() + 7200)  # everything counts as old
        assert report.repaired
        assert (await creator.resume("s1")).messages == [message("NEW")]


async def test_a_truncated_response_body_is_a_storage_error(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="tr/", endpoint_url=s3_endpoint) as writer:
        await writer.save(Session(metadata=SessionMetadata(id="s1"), messages=[message("x" * 5000)]))
    proxy = FaultProxy(s3_endpoint, rate=1.0, seed=1, kinds=("truncate_body",)).start()
    try:
        config = {"retries": {"mode": "standard", "total_max_attempts": 1}}
        async with S3SessionManager(
            bucket=BUCKET, prefix="tr/", endpoint_url=proxy.endpoint_url, client_config=config
        ) as reader:
            with pytest.raises(StorageError, match="body read failed"):
                await reader.resume("s1")
    finally:
        proxy.stop()


async def test_a_corrupt_index_shard_is_reported_and_rebuilt(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="ci/", endpoint_url=s3_endpoint, shard_count=1) as manager:
        session = Session(messages=[message("hi")])
        await manager.save(session)
        s3.put_object(Bucket=BUCKET, Key="ci/index/0000.json.zst", Body=b"garbage")
        manager.index._shards.clear()
        with pytest.raises(CorruptObject, match=r"ci/index/0000\.json\.zst"):
            await manager.list()
        report = await fsck(manager, grace_seconds=0)
        assert report.corrupt_index == ["ci/index/0000.json.zst"] and not report.clean
        assert (await fsck(manager, repair=True, grace_seconds=0)).repaired
        assert [m.id for m in await manager.list()] == [session.id]
        s3.put_object(Bucket=BUCKET, Key="ci/index/0000.json.zst", Body=b"garbage")
        manager.index._shards.clear()
        assert await manager.reindex() == 1
        assert [m.id for m in await manager.list()] == [session.id]
        s3.put_object(Bucket=BUCKET, Key="ci/index/0000.json.zst", Body=b"garbage")
        manager.index._shards.clear()
        other = Session(messages=[message("a save rewrites a corrupt shard")])
        await manager.save(other)
        assert other.id in {m.id for m in await manager.list()}


async def test_reindex_skips_a_corrupt_head_and_keeps_its_entry(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="rc/", endpoint_url=s3_endpoint) as manager:
        good, bad = Session(messages=[message("good")]), Session(metadata=SessionMetadata(id="bad"))
        await manager.save(good)
        await manager.save(bad)
        s3.put_object(Bucket=BUCKET, Key="rc/sessions/bad/head.json.zst", Body=b"garbage")
        assert await manager.reindex() == 2
        assert {m.id for m in await manager.list()} == {good.id, "bad"}


async def test_a_live_head_beats_a_tombstone_written_by_a_fast_clock(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="sk/", endpoint_url=s3_endpoint) as manager:
        await manager.save(Session(metadata=SessionMetadata(id="s1")))
        from s3sessions.records import IndexEntry

        ahead = IndexEntry(incarnation="ffffffffffff" + "0" * 20, revision=2**62, deleted=True, updated_at=0)
        await manager.index.update("s1", ahead)  # a tombstone from a machine whose clock runs ahead
        assert await manager.list() == []
        await manager.reindex()  # the head is the truth
        assert [m.id for m in await manager.list()] == ["s1"]


async def test_deleting_a_session_with_a_corrupt_head(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="dc/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(messages=[message("x" * 400)] * 4)
        await manager.save(session)
        s3.put_object(Bucket=BUCKET, Key=f"dc/sessions/{session.id}/head.json.zst", Body=b"garbage")
        await manager.delete(session.id)
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"dc/sessions/{session.id}/")["KeyCount"] == 0
        assert await manager.list() == []


async def test_fork_of_a_source_deleted_meanwhile_is_not_found(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="fd/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(messages=[message("y" * 400)] * 4)
        await manager.save(session)
        copy = manager.store.copy

        async def delete_then_copy(source, dest):
            if not getattr(delete_then_copy, "done", False):
                delete_then_copy.done = True  # type: ignore[attr-defined]
                await manager.delete(session.id)
            await copy(source, dest)

        manager.store.copy = delete_then_copy  # type: ignore[method-assign]
        with pytest.raises(SessionNotFound):
            await manager.fork(session.id)


def _rewrite(s3, key, change):
    document = json.loads(zstandard.ZstdDecompressor().decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    change(document)
    s3.put_object(Bucket=BUCKET, Key=key, Body=zstandard.ZstdCompressor().compress(json.dumps(document).encode()))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["segments"][0].update(take=-2), "take -2"),
        (lambda d: d["segments"][0].update(take=99), "take 99"),
        (lambda d: d["segments"][0].update(digest="../../evil"), "not a SHA-256"),
        (lambda d: d.update(message_count=3), "message_count 3"),
        (lambda d: d["metadata"].update(turn_count=10), "turn_count 10"),
        (lambda d: d.update(turn_starts=[5, 1]), "turn_starts"),
    ],
)
async def test_a_head_that_contradicts_itself_is_corrupt(s3_endpoint, s3, change, reason):
    async with S3SessionManager(bucket=BUCKET, prefix="mh/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(metadata=SessionMetadata(id="s1"), messages=[message(f"turn {i} " * 30) for i in range(6)])
        await manager.save(session)
        _rewrite(s3, "mh/sessions/s1/head.json.zst", change)
        manager._heads.clear()
        with pytest.raises(CorruptObject, match=reason):
            await manager.resume("s1")
        with pytest.raises(CorruptObject):
            await manager.rewind("s1", 1)
        report = await fsck(manager, grace_seconds=0)
        assert [key for key, _ in report.corrupt] == ["mh/sessions/s1/head.json.zst"]


@pytest.mark.parametrize("operation", ["resume", "rewind"])
async def test_reads_again_when_a_segment_vanished_under_a_newer_head(s3_endpoint, s3, operation):
    async with S3SessionManager(bucket=BUCKET, prefix="rr/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(messages=[message(f"m{i} " * 60) for i in range(8)])
        await manager.save(session)
        _, old_head = await manager._read_head(session.id)
        session.messages[0] = message("edited, so the first segment is replaced")
        await manager.save(session)
        dropped = [
            ref.digest
            for ref in old_head.segments
            if ref.digest not in {r.digest for r in (await manager._read_head(session.id))[1].segments}
        ]
        assert dropped
        for digest in dropped:  # fsck --repair collected the segments the new head no longer needs
            s3.delete_object(Bucket=BUCKET, Key=f"rr/sessions/{session.id}/segments/{digest}.json.zst")
        read_head = manager._read_head
        calls = []

        async def stale_first(session_id):  # the first read returns the head as it was before the save
            calls.append(session_id)
            if len(calls) == 1:
                return '"stale"', old_head
            return await read_head(session_id)

        manager._read_head = stale_first  # type: ignore[method-assign]
        if operation == "resume":
            assert (await manager.resume(session.id)).messages == session.messages
        else:
            assert (await manager.rewind(session.id, 6)).messages == session.messages[:7]
        assert len(calls) == 2
