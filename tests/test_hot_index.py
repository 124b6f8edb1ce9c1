"""Hot index: 64 concurrent writers on 64 distinct sessions, sustained; no index entry may be lost."""

from __future__ import annotations

import pytest
from conftest import BUCKET
from s3sessions.index import CAS_ATTEMPTS, DEFAULT_SHARD_COUNT

from benchmarks.hot_index import BUCKET as HOT_BUCKET
from benchmarks.hot_index import run_hot_index


@pytest.mark.slow
async def test_64_writers_lose_no_index_entry_with_the_default_shard_count(s3_endpoint):
    import boto3

    assert HOT_BUCKET != BUCKET
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=HOT_BUCKET)
    result = await run_hot_index(s3_endpoint, shard_count=DEFAULT_SHARD_COUNT, commits=3, latency_ms=10)
    print(f"{result.conflicts} index conflicts over {result.writers * result.commits} commits")
    assert result.lost == 0  # every session's entry matches its last commit
    assert result.gave_up == 0  # no update ran out of its bounded retries
    # Retries are bounded: never more lost rounds than attempts allow for every commit.
    assert result.conflicts <= result.writers * result.commits * (CAS_ATTEMPTS - 1)
