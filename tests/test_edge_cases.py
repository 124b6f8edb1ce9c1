"""Edge cases found by adversarial review: aliasing, races with delete and fsck, damaged index and heads."""

from __future__ import annotations

import json
from typing import Any

import pytest
import zstandard
from conftest import BUCKET, LATER
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
from s3sessions.admin.fsck import fsck

SMALL: dict[str, Any] = {"tail_bytes": 300, "segment_bytes": 900}


def message(text: str) -> dict:
    return {"role": "user", "content": text}


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
    session.state["n"] = 999  # type: ignore[index,call-overload]
    session.messages[0]["content"] = "EDITED"  # type: ignore[index,call-overload]
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
        assert not (await fsck(creator, grace_seconds=0, now=LATER)).missing_segments


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


POISON = [
    "not-an-entry",
    "0000000000000~..~r=1&i=aaaaaaaaaaaa&v=x&c=1&tc=1&b=1&tk=0&a=x",
    "0000000000000~evil~r=1&i=aaaaaaaaaaaa&v=x&c=1&tc=1&b=1&tk=0&a=x&n=%1B%5B31mred",
    "0000000000000~evil2~r=1&i=aaaaaaaaaaaa&v=x&c=1&tc=1&b=1&tk=0&a=x&p=..%2F..%2Fetc",
    "0000000000000~evil3~r=1&i=nothex&v=x&c=1&tc=1&b=1&tk=0&a=x",
    "0000000000000~evil4~r=1&i=aaaaaaaaaaaa&v=x&c=1&tc=1&b=1&tk=0&a=x&zz=1",
    "0000000000000~evil5~" + "&".join(["r=1"] * 3),
    "0000000000000~evil6~r=1&i=aaaaaaaaaaaa&v=x&c=1&tc=1&b=1&tk=0&a=x~+",
]


async def test_planted_index_keys_are_never_listed_and_fsck_removes_them(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="ci/", endpoint_url=s3_endpoint, fanout=1) as manager:
        session = Session(messages=[message("hi")])
        await manager.save(session)
        for name in POISON:
            s3.put_object(Bucket=BUCKET, Key=f"ci/index/0/{name}", Body=b"garbage")
        assert [m.id for m in await manager.list()] == [session.id]
        assert [m.id for m in (await manager.list_page(5)).sessions] == [session.id]
        report = await fsck(manager, grace_seconds=0, now=LATER)
        assert sorted(report.corrupt_index) == sorted(f"ci/index/0/{name}" for name in POISON) and not report.clean
        assert (await fsck(manager, repair=True, grace_seconds=0, now=LATER)).repaired
        assert (await fsck(manager, grace_seconds=0, now=LATER)).clean
        s3.put_object(Bucket=BUCKET, Key=f"ci/index/0/{POISON[2]}", Body=b"")
        assert await manager.reindex() == 1
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="ci/index/")["Contents"]]
        assert len(keys) == 1 and f"~{session.id}~" in keys[0]


async def test_a_corrupt_manifest_is_never_overwritten_by_a_writer_and_fsck_repairs_it(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="cm/", endpoint_url=s3_endpoint) as writer:
        session = Session(messages=[message("hi")])
        await writer.save(session)
    s3.put_object(Bucket=BUCKET, Key="cm/manifest.json.zst", Body=b"garbage")
    async with S3SessionManager(bucket=BUCKET, prefix="cm/", endpoint_url=s3_endpoint) as manager:
        with pytest.raises(CorruptObject, match="cm/manifest"):
            await manager.list()
        session.messages.append(message("more"))
        with pytest.raises(CorruptObject, match="cm/manifest"):
            await manager.save(Session.model_validate_json(session.model_dump_json()))
        assert s3.get_object(Bucket=BUCKET, Key="cm/manifest.json.zst")["Body"].read() == b"garbage"
        report = await fsck(manager, grace_seconds=0, now=LATER)
        assert report.corrupt_index == ["cm/manifest.json.zst"]
        assert (await fsck(manager, repair=True, grace_seconds=0, now=LATER)).repaired
        assert [m.id for m in await manager.list()] == [session.id]
        assert (await fsck(manager, grace_seconds=0, now=LATER)).clean


async def test_reindex_skips_a_corrupt_head_and_keeps_its_entry(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="rc/", endpoint_url=s3_endpoint) as manager:
        good, bad = Session(messages=[message("good")]), Session(metadata=SessionMetadata(id="bad"))
        await manager.save(good)
        await manager.save(bad)
        s3.put_object(Bucket=BUCKET, Key="rc/sessions/bad/head.json.zst", Body=b"garbage")
        assert await manager.reindex() == 2
        assert {m.id for m in await manager.list()} == {good.id, "bad"}


