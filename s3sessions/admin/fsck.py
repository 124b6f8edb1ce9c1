"""`fsck`: find and repair what crashes and races leave behind, without ever tearing a session.

The protocols never tear a session: the head is the commit point, written last on create and update, replaced
by a tombstone first on delete. A crash between steps can only leave (a) objects no head references (a save
that died before its head, segments a merge or rewind dropped, a delete that stopped midway), (b) index
entries that are missing, duplicated or whose session is gone, and (c) a delete's tombstone whose clean-up did
not finish. All are harmless to readers; `fsck` reports them and, with ``repair=True``, removes them.

Objects younger than ``grace_seconds`` are never called orphans: a save in progress uploads its segments before
its head. Every upload has a key of its own, and a save never references an upload older than
`engine.saving.MAX_UPLOAD_AGE`, so an old unreferenced object can never come to be referenced: deleting it is
safe. Each session's head is read again right before its objects are deleted, sparing whatever it references.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

from ..engine.objects import HeadState, new_upload_id
from ..engine.saving import MAX_UPLOAD_AGE
from ..errors import CorruptObject, InvalidInput, ObjectMissing, SessionNotFound, StorageError
from ..manager import S3SessionManager
from ..storage.protocol import ObjectInfo
from ..waves import gather
from .scan import CONCURRENCY, HeadScan, IndexPlan, apply_index_plan, plan_index, scan_heads

DEFAULT_GRACE_SECONDS = 3600
MIN_GRACE_SECONDS = MAX_UPLOAD_AGE + 60
"""A shorter grace could collect an upload that a save still in flight is about to reference."""


@dataclass
class FsckReport:
    """What `fsck` found (and, with repair, fixed).

    Attributes:
        sessions: How many sessions have a readable live head.
        orphans: Keys under ``sessions/`` that no head references (older than the grace period).
        young_unreferenced: Unreferenced keys left alone because they are younger than the grace period.
        missing_segments: Keys a head references that do not exist (the session cannot be resumed).
        corrupt: ``(key, reason)`` for heads that cannot be decoded (their objects are never touched).
        corrupt_index: Index keys that are not valid entries, and the manifest if it cannot be decoded.
        missing_entries: Ids with a live head but no entry describing it.
        duplicate_entries: Ids with their entry plus others that describe older heads.
        stale_entries: Ids whose only entries describe older heads.
        ghost_entries: Ids with entries but no live head (deleted, or never committed).
        unfinished_deletes: Ids whose delete stopped before its clean-up finished.
        format_one_index: The prefix still has a format-1 index (`reindex` converts it).
        repaired: True if everything found was repaired.
    """

    sessions: int = 0
    orphans: list[str] = field(default_factory=list)
    young_unreferenced: list[str] = field(default_factory=list)
    missing_segments: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    corrupt_index: list[str] = field(default_factory=list)
    missing_entries: list[str] = field(default_factory=list)
    duplicate_entries: list[str] = field(default_factory=list)
    stale_entries: list[str] = field(default_factory=list)
    ghost_entries: list[str] = field(default_factory=list)
    unfinished_deletes: list[str] = field(default_factory=list)
    format_one_index: bool = False
    repaired: bool = False

    @property
    def clean(self) -> bool:
        """True if nothing needs repair or attention (young unreferenced objects are normal)."""
        return not (
            self.orphans
            or self.missing_segments
            or self.corrupt
            or self.corrupt_index
            or self.missing_entries
            or self.duplicate_entries
            or self.stale_entries
            or self.ghost_entries
            or self.unfinished_deletes
            or self.format_one_index
        )

    def summary(self) -> list[str]:
        """Returns one line per finding, for people."""
        lines = [f"{self.sessions} session(s) checked"]
        if self.format_one_index:
            lines.append("format-1 index: run `s3sessions reindex` to convert it")
        lines += [f"orphan object: {key}" for key in self.orphans]
        lines += [f"missing segment: {key}" for key in self.missing_segments]
        lines += [f"corrupt head: {key}: {reason}" for key, reason in self.corrupt]
        lines += [f"invalid index key: {key}" for key in self.corrupt_index]
        lines += [f"missing index entry: {session_id}" for session_id in self.missing_entries]
        lines += [f"duplicate index entry: {session_id}" for session_id in self.duplicate_entries]
        lines += [f"stale index entry: {session_id}" for session_id in self.stale_entries]
        lines += [f"ghost index entry: {session_id}" for session_id in self.ghost_entries]
        lines += [f"unfinished delete: {session_id}" for session_id in self.unfinished_deletes]
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
    """Checks every session under the manager's prefix against its head and the index and, if asked, repairs.

    Args:
        manager: The manager whose bucket and prefix to check.
        repair: Finish unfinished deletes, delete orphans (every version, for folders with no head), rewrite
            a corrupt manifest, and bring the index in line with the heads.
        grace_seconds: Unreferenced objects younger than this are left alone (a save may be in progress); at
            least `MIN_GRACE_SECONDS`, unless ``now`` is given.
        now: The current Unix time on the store's clock (tests that control time pass one, and may then use any
            grace); default: S3's own clock, read from a scratch object, so a fast or slow local clock cannot make
            young objects look old.

    S3 requests: one paginated LIST of ``sessions/``, a GET per head, one LIST of the index; with repair,
    DeleteObjects per 1,000 orphans and the index repairs of `reindex`.
    """
    report = FsckReport()
    if now is None and not grace_seconds >= MIN_GRACE_SECONDS:
        raise InvalidInput(
            f"grace of {grace_seconds!r} s is below the {MIN_GRACE_SECONDS:.0f} s minimum: a save references its own"
            f" uploads for up to {MAX_UPLOAD_AGE:.0f} s"
        )
    current_time = await store_time(manager) if now is None else now
    manifest_ok = await _check_manifest(manager, report)
    listing = await manager.store.list_objects(manager.layout.sessions_root)
    by_session: dict[str, list[ObjectInfo]] = defaultdict(list)
    for item in listing:
        session_id = manager.layout.session_id_of(item.key)
        if session_id is not None:
            by_session[session_id].append(item)
    heads = await scan_heads(manager)
    report.sessions = len(heads.live)
    report.corrupt = sorted((manager.layout.head(sid), reason) for sid, reason in heads.corrupt.items())
    report.unfinished_deletes = sorted(sid for sid, dead in heads.tombstones.items() if not dead.record.cleaned)
    _find_orphans(manager, heads, by_session, report, current_time - grace_seconds)
    plan = IndexPlan()
    if manifest_ok and not report.format_one_index:
        fanout = (await manager.manifest.require()).fanout if heads.live else manager.manifest.wanted_fanout
        plan = await plan_index(manager, heads, await manager.index.scan(), fanout)
        _report_index(manager, plan, heads, report)
    if repair and not report.clean:
        await _repair(manager, report, heads, plan, current_time - grace_seconds)
        report.repaired = True
    return report


async def _check_manifest(manager: S3SessionManager, report: FsckReport) -> bool:
    try:
        manifest = await manager.manifest.read()
    except CorruptObject:
        report.corrupt_index.append(manager.layout.manifest)
        return False
    report.format_one_index = manifest is not None and manifest.index_format != 2
    return True


def _find_orphans(
    manager: S3SessionManager,
    heads: HeadScan,
    by_session: dict[str, list[ObjectInfo]],
    report: FsckReport,
    cutoff: float,
) -> None:
    layout = manager.layout
    for session_id, items in by_session.items():
        if session_id in heads.corrupt:
            continue  # never touch the objects of a session we cannot read
        referenced: set[str] = set()
        live = heads.live.get(session_id)
        dead = heads.tombstones.get(session_id)
        if live is not None:
            referenced = manager.objects.live_keys(session_id, live.record)
            present = {item.key for item in items}
            report.missing_segments += sorted(referenced - present)
        elif dead is not None:
            referenced = {layout.head(session_id)}
            if not dead.record.cleaned:  # the delete's own clean-up removes its incarnation's objects
                namespace = layout.segment_namespace(session_id, dead.record.incarnation)
                referenced |= {item.key for item in items if item.key.startswith(namespace)}
        for item in items:
            if item.key in referenced:
                continue
            (report.young_unreferenced if item.modified >= cutoff else report.orphans).append(item.key)
    report.orphans.sort()
    report.missing_segments.sort()


def _report_index(manager: S3SessionManager, plan: IndexPlan, heads: HeadScan, report: FsckReport) -> None:
    from ..formats.listing import parse_entry_name

    def session_of(key: str) -> str:
        parsed = parse_entry_name(key.removeprefix(manager.layout.index_root).partition("/")[2])
        return parsed.session_id if parsed else key

    report.corrupt_index += plan.poison
    report.missing_entries = sorted(plan.missing)
    stale_ids = sorted({session_of(key) for key in plan.stale})
    report.duplicate_entries = [sid for sid in stale_ids if sid not in plan.missing]
    report.stale_entries = [sid for sid in stale_ids if sid in plan.missing]
    report.ghost_entries = sorted({session_of(key) for key in plan.ghosts})


async def _repair(
    manager: S3SessionManager, report: FsckReport, heads: HeadScan, plan: IndexPlan, cutoff: float
) -> None:
    if manager.layout.manifest in report.corrupt_index:
        stored = await manager.store.head(manager.layout.manifest)
        await manager.manifest.create(replace_etag=stored.etag)
    for session_id in report.unfinished_deletes:
        await manager.deletion.finish(session_id, heads.tombstones[session_id])
    await _delete_orphans(manager, report, heads, cutoff)
    if report.format_one_index:
        await manager.reindex()
        return
    if manager.layout.manifest in report.corrupt_index:
        fanout = (await manager.manifest.require()).fanout
        plan = await plan_index(manager, heads, await manager.index.scan(), fanout)
    await apply_index_plan(manager, plan, heads)


async def _delete_orphans(manager: S3SessionManager, report: FsckReport, heads: HeadScan, cutoff: float) -> None:
    """Deletes the orphans found, re-reading each session's head first: whatever a head written since the
    listing references is spared (its key may have been listed as unreferenced)."""
    layout = manager.layout
    by_session: dict[str, list[str]] = defaultdict(list)
    for key in report.orphans:
        session_id = layout.session_id_of(key)
        if session_id is not None:
            by_session[session_id].append(key)
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def clean(session_id: str, keys: list[str]) -> None:
        async with semaphore:
            live: set[str] = set()
            headless = session_id not in heads.live and session_id not in heads.tombstones
            with contextlib.suppress(SessionNotFound, CorruptObject, ObjectMissing):
                current = await manager.objects.read_head(session_id)
                live = (
                    manager.objects.live_keys(session_id, current.record) if isinstance(current, HeadState) else set()
                )
                headless = False
            doomed = [key for key in keys if key not in live]
            if headless:  # every version of a folder with no head, but only those older than the grace period
                versions = await manager.store.list_versions(layout.session_prefix(session_id))
                await manager.store.delete_versions([v for v in versions if v.modified < cutoff and v.key in doomed])
            else:
                await manager.store.delete_keys(doomed)

    await gather(clean(session_id, keys) for session_id, keys in by_session.items())


async def store_time(manager: S3SessionManager) -> float:
    """Returns the store's current time: the last-modified time of a scratch object written now (and deleted)."""
    key = f"{manager.layout.probe_root}clock-{new_upload_id()}"
    await manager.store.put(key, b"")
    try:
        return (await manager.store.head(key)).modified
    finally:
        with contextlib.suppress(StorageError):
            await manager.store.delete(key)
