"""Scanning a prefix: every session's head, and planning and applying index repairs (shared by reindex and fsck).

Repairs never go backwards (DESIGN.md): an entry is written only after the head it describes was read, and
deleted again if the head changed meanwhile; an entry is deleted only after the head was checked again, so a
repair never resurrects a session deleted after its scan, never drops the entry of a commit that landed after
it, and never depends on comparing the clocks of two machines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine.index import RawEntry
from ..engine.objects import HeadState, TombstoneState
from ..errors import AgentError, CorruptObject, InvalidInput, ObjectMissing, SessionNotFound
from ..formats.keys import fanout_bucket_of
from ..formats.listing import parse_entry_name, parse_listing
from ..manager import S3SessionManager
from ..waves import gather

log = logging.getLogger("s3sessions.admin")
CONCURRENCY = 32


@dataclass
class HeadScan:
    """Every session folder of a prefix and what its head key holds."""

    live: dict[str, HeadState] = field(default_factory=dict)
    tombstones: dict[str, TombstoneState] = field(default_factory=dict)
    corrupt: dict[str, str] = field(default_factory=dict)
    headless: list[str] = field(default_factory=list)


async def scan_heads(manager: S3SessionManager, progress: Callable[[int, int], None] | None = None) -> HeadScan:
    """Reads the head of every session folder under the prefix (at most `CONCURRENCY` at once)."""
    layout = manager.layout
    folders = await manager.store.list_prefixes(layout.sessions_root)
    session_ids = sorted(sid for folder in folders if (sid := layout.session_id_of(folder)) is not None)
    scan = HeadScan()
    semaphore = asyncio.Semaphore(CONCURRENCY)
    done = 0

    async def read(session_id: str) -> None:
        nonlocal done
        async with semaphore:
            try:
                stored = await manager.objects.read_head(session_id)
            except SessionNotFound:
                scan.headless.append(session_id)
            except CorruptObject as exc:
                scan.corrupt[session_id] = str(exc)
                log.warning("session %s has a corrupt head (left alone): %s", session_id, exc)
            else:
                if isinstance(stored, TombstoneState):
                    scan.tombstones[session_id] = stored
                else:
                    scan.live[session_id] = stored
        done += 1
        if progress is not None:
            progress(done, len(session_ids))

    if progress is not None:
        progress(0, len(session_ids))
    await gather(read(session_id) for session_id in session_ids)
    scan.headless.sort()
    return scan


@dataclass
class IndexPlan:
    """What the index lacks and holds too much of, against the heads."""

    missing: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    ghosts: list[str] = field(default_factory=list)
    poison: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)
    present: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.ghosts or self.poison)


async def plan_index(manager: S3SessionManager, heads: HeadScan, entries: list[RawEntry], fanout: int) -> IndexPlan:
    """Compares the index keys with the heads: one expected entry per live head, nothing else."""
    expected = {sid: manager.index.entry(sid, state.record, state.etag, fanout) for sid, state in heads.live.items()}
    plan = IndexPlan()
    present: set[str] = set()
    for raw in entries:
        if manager.layout.is_legacy_shard(raw.key):
            plan.legacy.append(raw.key)
            continue
        parsed = raw.parsed
        bucket = manager.layout.index_bucket(fanout_bucket_of(parsed.session_id, fanout)) if parsed else None
        if parsed is not None and parsed.session_id in heads.live and raw.key == expected[parsed.session_id][0]:
            if await _valid(manager, raw):
                present.add(parsed.session_id)
            # else: the right key with a damaged body: left missing, so it is written again (and never deleted)
        elif parsed is None or bucket is None or not raw.key.startswith(bucket) or not await _valid(manager, raw):
            plan.poison.append(raw.key)
        elif parsed.session_id in heads.corrupt:
            continue  # never touch what belongs to a session we cannot read
        elif parsed.session_id in heads.live:
            plan.stale.append(raw.key)
        else:
            plan.ghosts.append(raw.key)
    plan.missing = {sid: entry for sid, entry in expected.items() if sid not in present}
    plan.present = len(present)
    return plan


async def _valid(manager: S3SessionManager, raw: RawEntry) -> bool:
    assert raw.parsed is not None
    try:
        if raw.parsed.listing is None:
            listing = await manager.index.listing(raw.key, raw.parsed)
        else:
            listing = parse_listing(raw.parsed, raw.parsed.listing)
        await manager.index.with_summary(raw.key, listing, strict=True)  # a summary body counts too
    except (InvalidInput, CorruptObject, ObjectMissing):
        return False
    return True


async def apply_index_plan(manager: S3SessionManager, plan: IndexPlan, heads: HeadScan) -> None:
    """Writes the missing entries and deletes the others, checking each session's head again around it."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def write(session_id: str, key: str, body: bytes) -> None:
        async with semaphore:
            await manager.store.put(key, body)
            if await _current_etag(manager, session_id) != heads.live[session_id].etag:
                await manager.store.delete_keys([key])  # the head moved on: its own commit wrote its entry

    async def remove(key: str) -> None:
        parsed = parse_entry_name(key.removeprefix(manager.layout.index_root).partition("/")[2])
        if parsed is None:
            return
        async with semaphore:
            etag = await _current_etag(manager, parsed.session_id)
            scanned = heads.live.get(parsed.session_id)
            if etag is not None and parsed.version == etag.strip('"') and (scanned is None or scanned.etag != etag):
                return  # it describes the head there now: a commit landed after the scan
            # (the head the scan read, unchanged, has exactly one entry: the expected one, written or kept)
            await manager.store.delete_keys([key])

    await gather(
        [
            *(write(sid, key, body) for sid, (key, body) in plan.missing.items()),
            *(remove(key) for key in [*plan.stale, *plan.ghosts]),
        ]
    )
    if plan.poison:
        await manager.index.remove(plan.poison)


async def _current_etag(manager: S3SessionManager, session_id: str) -> str | None:
    """The ETag of the session's live head now (None: absent or a tombstone)."""
    try:
        meta = await manager.store.head(manager.layout.head(session_id))
    except ObjectMissing:
        return None
    except AgentError:
        raise
    return None if meta.metadata.get("deleted") else meta.etag
