"""The store probe: does this S3 enforce conditional writes, and in which dialect? (DESIGN.md, "Real S3")

Run once per prefix, when a manager creates the prefix's manifest, on a scratch key under the prefix; the
result is recorded in the manifest and every manager follows it. The checks:

1. ``create-only``: ``If-None-Match: *`` over an existing key is refused (412).
2. ``update-with-current-etag``: ``If-Match`` with the current ETag succeeds, quoted as S3 returns it, else
   unquoted (Ceph RGW matches only the bare ETag): the dialect records which.
3. ``stale-etag-refused``: ``If-Match`` with a stale ETag is refused (412).
4. ``conditional-delete``: DeleteObject with a stale ``If-Match`` is refused (AWS since 2025-09, moto) or
   ignored (RGW). Either is safe; the delete protocol adapts.

A store that fails 1-3 would lose updates (Ceph RGW on a bucket with versioning enabled; Google Cloud Storage's
S3 API, which has no ETag write preconditions): it is refused with `StorageError` naming the failed check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from ..errors import ObjectMissing, PreconditionFailed, StorageError, WriteConflict
from ..formats.keys import KeyLayout
from ..formats.records import Dialect, ProbeCheck
from ..retry import backoff
from ..storage.protocol import ObjectStore
from .objects import new_upload_id

log = logging.getLogger("s3sessions.probe")
_LOST = (PreconditionFailed, ObjectMissing)
_CONFLICT_RETRIES = 8
_T = TypeVar("_T")


@dataclass(frozen=True)
class ProbeReport:
    """What the probe found: each check's outcome, the dialect to use, and whether the store is safe."""

    checks: list[ProbeCheck]
    dialect: Dialect

    @property
    def safe(self) -> bool:
        return all(check.passed for check in self.checks if check.name != "conditional-delete")

    @property
    def failed(self) -> ProbeCheck | None:
        return next((check for check in self.checks if not check.passed and check.name != "conditional-delete"), None)

    def refusal(self) -> StorageError:
        """The error that refuses an unsafe store, naming the check that failed."""
        failed = self.failed
        assert failed is not None
        return StorageError(
            f"this store does not enforce conditional writes (probe check {failed.name!r} failed: {failed.detail});"
            " s3sessions would lose updates on it. A bucket with versioning on Ceph RGW, or Google Cloud Storage,"
            " is refused: see `s3sessions check`"
        )

    def lines(self) -> list[str]:
        """One line per check, then the dialect, for people."""
        lines = [f"{'ok  ' if check.passed else 'FAIL'}  {check.name}: {check.detail}" for check in self.checks]
        lines.append(
            f"dialect: If-Match {self.dialect.if_match}, conditional delete"
            f" {'honoured' if self.dialect.conditional_delete else 'ignored'}"
        )
        lines.append("safe" if self.safe else f"UNSAFE: {self.failed.name if self.failed else ''}")
        return lines


async def probe_store(store: ObjectStore, layout: KeyLayout) -> ProbeReport:
    """Runs the probe on a fresh scratch key under the layout's prefix and removes the key afterwards."""
    key = f"{layout.probe_root}{new_upload_id()}"
    checks: list[ProbeCheck] = []
    if_match: Literal["quoted", "unquoted"] = "quoted"
    conditional_delete = False
    try:
        first = await _settled(lambda: store.put(key, b"probe-1", if_none_match=True))
        checks.append(await _refused("create-only", lambda: store.put(key, b"probe-2", if_none_match=True)))
        second: str | None = None
        for dialect in (Dialect(if_match="quoted"), Dialect(if_match="unquoted")):
            condition = dialect.match_value(first)
            try:
                second = await _settled(lambda: store.put(key, b"probe-3", if_match=condition))  # noqa: B023
            except _LOST:
                continue
            if_match = dialect.if_match
            break
        if second is None:
            checks.append(ProbeCheck(name="update-with-current-etag", passed=False, detail="refused, quoted or not"))
        else:
            checks.append(ProbeCheck(name="update-with-current-etag", passed=True, detail=f"accepted ({if_match})"))
            stale = Dialect(if_match=if_match).match_value(first)
            checks.append(await _refused("stale-etag-refused", lambda: store.put(key, b"probe-4", if_match=stale)))
            delete = await _refused("conditional-delete", lambda: store.delete(key, if_match=stale))
            conditional_delete = delete.passed
            checks.append(
                delete.model_copy(
                    update={"detail": "honoured" if delete.passed else "ignored (deletes unconditionally)"}
                )
            )
    finally:
        with contextlib.suppress(StorageError):
            await store.delete(key)
            versions = await store.list_versions(key)
            await store.delete_versions([version for version in versions if version.key == key])
    report = ProbeReport(checks, Dialect(if_match=if_match, conditional_delete=conditional_delete))
    log.info("store probe: %s", "; ".join(report.lines()))
    return report


async def _settled(request: Callable[[], Awaitable[_T]]) -> _T:
    """Makes a conditional request, again after a 409 ConditionalRequestConflict (it did not take effect)."""
    for attempt in range(_CONFLICT_RETRIES):
        try:
            return await request()
        except WriteConflict:
            if attempt + 1 == _CONFLICT_RETRIES:
                raise
            await backoff(attempt)
    raise AssertionError("unreachable")


async def _refused(name: str, request: Callable[[], Awaitable[object]]) -> ProbeCheck:
    """Makes a request that must be refused with 412 (or 404 for a conditional request on an absent key)."""
    try:
        await _settled(request)
    except _LOST:
        return ProbeCheck(name=name, passed=True, detail="refused (412)")
    return ProbeCheck(name=name, passed=False, detail="accepted")
