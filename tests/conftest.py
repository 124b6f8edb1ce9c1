"""Shared fixtures: one serialising moto server per test session (see DESIGN.md), reset before each test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from s3sessions import InMemorySessionManager, S3SessionManager
from s3sessions.local_s3 import LocalS3

BUCKET = "test-bucket"
_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
_CLEARED_AWS_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3SESSIONS_BUCKET", "S3SESSIONS_PREFIX")


@pytest.fixture(scope="session", autouse=True)
def fake_aws_environment() -> Iterator[None]:
    """Fake credentials so that nothing can reach a real account; restored afterwards."""
    saved = {name: os.environ.get(name) for name in (*_FAKE_AWS_ENV, *_CLEARED_AWS_ENV)}
    os.environ.update(_FAKE_AWS_ENV)
    for name in _CLEARED_AWS_ENV:
        os.environ.pop(name, None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    """The moto server (writes serialised so conditional PUTs are atomic, as on S3), on a free port."""
    with LocalS3() as server:
        yield server


@pytest.fixture
def s3_endpoint(local_s3: LocalS3) -> str:
    """A freshly reset moto server holding one empty bucket, `BUCKET`."""
    import boto3

    local_s3.reset()
    boto3.client("s3", endpoint_url=local_s3.endpoint_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return local_s3.endpoint_url


@pytest.fixture
def fixed_clock() -> Any:
    """A settable clock shared by managers under comparison (Unix seconds)."""

    class Clock:
        now = 1_700_000_000

        def __call__(self) -> int:
            return self.now

    return Clock()


@pytest.fixture
async def s3_manager(s3_endpoint: str) -> AsyncIterator[S3SessionManager]:
    async with S3SessionManager(bucket=BUCKET, prefix="t/", endpoint_url=s3_endpoint) as manager:
        yield manager


@pytest.fixture
def memory_manager() -> InMemorySessionManager:
    return InMemorySessionManager()


class RequestCounter:
    """Counts S3 requests by operation name through botocore's ``before-send`` hook."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.bytes_sent = 0

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])  # "before-send.s3.GetObject" -> "GetObject"
        body = request.body
        if isinstance(body, bytes | bytearray):
            self.bytes_sent += len(body)

    def reset(self) -> None:
        self.operations.clear()
        self.bytes_sent = 0

    def count(self, operation: str) -> int:
        return self.operations.count(operation)


async def attach_counter(manager: S3SessionManager) -> RequestCounter:
    """Registers a RequestCounter on the manager's client (creating the client if needed)."""
    counter = RequestCounter()
    client = await manager.store.client()  # type: ignore[attr-defined]
    client.meta.events.register("before-send.s3", counter)
    return counter
