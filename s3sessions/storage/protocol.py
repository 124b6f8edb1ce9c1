"""`ObjectStore`: what the engine needs from a store, and the value types it passes (pure declarations).

Conditional writes are the whole point: ``put(..., if_none_match=True)`` must fail with `PreconditionFailed`
when the key exists, and ``put(..., if_match=etag)`` when its current ETag differs, atomically (two racing
writers: exactly one wins). The caller formats ``if_match`` in the store's dialect (quoted or not, see
`s3sessions.formats.records.Dialect`); the store passes it through. Signals a store raises, all `StorageError`
subclasses from `s3sessions.errors`: `ObjectMissing` (404), `PreconditionFailed` (412) and `WriteConflict`
(409: a conditional write raced another in flight and did not take effect). Any other `StorageError` from a
write is ambiguous: it may or may not have landed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    """An object's body, its ETag and its user metadata (``x-amz-meta-*``)."""

    body: bytes
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectMeta:
    """What HeadObject says of a key: ETag, user metadata, last-modified time (Unix seconds)."""

    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified: float = 0.0


@dataclass(frozen=True)
class ObjectInfo:
    """A key as a listing reports it: size in bytes, last-modified time (Unix seconds) and ETag."""

    key: str
    size: int
    modified: float
    etag: str = ""


@dataclass(frozen=True)
class ObjectVersion:
    """One version (or delete marker) of a key, as ListObjectVersions reports it (newest first per key)."""

    key: str
    version_id: str
    modified: float = 0.0
    is_latest: bool = False
    is_delete_marker: bool = False
    etag: str = ""


@dataclass(frozen=True)
class ListPage:
    """One LIST request's answer: keys in order, and whether more keys follow."""

    objects: list[ObjectInfo]
    truncated: bool


class ObjectStore(Protocol):
    """The storage seam: keys to bytes with ETags and conditional writes."""

    async def get(self, key: str, *, max_bytes: int, version_id: str | None = None) -> StoredObject:
        """Returns the object (or one version of it); raises ObjectMissing if absent, CorruptObject if over
        ``max_bytes``."""
        ...

    async def head(self, key: str, *, version_id: str | None = None) -> ObjectMeta:
        """Returns the key's (or one version's) ETag and metadata without its body; raises ObjectMissing if
        absent."""
        ...

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Writes the object and returns its ETag; raises PreconditionFailed, ObjectMissing (If-Match on an
        absent key, some stores) or WriteConflict when the condition was not met."""
        ...

    async def copy(self, source_key: str, dest_key: str) -> str:
        """Copies an object server-side and returns the copy's ETag; raises ObjectMissing if the source is
        absent."""
        ...

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Deletes the current version of a key (absent keys are not an error unless ``if_match`` is given:
        then PreconditionFailed or ObjectMissing when it does not match, on stores that honour it)."""
        ...

    async def delete_keys(self, keys: Sequence[str]) -> None:
        """Deletes the current version of each key (a delete marker on a versioned bucket)."""
        ...

    async def list_page(self, prefix: str, *, start_after: str | None = None, max_keys: int = 1000) -> ListPage:
        """Returns up to ``max_keys`` keys under the prefix after ``start_after``, in key order (one request)."""
        ...

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Returns every object under the prefix, in key order."""
        ...

    async def list_prefixes(self, prefix: str) -> list[str]:
        """Returns the distinct "folders" directly under the prefix (LIST with delimiter ``/``), in order."""
        ...

    async def list_versions(self, prefix: str) -> list[ObjectVersion]:
        """Returns every version and delete marker under the prefix (one per key on unversioned buckets)."""
        ...

    async def delete_versions(self, versions: Sequence[ObjectVersion]) -> None:
        """Permanently deletes the given versions."""
        ...

    async def close(self) -> None:
        """Releases connections (the store may be used again afterwards; it reconnects)."""
        ...
