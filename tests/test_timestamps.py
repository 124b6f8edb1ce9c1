"""The fast timestamp parser: botocore's answers, on the sessions this package creates only."""

from __future__ import annotations

import datetime
from typing import Any

import aioboto3
import pytest
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from conftest import BUCKET

from s3sessions.storage import timestamps
from s3sessions.storage.s3 import S3ObjectStore

FORMS = [
    "Wed, 02 Dec 2026 23:00:00 GMT",  # a Last-Modified header
    "Wed, 02 Dec 2026 23:00:00 -0000",
    "Wed, 02 Dec 2026 23:00:00 +0200",
    "2026-12-02T23:00:00.000Z",  # a listing's LastModified
    "2026-12-02T23:00:00Z",
    "2026-12-02T23:00:00.123456+00:00",
    "2026-12-02T23:00:00",  # no time zone: botocore's answer, whatever it is
    "1700000000",
    1700000000,
    1700000000.5,
]


@pytest.mark.parametrize("value", FORMS)
def test_every_form_parses_as_botocore_parses_it(value: Any) -> None:
    ours = timestamps.parse_timestamp(value, botocore_parse_timestamp)
    theirs = botocore_parse_timestamp(value)
    assert ours == theirs
    assert (ours.tzinfo is None) == (theirs.tzinfo is None)
    if ours.tzinfo is not None:
        assert ours.utcoffset() == theirs.utcoffset()


def test_what_neither_parses_fails_as_botocore_fails() -> None:
    with pytest.raises(ValueError):
        botocore_parse_timestamp("not a date")
    with pytest.raises(ValueError):
        timestamps.parse_timestamp("not a date", botocore_parse_timestamp)


class CountingParser:
    def __init__(self) -> None:
        self.calls = 0
        self._parse = timestamps.parse_timestamp

    def __call__(self, value: Any, fallback: timestamps.Parser) -> datetime.datetime:
        self.calls += 1
        return self._parse(value, fallback)


async def test_a_store_we_create_reads_s3_dates_with_it(
    s3_endpoint: str | None, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingParser()
    monkeypatch.setattr(timestamps, "parse_timestamp", counting)
    store = S3ObjectStore(BUCKET, endpoint_url=s3_endpoint, region_name="us-east-1")
    try:
        await store.put("dated", b"x")
        meta = await store.head("dated")
        client = await store.client()
        response = await client.head_object(Bucket=BUCKET, Key="dated")
        listed = await client.list_objects_v2(Bucket=BUCKET, Prefix="dated")
    finally:
        await store.close()
    assert counting.calls >= 3  # our head, the client's head, the listing
    expected = s3.head_object(Bucket=BUCKET, Key="dated")["LastModified"]  # boto3's default parser
    assert isinstance(response["LastModified"], datetime.datetime)
    assert response["LastModified"] == expected and response["LastModified"].tzinfo is not None
    assert meta.modified == expected.timestamp()
    listed_expected = s3.list_objects_v2(Bucket=BUCKET, Prefix="dated")["Contents"][0]["LastModified"]
    assert listed["Contents"][0]["LastModified"] == listed_expected


async def test_a_callers_session_keeps_its_own_parser(s3_endpoint: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingParser()
    monkeypatch.setattr(timestamps, "parse_timestamp", counting)
    store = S3ObjectStore(BUCKET, session=aioboto3.Session(), endpoint_url=s3_endpoint, region_name="us-east-1")
    try:
        await store.put("dated", b"x")
        meta = await store.head("dated")
    finally:
        await store.close()
    assert counting.calls == 0
    assert meta.modified > 0
