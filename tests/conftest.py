"""Shared fixtures: the S3 the tests run against, reset before each test, and request counting.

The S3 is chosen by ``S3SESSIONS_TEST_S3`` (or ``--s3``):

- ``moto`` (default): an embedded moto server behind the serialising wrapper (DESIGN.md), reset per test.
- ``rgw``: a Ceph RADOS Gateway started by ``scripts/ceph-rgw.sh start`` (its ``S3SESSIONS_RGW_ENDPOINT``,
  ``_ACCESS_KEY`` and ``_SECRET_KEY``); the test bucket is emptied, deleted and created again per test.
- ``external``: any S3 with the usual AWS credentials; ``S3SESSIONS_TEST_BUCKET`` names a bucket *dedicated to
  these tests* (everything in it is deleted before each test) and ``S3SESSIONS_TEST_ENDPOINT`` an endpoint
  (none: AWS).

Tests that need moto itself (its reset API, CloudFormation, policies it enforces) are marked ``moto_only`` and
skipped elsewhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from s3sessions import InMemorySessionManager, S3SessionManager
from s3sessions.testing.conformance import SettableClock

BUCKET = os.environ.get("S3SESSIONS_TEST_BUCKET", "test-bucket")
LATER = time.time() + 10 * 86400
"""A "now" for fsck later than every object a test writes: with it, any grace period marks them all as old."""
_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
_CLEARED_AWS_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3SESSIONS_BUCKET", "S3SESSIONS_PREFIX")


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--s3", default=None, help="moto (default), rgw or external: the S3 the tests run against")


def backend(config: Any) -> str:
    chosen = config.getoption("--s3") or os.environ.get("S3SESSIONS_TEST_S3", "moto")
    if chosen not in {"moto", "rgw", "external"}:
        raise pytest.UsageError(f"unknown S3 backend {chosen!r}: use moto, rgw or external")
    return str(chosen)


def pytest_configure(config: Any) -> None:
    os.environ["S3SESSIONS_TEST_S3"] = backend(config)  # modules that parametrise by backend read it


def off_moto() -> bool:
    """True when the tests run against another S3 than moto (then only the S3 variants of a suite run)."""
    return os.environ.get("S3SESSIONS_TEST_S3", "moto") != "moto"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if backend(config) == "moto":
        return
    skip = pytest.mark.skip(reason=f"needs moto itself, not the {backend(config)} backend")
    for item in items:
        if "moto_only" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class S3Server:
    """The S3 under test: where it is, which backend, and how to clear it."""

    kind: str
    endpoint_url: str | None
    environment: dict[str, str]
    local: Any = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")

    def fresh_bucket(self) -> None:
        """Makes `BUCKET` exist and hold nothing (and, off moto, have versioning off)."""
        if self.local is not None:
            self.local.reset()
            self.client().create_bucket(Bucket=BUCKET)
            return
        s3 = self.client()
        try:
            _empty(s3, BUCKET)
            if self.kind == "rgw":
                s3.delete_bucket(Bucket=BUCKET)
        except s3.exceptions.NoSuchBucket:
            pass
        if self.kind == "rgw":
            s3.create_bucket(Bucket=BUCKET)


def _empty(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(doomed), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})


@pytest.fixture(scope="session")
def s3_server(request: Any) -> Iterator[S3Server]:
    """The S3 under test, with its credentials in the environment (restored afterwards)."""
    kind = backend(request.config)
    saved = {name: os.environ.get(name) for name in (*_FAKE_AWS_ENV, *_CLEARED_AWS_ENV)}
    for name in _CLEARED_AWS_ENV:
        os.environ.pop(name, None)
    try:
        if kind == "moto":
            from s3sessions.testing.local_s3 import LocalS3

            os.environ.update(_FAKE_AWS_ENV)
            with LocalS3() as local:
                yield S3Server(kind, local.endpoint_url, dict(_FAKE_AWS_ENV), local)
        elif kind == "rgw":
            endpoint = os.environ.get("S3SESSIONS_RGW_ENDPOINT")
            if not endpoint:
                pytest.exit("S3SESSIONS_TEST_S3=rgw needs scripts/ceph-rgw.sh start (S3SESSIONS_RGW_ENDPOINT)", 2)
            environment = {
                **_FAKE_AWS_ENV,
                "AWS_ACCESS_KEY_ID": os.environ["S3SESSIONS_RGW_ACCESS_KEY"],
                "AWS_SECRET_ACCESS_KEY": os.environ["S3SESSIONS_RGW_SECRET_KEY"],
            }
            environment.pop("AWS_SESSION_TOKEN")
            os.environ.pop("AWS_SESSION_TOKEN", None)
            os.environ.update(environment)
            yield S3Server(kind, endpoint, environment)
        else:
            if "S3SESSIONS_TEST_BUCKET" not in os.environ:
                pytest.exit("S3SESSIONS_TEST_S3=external needs S3SESSIONS_TEST_BUCKET (a bucket for tests only)", 2)
            yield S3Server(kind, os.environ.get("S3SESSIONS_TEST_ENDPOINT"), {})
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def local_s3(s3_server: S3Server) -> Any:
    """The embedded moto server itself (for tests marked ``moto_only``)."""
    if s3_server.local is None:
        pytest.skip("needs the embedded moto server")
    return s3_server.local


@pytest.fixture
def s3_endpoint(s3_server: S3Server) -> str | None:
    """An S3 holding one empty bucket, `BUCKET`; returns its endpoint URL."""
    s3_server.fresh_bucket()
    return s3_server.endpoint_url


@pytest.fixture
def s3(s3_endpoint: str | None, s3_server: S3Server) -> Any:
    """A boto3 client of the S3 under test (for looking at the bucket directly)."""
    return s3_server.client()


@pytest.fixture
def clock() -> SettableClock:
    """A settable clock shared by managers under comparison (Unix seconds)."""
    return SettableClock()


@pytest.fixture
def fixed_clock(clock: SettableClock) -> SettableClock:
    return clock


@pytest.fixture
async def s3_manager(s3_endpoint: str | None) -> AsyncIterator[S3SessionManager]:
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
    """Registers a RequestCounter on the manager's client for this event loop (creating it if needed)."""
    counter = RequestCounter()
    client = await manager.store.client()  # type: ignore[attr-defined]
    client.meta.events.register("before-send.s3", counter)
    return counter
