"""A prefix's manifest: the settings every manager must share (index fan-out, the store's dialect).

Created once per prefix with ``If-None-Match: *``, after the store probe (`engine.probe`) passed; an existing
manifest always wins over a constructor argument, so two managers built with different settings still agree
on where an index entry lives and how to write. Reads never write one: a prefix that holds nothing has none.
"""

from __future__ import annotations

import logging
import time

from ..errors import ObjectMissing, PreconditionFailed, StorageError, WriteConflict
from ..formats.bodies import decode_manifest, encode_record
from ..formats.keys import KeyLayout
from ..formats.records import ManifestRecord
from ..retry import backoff
from ..storage.protocol import ObjectStore
from .probe import probe_store

log = logging.getLogger("s3sessions.manifest")

DEFAULT_FANOUT = 4
"""Index fan-out buckets of a new prefix: spreads entry writes over S3 partitions; a page is one LIST each."""
MAX_FANOUT = 64
_ATTEMPTS = 5


class FormatOneIndex(StorageError):
    """The prefix still has the first release's sharded index: `s3sessions reindex` converts it."""


class Manifest:
    """Loads (and on the first write, creates) one prefix's manifest, and caches it.

    Args:
        store: The object store.
        layout: The prefix's key layout.
        fanout: The fan-out to write into a new manifest.
        max_bytes: Size cap for reading the manifest.
    """

    def __init__(self, store: ObjectStore, layout: KeyLayout, *, fanout: int, max_bytes: int) -> None:
        self._store = store
        self._layout = layout
        self._fanout = fanout
        self._max_bytes = max_bytes
        self._cached: ManifestRecord | None = None

    @property
    def wanted_fanout(self) -> int:
        """The fan-out a new manifest gets."""
        return self._fanout

    def forget(self) -> None:
        """Drops the cached manifest (after reindex replaced it)."""
        self._cached = None

    async def read(self) -> ManifestRecord | None:
        """Returns the stored manifest, whatever its format (None if the prefix has none)."""
        try:
            stored = await self._store.get(self._layout.manifest, max_bytes=self._max_bytes)
        except ObjectMissing:
            return None
        return decode_manifest(stored.body, max_bytes=self._max_bytes, key=self._layout.manifest)

    async def get(self, *, create: bool) -> ManifestRecord | None:
        """Returns the prefix's format-2 manifest; with ``create``, probes the store and writes one if absent.

        Raises:
            FormatOneIndex: the prefix has a format-1 index (run `s3sessions reindex`).
            StorageError: the store failed the probe (it would lose updates), or S3 failed.
        """
        if self._cached is not None:
            return self._cached
        for attempt in range(_ATTEMPTS):
            found = await self.read()
            if found is None and not create:
                return None
            if found is None:
                try:
                    found = await self.create()
                except (PreconditionFailed, WriteConflict, ObjectMissing):
                    await backoff(attempt)
                    continue  # another manager created it first (or the write raced): read theirs
            if found.index_format != 2:
                raise FormatOneIndex(
                    f"this prefix holds a format-{found.index_format} index written by an older s3sessions:"
                    " run `s3sessions reindex` to convert it (sessions stay readable meanwhile)",
                    key=self._layout.manifest,
                )
            self._cached = found
            return found
        raise StorageError("the manifest kept changing while being created", key=self._layout.manifest)

    async def require(self) -> ManifestRecord:
        """Returns the manifest, creating it if needed (for every write)."""
        manifest = await self.get(create=True)
        assert manifest is not None
        return manifest

    async def create(self, *, replace_etag: str | None = None) -> ManifestRecord:
        """Probes the store and writes a format-2 manifest (over ``replace_etag``: the conversion by reindex).

        Raises:
            StorageError: the store is unsafe (naming the failed check).
            PreconditionFailed: another manager wrote the manifest first.
        """
        report = await probe_store(self._store, self._layout)
        if not report.safe:
            raise report.refusal()
        manifest = ManifestRecord(
            fanout=self._fanout, dialect=report.dialect, checks=report.checks, created_at=round(time.time(), 3)
        )
        body = encode_record(manifest, max_bytes=self._max_bytes)
        for attempt in range(_ATTEMPTS):
            try:
                if replace_etag is None:
                    await self._store.put(self._layout.manifest, body, if_none_match=True)
                else:
                    await self._store.put(
                        self._layout.manifest, body, if_match=report.dialect.match_value(replace_etag)
                    )
                break
            except WriteConflict:  # raced another conditional write in flight; it did not take effect
                if attempt + 1 == _ATTEMPTS:
                    raise
                await backoff(attempt)
        log.info("created the manifest of %r: fan-out %d, %s", self._layout.prefix, self._fanout, report.lines()[-2])
        self._cached = manifest
        return manifest