async def test_an_entry_planted_by_a_fast_clock_never_hides_the_live_head(s3_endpoint, s3):
    """No index state depends on comparing clocks: an entry of another incarnation with a far-future time and a
    huge revision is resolved by asking the head, and reindex removes it."""
    async with S3SessionManager(bucket=BUCKET, prefix="sk/", endpoint_url=s3_endpoint, fanout=1) as manager:
        await manager.save(Session(metadata=SessionMetadata(id="s1", name="real")))
        ahead = "0000000000001~s1~r=99999&i=ffffffffffff&v=0&c=1&tc=0&b=0&tk=0&a=agent&n=planted"
        s3.put_object(Bucket=BUCKET, Key=f"sk/index/0/{ahead}", Body=b"")
        assert [(m.id, m.name) for m in await manager.list()] == [("s1", "real")]
        assert [(m.id, m.name) for m in (await manager.list_page(10)).sessions] == [("s1", "real")]
        await manager.reindex()  # the head is the truth
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="sk/index/")["Contents"]]
        assert len(keys) == 1 and "n=real" in keys[0]


async def test_deleting_a_session_with_a_corrupt_head(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="dc/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(messages=[message("x" * 400)] * 4)
        await manager.save(session)
        s3.put_object(Bucket=BUCKET, Key=f"dc/sessions/{session.id}/head.json.zst", Body=b"garbage")
        await manager.delete(session.id)
        with pytest.raises(SessionNotFound):
            await manager.resume(session.id)
        assert await manager.list() == []
        # Its incarnation is unknown, so the delete removed only what is older than its tombstone (S3's clock; a
        # re-creation after the tombstone uploads newer objects); fsck collects the rest once it is old.
        await fsck(manager, repair=True, now=LATER)
        left = [
            item["Key"]
            for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"dc/sessions/{session.id}/").get("Contents", [])
        ]
        head_key = f"dc/sessions/{session.id}/head.json.zst"
        if (await manager.manifest.require()).dialect.conditional_delete:
            assert left == []
        else:  # where a delete cannot be conditional (Ceph RGW) its tombstone stays, marked cleaned, by design
            assert left == [head_key]
            body = s3.get_object(Bucket=BUCKET, Key=head_key)["Body"].read()
            tombstone = json.loads(zstandard.ZstdDecompressor().decompress(body))
            assert tombstone["kind"] == "tombstone" and tombstone["cleaned"] is True


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
        (lambda d: d.update(tail_turn_starts=[5, 1]), "tail_turn_starts"),
    ],
)
async def test_a_head_that_contradicts_itself_is_corrupt(s3_endpoint, s3, change, reason):
    async with S3SessionManager(bucket=BUCKET, prefix="mh/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(metadata=SessionMetadata(id="s1"), messages=[message(f"turn {i} " * 30) for i in range(6)])
        await manager.save(session)
        _rewrite(s3, "mh/sessions/s1/head.json.zst", change)
        manager.objects.forget("s1")
        with pytest.raises(CorruptObject, match=reason):
            await manager.resume("s1")
        with pytest.raises(CorruptObject):
            await manager.rewind("s1", 1)
        report = await fsck(manager, grace_seconds=0, now=LATER)
        assert [key for key, _ in report.corrupt] == ["mh/sessions/s1/head.json.zst"]


@pytest.mark.parametrize("operation", ["resume", "rewind"])
async def test_reads_again_when_a_segment_vanished_under_a_newer_head(s3_endpoint, s3, operation):
    async with S3SessionManager(bucket=BUCKET, prefix="rr/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = Session(messages=[message(f"m{i} " * 60) for i in range(8)])
        await manager.save(session)
        old = await manager.objects.read_live_head(session.id)
        session.messages[0] = message("edited, so the first segment is replaced")
        await manager.save(session)
        current = await manager.objects.read_live_head(session.id)
        dropped = [ref for ref in old.record.segments if ref not in current.record.segments]
        assert dropped
        for ref in dropped:  # fsck --repair collected the segments the new head no longer needs
            s3.delete_object(Bucket=BUCKET, Key=manager.layout.segment(session.id, ref))
        read_live_head = manager.objects.read_live_head
        calls = []

        async def stale_first(session_id):  # the first read returns the head as it was before the save
            calls.append(session_id)
            if len(calls) == 1:
                return old
            return await read_live_head(session_id)

        manager.objects.read_live_head = stale_first  # type: ignore[method-assign]
        if operation == "resume":
            assert (await manager.resume(session.id)).messages == session.messages
        else:
            assert (await manager.rewind(session.id, 6)).messages == session.messages[:7]
        assert len(calls) >= 2
