"""The conformance suite (`s3sessions.testing.conformance`) over every manager this project ships.

- ``memory``: `InMemorySessionManager`, the reference model.
- ``s3-memory-store``: `S3SessionManager` on `InMemoryObjectStore` (the whole engine, no HTTP).
- ``s3``: `S3SessionManager` on the S3 under test (moto by default; Ceph RGW or a real bucket, see conftest).
- ``sync``: `SyncSessionManager` over `S3SessionManager` on the S3 under test, driven from worker threads.

Off moto (``S3SESSIONS_TEST_S3=rgw``), only ``s3`` runs: the other three do not depend on the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import BUCKET, off_moto

from s3sessions import InMemorySessionManager, S3SessionManager, SessionManager, SyncSessionManager
from s3sessions.testing import InMemoryObjectStore
from s3sessions.testing.conformance import *  # noqa: F403

# Small bounds so that short test conversations exercise segments, sealing and partial references.
SMALL: dict[str, Any] = {"tail_bytes": 300, "segment_bytes": 900}


class _ThreadedSync(SessionManager):
    """Presents a `SyncSessionManager` as an async manager by calling it from worker threads."""

    def __init__(self, sync: SyncSessionManager) -> None:
        self._sync = sync

    def __getattribute__(self, name: str) -> Any:
        if name in {"list", "list_page", "resume", "save", "delete", "fork", "rewind", "tag", "rename", "update"}:
            method = getattr(object.__getattribute__(self, "_sync"), name)

            async def call(*args: Any, **kwargs: Any) -> Any:
                return await asyncio.to_thread(method, *args, **kwargs)

            return call
        return object.__getattribute__(self, name)

    list = list_page = resume = save = delete = fork = rewind = tag = rename = None  # type: ignore[assignment]


@pytest.fixture(params=["s3"] if off_moto() else ["memory", "s3-memory-store", "s3", "sync"])
async def manager(request, clock) -> AsyncIterator[SessionManager]:
    if request.param == "memory":
        yield InMemorySessionManager(clock=clock)
        return
    if request.param == "s3-memory-store":
        async with S3SessionManager(store=InMemoryObjectStore(), prefix="conf/", clock=clock, **SMALL) as s3:
            yield s3
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3SessionManager(bucket=BUCKET, prefix="conf/", endpoint_url=endpoint, clock=clock, **SMALL)
    if request.param == "s3":
        async with s3:
            yield s3
        return
    sync = SyncSessionManager(s3)
    try:
        yield _ThreadedSync(sync)
    finally:
        await asyncio.to_thread(sync.close)
