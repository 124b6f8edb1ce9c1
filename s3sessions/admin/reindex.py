"""`reindex`: rebuild a prefix's index from the heads, and convert a format-1 prefix to index format 2.

The heads are the truth, whatever their revision (a head restored from an older version is the truth): the
index ends with exactly one entry per live head, the one its next commit would replace. Safe beside live
writers (see `admin.scan`). A format-1 prefix (32 sharded index objects) is converted: the entries are written,
then the manifest is replaced by a format-2 one (``If-Match`` on the old, after probing the store), then the
old shards are deleted; format-2 managers refuse the prefix until the manifest is replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import ObjectMissing
from ..manager import S3SessionManager
from .scan import apply_index_plan, plan_index, scan_heads

log = logging.getLogger("s3sessions.admin")


async def reindex(manager: S3SessionManager, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuilds the index of the manager's prefix from the heads; returns how many sessions it lists.

    Args:
        manager: The manager of the prefix.
        progress: Called as ``progress(heads_read, heads_total)`` while heads are read.

    S3 requests: LIST the session folders, GET every head (32 at once), LIST the index; then a PUT and a HEAD
    per missing entry and a HEAD and a DELETE per stale one; converting a format-1 prefix also runs the store
    probe, replaces the manifest and deletes the old shards.
    """
    layout = manager.layout
    try:
        stored_manifest = await manager.store.get(layout.manifest, max_bytes=manager.objects.max_bytes)
    except ObjectMissing:
        stored_manifest = None
    manifest = await manager.manifest.read() if stored_manifest is not None else None
    converting = manifest is not None and manifest.index_format != 2
    heads = await scan_heads(manager, progress)
    if manifest is None and not heads.live:
        return 0
    fanout = manifest.fanout if manifest is not None and not converting else manager.manifest.wanted_fanout
    plan = await plan_index(manager, heads, await manager.index.scan(), fanout)
    await apply_index_plan(manager, plan, heads)
    if manifest is None or converting:
        manager.manifest.forget()
        await _new_manifest(manager, stored_manifest.etag if converting and stored_manifest else None)
    if plan.legacy:
        await manager.store.delete_keys(plan.legacy)
        log.info(
            "reindex: converted %r to index format 2 (%d format-1 shards removed)", layout.prefix, len(plan.legacy)
        )
    return len(heads.live) + len(heads.corrupt)  # a corrupt head's entries are kept as they were


async def _new_manifest(manager: S3SessionManager, replace_etag: str | None) -> None:
    """Probes the store and writes a format-2 manifest (over a format-1 one when converting)."""
    if replace_etag is None:
        await manager.manifest.require()
    else:
        await manager.manifest.create(replace_etag=replace_etag)
