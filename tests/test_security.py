"""Security: no key injection, size caps on read, no message contents in logs."""

from __future__ import annotations

import logging

import boto3
import pytest
from conftest import BUCKET

from s3sessions import InvalidInput, S3SessionManager, Session, SessionMetadata

SECRET = "sk-SECRET-7f3a9c"


async def test_no_id_name_tag_or_prefix_places_an_object_outside_its_session(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="tenant-a/", endpoint_url=s3_endpoint) as manager:
        session = Session(
            metadata=SessionMetadata(id="..a", name="../../tenant-b/sessions/x", tags=["../index", "/etc/passwd"]),
            messages=[{"role": "user", "content": "../../"}],
        )
        await manager.save(session)
        await manager.fork(session.id, "../../../escape")
        await manager.rename(session.id, "%2e%2e/%2F")
        for bad in ["../tenant-b", "a/../../b", "..", ".", "a\\b", "a%2fb", "a\x00b", " a"]:
            with pytest.raises(InvalidInput):
                await manager.save(Session(metadata=SessionMetadata.model_construct(id=bad)))
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").list_objects_v2(Bucket=BUCKET)[
            "Contents"
        ]
    ]
    assert keys and all(key.startswith("tenant-a/") and ".." not in key.split("/")[1:2] for key in keys)
    assert all("/../" not in key and "\\" not in key for key in keys)
    for bad_prefix in ["../x/", "/abs", "a/./b"]:
        with pytest.raises(InvalidInput, match="invalid prefix"):
            S3SessionManager(bucket=BUCKET, prefix=bad_prefix)


async def test_message_contents_never_reach_the_logs(s3_endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    async with S3SessionManager(
        bucket=BUCKET, prefix="logs/", endpoint_url=s3_endpoint, tail_bytes=200, segment_bytes=600
    ) as manager:
        session = Session(state={"api_key": SECRET})
        for index in range(6):
            session.messages.append({"role": "user", "content": f"my key is {SECRET} ({index})"})
            await manager.save(session)
        stale = await manager.resume(session.id)
        await manager.rewind(session.id, 2)
        stale.messages.append({"role": "user", "content": SECRET})
        with pytest.raises(Exception):  # noqa: B017 - a conflict; its message must not carry the contents either
            await manager.save(stale)
        await manager.fork(session.id)
        await manager.list()
        await manager.delete(session.id)
    ours = [record for record in caplog.records if record.name.startswith("s3sessions")]
    assert ours, "the library logs its requests at DEBUG"
    assert all(SECRET not in record.getMessage() for record in ours)
    assert all(SECRET not in record.getMessage() for record in caplog.records if record.levelno >= logging.INFO)


async def test_reads_are_capped_before_download_and_before_decompression(s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    async with S3SessionManager(
        bucket=BUCKET, prefix="cap/", endpoint_url=s3_endpoint, max_object_bytes=100_000
    ) as manager:
        session = Session(messages=[{"role": "user", "content": "hi"}])
        await manager.save(session)
        key = f"cap/sessions/{session.id}/head.json.zst"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"\x28\xb5\x2f\xfd" + b"\0" * 300_000)
        with pytest.raises(Exception, match="over the 100000-byte cap"):
            await manager.resume(session.id)
