"""Hot index: 256 concurrent writers on distinct sessions lose no index entry and never write the index
conditionally (format 2 has no shared index object), counted on the wire by the benchmark proxy."""

from __future__ import annotations

import pytest

from benchmarks.measure import Proxy
from benchmarks.run import S3Server
from benchmarks.writers import BUCKET, core_format, run_writers


@pytest.mark.slow
async def test_256_writers_lose_no_entry_and_make_no_conditional_index_write(monkeypatch):
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "benchmark")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert core_format() == 2
    with S3Server() as server:
        boto3.client("s3", endpoint_url=server.moto_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        proxy = Proxy(server.proxy_url)
        proxy.set_latency(10)
        result = await run_writers(server.proxy_url, proxy, writers=256, managers=16, saves=3)
    print(result)
    assert result.errors == 0  # no save failed
    assert result.head_puts == result.commits  # one head PUT per commit: no retry
    assert result.head_412 == 0  # distinct sessions never refuse each other's heads
    assert result.index_writes == result.commits  # one entry PUT per commit
    assert result.index_conditional == 0  # the index makes no conditional write at all
    assert result.index_412 == result.cas_lost == 0
    assert result.gave_up == 0  # no index update failed
    assert result.lost == 0  # every session's entry matches its last commit
