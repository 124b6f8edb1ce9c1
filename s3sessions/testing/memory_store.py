"""`InMemoryObjectStore`: an `ObjectStore` in a dict, with ETags, versions and atomic conditional writes.

For fast tests of anything built on the storage seam (the stateful test runs the real `S3SessionManager` on it
in seconds) and for checking a manager against the store quirks measured on real services: ``quoted_if_match
=False`` behaves like Ceph RGW (a quoted ``If-Match`` never matches), ``conditional_delete=False`` ignores
``If-Match`` on DeleteObject, ``missing_if_match="412"`` answers 412 for ``If-Match`` on an absent key, and
``enforce_conditions=False`` is a store the probe must refuse. ``faults`` injects an error before or after a
request takes effect, so a landed-then-failed write can be replayed exactly.

Like S3, identical bytes get identical ETags (MD5 of the body), and a listing is in byte order of the keys.
Thread-safe: one lock makes every request atomic, whatever loop or thread calls.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..errors import CorruptObject, ObjectMissing, PreconditionFailed
from ..storage.protocol import ListPage, ObjectInfo, ObjectMeta, ObjectVersion, StoredObject

Fault = Callable[[str, str], "tuple[Literal['before', 'after'], BaseException] | None"]
"""``fault(operation, key)`` returns when and what to raise for one request, or None to let it through."""


@dataclass
class _Version:
    version_id: str
    body: bytes | None  # None: a delete marker
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)
    modified: float = 0.0


class InMemoryObjectStore:
    """An object store in memory (see the module docstring for the quirk switches).

    Args:
        versioned: Keep every version, as a bucket with versioning enabled does.
        quoted_if_match: Whether a quoted ``If-Match`` matches (False: only the bare ETag does, like RGW).
        conditional_delete: Whether DeleteObject honours ``If-Match``.
        missing_if_match: What ``If-Match`` on an absent key answers: 404 (``"404"``, S3, moto) or 412 (RGW).
        enforce_conditions: False makes conditional writes unconditional (a store that would lose updates).
        clock: Returns Unix seconds for last-modified times.
        faults: Injects errors (see `Fault`).
    """

    def __init__(
        self,
        *,
        versioned: bool = False,
        quoted_if_match: bool = True,
        conditional_delete: bool = True,
        missing_if_match: Literal["404", "412"] = "404",
        enforce_conditions: bool = True,
        clock: Callable[[], float] = time.time,
        faults: Fault | None = None,
    ) -> None:
        self.versioned = versioned
        self.quoted_if_match = quoted_if_match
        self.conditional_delete = conditional_delete
        self.missing_if_match = missing_if_match
        self.enforce_conditions = enforce_conditions
        self.clock = clock
        self.faults = faults
        self.requests: list[tuple[str, str]] = []
        """Every request as (operation, key), in order: what tests count."""
        self._keys: dict[str, list[_Version]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------------------------------- internals

    def _enter(self, operation: str, key: str) -> BaseException | None:
        """Records the request; raises a 'before' fault, returns an 'after' fault to raise once applied."""
        self.requests.append((operation, key))
        fault = self.faults(operation, key) if self.faults is not None else None
        if fault is None:
            return None
        when, error = fault
        if when == "before":
            raise error
        return error

    def _current(self, key: str) -> _Version | None:
        versions = self._keys.get(key)
        if not versions or versions[-1].body is None:
            return None
        return versions[-1]

    def _matches(self, current: _Version, condition: str) -> bool:
        if condition.startswith('"') and not self.quoted_if_match:
            return False
        return condition.strip('"') == current.etag.strip('"') or condition == "*"

    def _check_if_match(self, key: str, condition: str) -> None:
        current = self._current(key)
        if current is None:
            if self.missing_if_match == "412":
                raise PreconditionFailed("If-Match on an absent key", key=key)
            raise ObjectMissing("If-Match on an absent key", key=key)
        if not self._matches(current, condition):
            raise PreconditionFailed("If-Match does not match", key=key)

    def _write(self, key: str, body: bytes | None, metadata: Mapping[str, str] | None = None) -> _Version:
        etag = '"' + hashlib.md5(body or b"", usedforsecurity=False).hexdigest() + '"'
        version = _Version(
            version_id=f"v{next(self._ids):08d}" if self.versioned else "null",
            body=body,
            etag=etag,
            metadata=dict(metadata or {}),
            modified=self.clock(),
        )
        if self.versioned:
            self._keys.setdefault(key, []).append(version)
        elif body is None:
            self._keys.pop(key, None)
        else:
            self._keys[key] = [version]
        return version

    # ------------------------------------------------------------------------------------------ protocol

    async def get(self, key: str, *, max_bytes: int, version_id: str | None = None) -> StoredObject:
        with self._lock:
            after = self._enter("GetObject", key)
            versions = self._keys.get(key, [])
            if version_id is not None:
                found = next((v for v in versions if v.version_id == version_id and v.body is not None), None)
            else:
                found = self._current(key)
            if found is None or found.body is None:
                raise ObjectMissing("no such key", key=key)
            if len(found.body) > max_bytes + 65536:
                raise CorruptObject(f"object of {len(found.body)} bytes is over the {max_bytes}-byte cap", key=key)
            result = StoredObject(found.body, found.etag, dict(found.metadata))
        if after is not None:
            raise after
        return result

    async def head(self, key: str, *, version_id: str | None = None) -> ObjectMeta:
        with self._lock:
            after = self._enter("HeadObject", key)
            if version_id is not None:
                found = next((v for v in self._keys.get(key, []) if v.version_id == version_id), None)
                found = found if found is not None and found.body is not None else None
            else:
                found = self._current(key)
            if found is None:
                raise ObjectMissing("no such key", key=key)
            result = ObjectMeta(found.etag, dict(found.metadata), found.modified)
        if after is not None:
            raise after
        return result

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        with self._lock:
            after = self._enter("PutObject", key)
            if self.enforce_conditions:
                if if_none_match and self._current(key) is not None:
                    raise PreconditionFailed("If-None-Match: the key exists", key=key)
                if if_match is not None:
                    self._check_if_match(key, if_match)
            etag = self._write(key, bytes(body), metadata).etag
        if after is not None:
            raise after
        return etag

    async def copy(self, source_key: str, dest_key: str) -> str:
        with self._lock:
            after = self._enter("CopyObject", dest_key)
            source = self._current(source_key)
            if source is None or source.body is None:
                raise ObjectMissing("no such source key", key=source_key)
            etag = self._write(dest_key, source.body, source.metadata).etag
        if after is not None:
            raise after
        return etag

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        with self._lock:
            after = self._enter("DeleteObject", key)
            if if_match is not None and self.conditional_delete:
                self._check_if_match(key, if_match)
            if self._current(key) is not None or self.versioned:
                self._write(key, None)
        if after is not None:
            raise after

    async def delete_keys(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            with self._lock:
                after = self._enter("DeleteObjects", keys[start])
                for key in keys[start : start + 1000]:
                    if self._current(key) is not None or self.versioned:
                        self._write(key, None)
            if after is not None:
                raise after

    async def list_page(self, prefix: str, *, start_after: str | None = None, max_keys: int = 1000) -> ListPage:
        with self._lock:
            after = self._enter("ListObjectsV2", prefix)
            keys = sorted(
                (key for key in self._keys if key.startswith(prefix) and (start_after is None or key > start_after)),
                key=lambda key: key.encode("utf-8"),
            )
            live = [(key, version) for key in keys if (version := self._current(key)) is not None]
            page = [_info(key, version) for key, version in live[:max_keys]]
            truncated = len(live) > max_keys
        if after is not None:
            raise after
        return ListPage(page, truncated)

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        objects: list[ObjectInfo] = []
        start: str | None = None
        while True:
            page = await self.list_page(prefix, start_after=start)
            objects.extend(page.objects)
            if not page.truncated:
                return objects
            start = page.objects[-1].key

    async def list_prefixes(self, prefix: str) -> list[str]:
        with self._lock:
            self._enter("ListObjectsV2", prefix)
            found = {
                prefix + key[len(prefix) :].split("/", 1)[0] + "/"
                for key in self._keys
                if key.startswith(prefix) and "/" in key[len(prefix) :] and self._current(key) is not None
            }
        return sorted(found, key=lambda name: name.encode("utf-8"))

    async def list_versions(self, prefix: str) -> list[ObjectVersion]:
        with self._lock:
            self._enter("ListObjectVersions", prefix)
            result = []
            for key in sorted(self._keys, key=lambda name: name.encode("utf-8")):
                if not key.startswith(prefix):
                    continue
                versions = self._keys[key]
                for position, version in reversed(list(enumerate(versions))):
                    result.append(
                        ObjectVersion(
                            key=key,
                            version_id=version.version_id,
                            modified=version.modified,
                            is_latest=position == len(versions) - 1,
                            is_delete_marker=version.body is None,
                            etag=version.etag,
                        )
                    )
        return result

    async def delete_versions(self, versions: Sequence[ObjectVersion]) -> None:
        with self._lock:
            self._enter("DeleteObjects", versions[0].key if versions else "")
            for doomed in versions:
                kept = [v for v in self._keys.get(doomed.key, []) if v.version_id != doomed.version_id]
                if kept:
                    self._keys[doomed.key] = kept
                else:
                    self._keys.pop(doomed.key, None)

    async def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------------------------------- helpers

    def keys(self, prefix: str = "") -> list[str]:
        """Returns the current keys under a prefix (no request is recorded)."""
        with self._lock:
            return sorted(key for key in self._keys if key.startswith(prefix) and self._current(key) is not None)

    def count(self, operation: str) -> int:
        """How many requests of one operation were made."""
        return sum(1 for name, _ in self.requests if name == operation)


def _info(key: str, version: _Version) -> ObjectInfo:
    return ObjectInfo(key=key, size=len(version.body or b""), modified=version.modified, etag=version.etag)


__all__ = ["Fault", "InMemoryObjectStore"]
