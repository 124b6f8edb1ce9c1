"""`fsck`: find and repair what crashes leave behind: orphaned objects and stale index entries (layer 3).

The protocols never tear a session: the head is the commit point, written last on create and update and removed
first on delete. A crash between steps can only leave (a) segments no head references (a save that died before
its head, a merge or rewind that dropped them, a delete that died after the head), and (b) index entries that
lag the heads. Both are harmless to readers; `fsck` reports them and, with ``repair=True``, deletes the orphans
and rebuilds the index entries from the heads.

Objects younger than ``grace_seconds`` are never called orphans: a save in progress uploads its segments
before its head, so a young unreferenced segment may be about to be referenced.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from .errors import CorruptObject, SessionNotFound
from .manager import S3SessionManager
from .records import HeadRecord, IndexEntry
from .store import ObjectInfo
from .validation import new_session_id

DEFAULT_GRACE_SECONDS = 3600
_CONCURRENCY = 32


@dataclass
class FsckReport:
    """What `fsck` found (and, with repair, fixed).

    Attributes:
        sessions: How many sessions have a readable head.
        orphans: Keys under ``sessions/`` that no head references (older than the grace period).
        young_unreferenced: Unreferenced keys left alone because they are younger than the grace period.
        missing_segments: Keys a head references that do not exist (the session cannot be resumed).
        corrupt: ``(key, reason)`` for heads that cannot be decoded (their objects are never touched).
        corrupt_index: Index shards that cannot be decoded (repair rewrites them from the heads).
        stale_entries: Ids whose index entry has no head or lags its head.
        missing_entries: Ids with a head but no index entry.
        repaired: True if the orphans were deleted and the index rebuilt.
    """

    sessions: int = 0
    orphans: list[str] = field(default_factory=list)
    young_unreferenced: list[str] = field(default_factory=list)
    missing_segments: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    corrupt_index: list[str] = field(default_factory=list)
    stale_entries: list[str] = field(default_factory=list)
    missing_entries: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        """True if nothing needs repair or attention (young unreferenced objects are normal)."""
        return not (
            self.orphans
            or self.missing_segments
            or self.corrupt
            or self.corrupt_index
            or self.stale_entries
            or self.missing_entries
        )

    def summary(self) -> list[str]:
        """Returns one line per finding, for people."""
        lines = [f"{self.sessions} session(s) checked"]
        lines += [f"orphan object: {key}" for key in self.orphans]
        lines += [f"missing segment: {key}" for key in self.missing_segments]
        lines += [f"corrupt head: {key}: {reason}" for key, reason in self.corrupt]
        lines += [f"corrupt index shard: {key}" for key in self.corrupt_index]
        lines += [f"stale index entry: {session_id}" for session_id in self.stale_entries]
        lines += [f"missing index entry: {session_id}" for session_id in self.missing_entries]
        if self.young_unreferenced:
            lines.append(
                f"{len(self.young_unreferenced)} unreferenced object(s) younger than the grace period left alone"
            )
        lines.append(("repaired" if self.repaired else "clean") if self.clean or self.repaired else "needs repair")
        return lines


async def fsck(
    manager: S3SessionManager,
    *,
    repair: bool = False,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    now: float | None = None,
) -> FsckReport:
    """Checks every session under the manager's prefix against its index and, if asked, repairs.

    Args:
        manager: The manager whose bucket and prefix to check.
        repair: Delete orphans (every version, on a versioned bucket, for sessions with no head) and rebuild
            index entries that are stale or missing.
        grace_seconds: Unreferenced objects younger than this are left alone (a save may be in progress).
        now: The current Unix time (tests pass one; default: the system clock).

    S3 requests: one paginated LIST of ``sessions/``, a GET per head, one wave of index shard GETs; with repair,
    DeleteObjects per 1,000 orphans and a GET and PUT per index shard.
    """
    report = FsckReport()
    layout = manager.layout
    scan_started = new_session_id()
    current_time = time.time() if now is None else now
    listing = await manager.store.list_objects(layout.sessions_root)
    by_session: dict[str | None, list[ObjectInfo]] = defaultdict(list)
    for item in listing:
        by_session[layout.session_id_of(item.key)].append(item)
    heads: dict[str, tuple[str, HeadRecord]] = {}
    semaphore = asyncio.Semaphore(_CONCURRENCY)

    async def read_head(session_id: str) -> None:
        async with semaphore:
            try:
                heads[session_id] = await manager._read_head(session_id)
            except CorruptObject as exc:
                report.corrupt.append((layout.head(session_id), str(exc)))
            except SessionNotFound:
                pass  # deleted since the listing

    head_ids = [sid for sid, items in by_session.items() if sid is not None and _has_head(layout.head(sid), items)]
    await asyncio.gather(*(read_head(session_id) for session_id in head_ids))
    corrupt_ids = {session_id for session_id in head_ids if session_id not in heads}
    report.sessions = len(heads)

    headless: list[str] = []
    for session_id, items in by_session.items():
        if session_id in corrupt_ids:
            continue  # never touch the objects of a session we cannot read
        referenced: set[str] = set()
        if session_id is not None and session_id in heads:
            _, head = heads[session_id]
            referenced = {layout.head(session_id)} | {layout.segment(session_id, ref.digest) for ref in head.segments}
            present = {item.key for item in items}
            report.missing_segments += sorted(referenced - present)
        unreferenced = [item for item in items if item.key not in referenced]
        for item in unreferenced:
            young = current_time - item.modified < grace_seconds
            (report.young_unreferenced if young else report.orphans).append(item.key)
        if (
            session_id is not None
            and session_id not in heads
            and not any(current_time - item.modified < grace_seconds for item in items)
        ):
            headless.append(session_id)

    wanted = {session_id: IndexEntry.from_head(etag, head) for session_id, (etag, head) in heads.items()}
    try:
        indexed = await manager.index.entries()
    except CorruptObject as exc:
        report.corrupt_index.append(exc.key or "index")
        indexed = await manager.index.entries(replace_corrupt=True)
    for session_id, entry in sorted(indexed.items()):
        found = wanted.get(session_id)
        if session_id in corrupt_ids:
            continue
        if (found is None and entry.incarnation < scan_started) or (found is not None and found.is_newer_than(entry)):
            report.stale_entries.append(session_id)
    report.missing_entries = sorted(set(wanted) - set(indexed))
    report.orphans.sort()
    report.missing_segments.sort()

    if repair and not report.clean:
        await _delete_leftovers(manager, report, headless, current_time - grace_seconds)
        kept = {sid: entry for sid, entry in indexed.items() if sid in corrupt_ids}
        await manager.index.rebuild({**kept, **wanted}, created_before=scan_started)
        report.repaired = True
    return report


def _has_head(head_key: str, items: list[ObjectInfo]) -> bool:
    return any(item.key == head_key for item in items)


async def _delete_leftovers(manager: S3SessionManager, report: FsckReport, headless: list[str], cutoff: float) -> None:
    """Deletes the orphans found, re-checking each session's head first: a save or a re-create may have
    started referencing a key since the listing (segments are content-addressed, so a key can come back)."""
    layout = manager.layout
    by_session: dict[str | None, list[str]] = defaultdict(list)
    for key in report.orphans:
        by_session[layout.session_id_of(key)].append(key)
    doomed_keys: list[str] = []
    doomed_versions = []
    for session_id, keys in by_session.items():
        versions = []
        if session_id in headless:
            versions = await manager.store.list_versions(layout.session_prefix(session_id))
        # Read the head after listing: whatever a head written meanwhile references is spared.
        live = await manager._live_keys(session_id) if session_id is not None else set()
        doomed_keys += [key for key in keys if key not in live]
        if session_id in headless and not live:
            # Every version of a session with no head, but only those older than the grace period.
            doomed_versions += [version for version in versions if version.modified < cutoff]
    await manager.store.delete_versions(doomed_versions)
    versioned = {version.key for version in doomed_versions}
    await manager.store.delete_keys([key for key in doomed_keys if key not in versioned])
