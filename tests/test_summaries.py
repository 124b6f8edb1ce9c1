"""Summaries in the index on S3: where each one is stored, and what listing them costs in requests."""

from __future__ import annotations

import urllib.parse

import pytest
from conftest import BUCKET, LATER, attach_counter

from s3sessions import S3SessionManager
from s3sessions.admin.fsck import fsck
from s3sessions.testing.conformance import saved_session
from s3sessions.testing.conformance.summaries import SUMMARY_LARGE as LARGE
from s3sessions.testing.conformance.summaries import SUMMARY_MEDIUM as MEDIUM
from s3sessions.testing.conformance.summaries import SUMMARY_SHORT as SMALL

pytestmark = pytest.mark.asyncio


def _entry_keys(s3, prefix: str) -> dict[str, str]:
    """Session id -> its index entry's name."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}index/").get("Contents", [])
    return {item["Key"].split("~")[1]: item["Key"].split("/")[-1] for item in listed}


async def test_small_summaries_ride_in_the_key_and_large_ones_in_the_entry_body(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="sum/", endpoint_url=s3_endpoint) as manager:
        small = await saved_session(manager, turns=1, summary=SMALL)
        medium = await saved_session(manager, turns=1, summary=MEDIUM)
        large = await saved_session(manager, turns=1, summary=LARGE)
        crowded = await saved_session(manager, turns=1, name="n" * 256, tags=[f"{i:02d}" + "t" * 60 for i in range(12)])
        plain = await saved_session(manager, turns=1)
        keys = _entry_keys(s3, "sum/")
        in_key = 's={"title":"fix the parser","first_prompt":"why does it fail?"}'
        assert urllib.parse.unquote(keys[small.id]).endswith(in_key)
        assert keys[medium.id].endswith("&s=%2B") and keys[large.id].endswith("&s=%2B")
        assert keys[crowded.id].endswith("~+") and "&s=" not in keys[plain.id]

        counter = await attach_counter(manager)
        newest_first = [plain.id, crowded.id, large.id, medium.id, small.id]
        assert [metadata.id for metadata in await manager.list()] == newest_first  # the one whose listing was read too
        assert counter.count("GetObject") == 1  # the crowded entry's listing, never a summary
        counter.reset()
        listed = {metadata.id: metadata.summary for metadata in await manager.list(summaries=True)}
        assert listed == {small.id: SMALL, medium.id: MEDIUM, large.id: LARGE, crowded.id: None, plain.id: None}
        assert counter.count("GetObject") == 3  # medium, large (their summaries) and crowded (its listing)
        assert counter.count("ListObjectsV2") == 4  # the fan-out, as without summaries


async def test_a_planted_summary_is_left_out_and_its_session_still_listed(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="sumbad/", endpoint_url=s3_endpoint, fanout=1) as manager:
        session = await saved_session(manager, turns=1, summary=SMALL)
        (key,) = (item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="sumbad/index/")["Contents"])
        s3.delete_object(Bucket=BUCKET, Key=key)
        planted = key[: key.index("&s=")] + "&s=" + urllib.parse.quote("[1,2", safe="")
        s3.put_object(Bucket=BUCKET, Key=planted, Body=b"")
        (listed,) = await manager.list(summaries=True)
        assert (listed.id, listed.summary) == (session.id, None)
        s3.delete_object(Bucket=BUCKET, Key=planted)
        s3.put_object(Bucket=BUCKET, Key=key[: key.index("&s=")] + "&s=%2B", Body=b"not zstd")
        (listed,) = await manager.list(summaries=True)
        assert (listed.id, listed.summary) == (session.id, None)
        assert (await manager.resume(session.id)).metadata.summary == SMALL  # the head is the truth
        assert await manager.reindex() == 1
        assert (await manager.list(summaries=True))[0].summary == SMALL


async def test_a_page_reads_summary_bodies_only_for_the_sessions_it_returns(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="sumpage/", endpoint_url=s3_endpoint) as manager:
        made = [await saved_session(manager, turns=1, summary=MEDIUM) for _ in range(12)]
        counter = await attach_counter(manager)
        page = await manager.list_page(2, summaries=True)
        assert [m.id for m in page.sessions] == [made[-1].id, made[-2].id]
        assert all(m.summary == MEDIUM for m in page.sessions)
        assert counter.count("GetObject") == 2  # not one per entry the fan-out's LISTs merged


async def test_a_summary_body_deleted_by_a_commit_mid_listing_leaves_the_session_listed(s3_endpoint, s3):
    """A commit deletes the entry it replaces; a listing that saw the old key must still list the session."""
    async with S3SessionManager(bucket=BUCKET, prefix="sumrace/", endpoint_url=s3_endpoint, fanout=1) as manager:
        session = await saved_session(manager, turns=1, summary=MEDIUM)
        (key,) = (item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="sumrace/index/")["Contents"])
        original_get = manager.store.get

        async def get_after_a_commit(object_key: str, **options):
            if object_key == key:
                s3.delete_object(Bucket=BUCKET, Key=key)  # as the replacing commit's DeleteObjects would
            return await original_get(object_key, **options)

        manager.store.get = get_after_a_commit  # type: ignore[method-assign,assignment]
        (listed,) = await manager.list(summaries=True)
        assert (listed.id, listed.summary) == (session.id, None)


async def test_fsck_reports_and_repairs_a_damaged_summary_body(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="sumfsck/", endpoint_url=s3_endpoint, fanout=1) as manager:
        session = await saved_session(manager, turns=1, summary=MEDIUM)
        (key,) = (item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="sumfsck/index/")["Contents"])
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")  # the body that held the summary, lost
        assert not (await fsck(manager, grace_seconds=0, now=LATER)).clean
        await fsck(manager, repair=True, grace_seconds=0, now=LATER)
        assert (await fsck(manager, grace_seconds=0, now=LATER)).clean
        assert (await manager.list(summaries=True))[0].summary == MEDIUM
        session.metadata.summary = {"after": "repair"}
        await manager.save(session)
        assert (await manager.list(summaries=True))[0].summary == {"after": "repair"}
