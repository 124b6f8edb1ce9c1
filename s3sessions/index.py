"""The metadata index: sharded objects of session entries, updated by compare-and-swap (layer 3).

The index is a cache of the heads, kept so that `list()` costs one parallel wave of GETs however many sessions
there are. It is never the truth: a session exists iff its head does, and `rebuild` recreates every shard from
the heads. Entries order by (incarnation, revision), so a late or repeated update never replaces a newer entry,
and a delete leaves a tombstone (pruned after a day) so that a delayed update cannot resurrect the session.

The shard count lives in the manifest, created once with ``If-None-Match: *``, so that managers built with
different settings agree on where an entry lives.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping

from .errors import CorruptObject, InvalidInput, ObjectMissing, PreconditionFailed, StorageError
from .keys import KeyLayout, shard_of
from .records import IndexEntry, IndexShard, Manifest, decode_record, encode_record
from .store import ObjectStore

log = logging.getLogger("s3sessions.index")

DEFAULT_SHARD_COUNT = 32
"""Chosen from benchmarks/hot_index.py: with 64 sustained writers, 32 shards is the smallest count at which no
index update ran out of retries (results in benchmarks/results/hot_index.md); list costs one GET per shard."""
MAX_SHARD_COUNT = 1024
CAS_ATTEMPTS = 16
TOMBSTONE_SECONDS = 24 * 3600
_BACKOFF_BASE = 0.02
_BACKOFF_CAP = 1.0


class MetadataIndex:
    """Reads and updates the index shards of one prefix, caching each shard's last seen ETag and content.

    Args:
        store: The object store.
        layout: The key layout of the prefix.
        shard_count: The count to write into a new manifest; an existing manifest's count always wins.
        max_bytes: Decompressed size cap for index objects.
        clock: Returns Unix seconds (for tombstone expiry).
    """

    def __init__(
        self,
        store: ObjectStore,
        layout: KeyLayout,
        *,
        shard_count: int,
        max_bytes: int,
        clock: Callable[[], int],
    ) -> None:
        if not isinstance(shard_count, int) or not 1 <= shard_count <= MAX_SHARD_COUNT:
            raise InvalidInput(f"invalid shard_count {shard_count!r}: use 1-{MAX_SHARD_COUNT}")
        self._store = store
        self._layout = layout
        self._wanted_shard_count = shard_count
        self._shard_count: int | None = None
        self._manifest_lock = asyncio.Lock()
        self._max_bytes = max_bytes
        self._clock = clock
        self._shards: dict[int, tuple[str | None, IndexShard]] = {}
        self.conflicts = 0
        """Lost CAS rounds on index shards since this index was created (a measure of index contention)."""

    async def shard_count(self, *, create: bool = True) -> int | None:
        """Returns the shard count from the manifest, creating the manifest on first write to a prefix.

        Args:
            create: Write a new manifest if there is none; with False, an absent manifest returns None (so
                that reads, `list` and `fsck`, never write to a prefix that holds nothing yet).
        """
        if self._shard_count is not None:
            return self._shard_count
        async with self._manifest_lock:
            if self._shard_count is None:
                self._shard_count = await self._load_manifest(create=create)
        return self._shard_count

    async def _write_shard_count(self) -> int:
        count = await self.shard_count(create=True)
        assert count is not None
        return count

    async def _load_manifest(self, *, create: bool) -> int | None:
        key = self._layout.manifest
        for _ in range(3):
            try:
                stored = await self._store.get(key, max_bytes=self._max_bytes)
            except ObjectMissing:
                if not create:
                    return None
                body = encode_record(Manifest(shard_count=self._wanted_shard_count), max_bytes=self._max_bytes)
                try:
                    await self._store.put(key, body, if_none_match=True)
                except PreconditionFailed:
                    continue  # another manager created it first: read theirs
                return self._wanted_shard_count
            manifest = decode_record(stored.body, Manifest, max_bytes=self._max_bytes, key=key)
            if not 1 <= manifest.shard_count <= MAX_SHARD_COUNT:
                raise CorruptObject(f"manifest shard count {manifest.shard_count} out of range", key=key)
            return manifest.shard_count
        raise StorageError("the manifest kept changing while being read", key=key)

    async def _read_shard(self, shard: int, *, replace_corrupt: bool = False) -> tuple[str | None, IndexShard]:
        """Returns a shard's ETag and content (None and empty if absent).

        Args:
            replace_corrupt: Treat an undecodable shard as empty (writers then overwrite it, by CAS on its ETag):
                the index is a cache of the heads, so losing a broken shard's entries costs only a reindex.
        """
        key = self._layout.index_shard(shard)
        try:
            stored = await self._store.get(key, max_bytes=self._max_bytes)
        except ObjectMissing:
            result: tuple[str | None, IndexShard] = (None, IndexShard())
        else:
            try:
                result = (stored.etag, decode_record(stored.body, IndexShard, max_bytes=self._max_bytes, key=key))
            except CorruptObject as exc:
                if not replace_corrupt:
                    raise
                log.warning("index shard %s is corrupt and will be rewritten (run reindex to refill it): %s", key, exc)
                result = (stored.etag, IndexShard())
        self._shards[shard] = result
        return result

    async def entries(self, *, replace_corrupt: bool = False) -> dict[str, IndexEntry]:
        """Returns every live entry, reading all shards in one parallel wave.

        Args:
            replace_corrupt: Read an undecodable shard as empty instead of raising `CorruptObject` (repair paths).
        """
        count = await self.shard_count(create=False)
        if count is None:
            return {}  # nothing was ever written under this prefix
        shards = await asyncio.gather(
            *(self._read_shard(shard, replace_corrupt=replace_corrupt) for shard in range(count))
        )
        return {
            session_id: entry for _, shard in shards for session_id, entry in shard.entries.items() if not entry.deleted
        }

    async def update(self, session_id: str, entry: IndexEntry) -> None:
        """Stores the entry unless the shard already holds a newer one (CAS with bounded retry and jitter).

        Raises:
            StorageError: if every attempt lost its race or S3 failed.
        """

        def with_entry(entries: dict[str, IndexEntry]) -> dict[str, IndexEntry] | None:
            existing = entries.get(session_id)
            if existing is not None and not entry.is_newer_than(existing):
                return None
            entries[session_id] = entry
            return entries

        shard = shard_of(session_id, await self._write_shard_count())
        await self._compare_and_swap(shard, with_entry, replace_corrupt=True)

    async def rebuild(self, entries: Mapping[str, IndexEntry], *, created_before: str) -> None:
        """Makes every shard hold exactly the given entries, by CAS per shard, without undoing concurrent work.

        Args:
            entries: Entries read from the heads (the truth: a live head's entry beats any tombstone).
            created_before: An incarnation-ordered id taken before the heads were listed: an existing entry that
                is not in ``entries`` is kept if its incarnation is newer (its session was created during the
                scan), and so is any entry of the same session that is newer than the one in ``entries``.
                Tombstones are kept until they expire, so that a late update cannot bring a deleted session back.
        """
        count = await self._write_shard_count()
        grouped: dict[int, dict[str, IndexEntry]] = {shard: {} for shard in range(count)}
        for session_id, entry in entries.items():
            grouped[shard_of(session_id, count)][session_id] = entry

        def rebuilt(shard: int) -> Callable[[dict[str, IndexEntry]], dict[str, IndexEntry]]:
            def transform(current: dict[str, IndexEntry]) -> dict[str, IndexEntry]:
                wanted = dict(grouped[shard])
                for session_id, existing in current.items():
                    found = wanted.get(session_id)
                    if found is None:
                        keep = existing.deleted or existing.incarnation > created_before
                    else:
                        keep = not existing.deleted and existing.is_newer_than(found)
                    if keep:
                        wanted[session_id] = existing
                return dict(sorted(wanted.items()))

            return transform

        await asyncio.gather(
            *(self._compare_and_swap(shard, rebuilt(shard), replace_corrupt=True) for shard in range(count))
        )

    async def _compare_and_swap(
        self,
        shard: int,
        transform: Callable[[dict[str, IndexEntry]], dict[str, IndexEntry] | None],
        *,
        replace_corrupt: bool = False,
    ) -> None:
        """Applies ``transform`` to a shard's entries and writes the result with If-Match, retrying lost races
        with jittered backoff. ``transform`` returns None when there is nothing to write."""
        key = self._layout.index_shard(shard)
        for attempt in range(CAS_ATTEMPTS):
            etag, current = self._shards.get(shard) or await self._read_shard(shard, replace_corrupt=replace_corrupt)
            entries = transform(self._pruned(current.entries))
            if entries is None:
                return
            updated = IndexShard(entries=entries)
            body = encode_record(updated, max_bytes=self._max_bytes)
            try:
                new_etag = await self._store.put(key, body, if_match=etag, if_none_match=etag is None)
            except (PreconditionFailed, ObjectMissing):
                self.conflicts += 1
                self._shards.pop(shard, None)
                await asyncio.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)))
                continue
            except StorageError:
                self._shards.pop(shard, None)  # the write may or may not have landed: re-read next time
                raise
            self._shards[shard] = (new_etag, updated)
            return
        raise StorageError(f"index shard still contended after {CAS_ATTEMPTS} attempts", key=key)

    def _pruned(self, entries: Mapping[str, IndexEntry]) -> dict[str, IndexEntry]:
        horizon = self._clock() - TOMBSTONE_SECONDS
        return {
            session_id: entry
            for session_id, entry in entries.items()
            if not (entry.deleted and entry.updated_at < horizon)
        }
