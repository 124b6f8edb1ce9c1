"""A session's objects: read and decode heads and segments, upload and copy segments, and the head cache.

fsck, reindex, the tests and the protocols all reach the bucket's session objects through `SessionObjects`, so
decoding, caps and the error an absent object becomes live in one place.

The cache keeps, per session, the head this manager last read or wrote, with its tail's canonical lines, the
state's JSON and a *snapshot*: private copies of the messages as they were handed to (or taken from) the caller.
A save compares the caller's messages with the snapshot (``==`` in C, shared strings by identity) to find what
changed without encoding the history again; an edited old message is found the same way. The cache is bounded
by the bytes of history it holds as well as by count, and is safe to use from several threads.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import CorruptObject, ObjectMissing, SessionNotFound
from ..formats.bodies import DecodedSegment, decode_head_object, decode_segment, segment_body
from ..formats.keys import KeyLayout
from ..formats.records import HeadRecord, SegmentRef, TombstoneRecord
from ..storage.protocol import ObjectStore
from ..waves import gather

HEAD_CACHE_SESSIONS = 256
HEAD_CACHE_BYTES = 256 * 1024 * 1024
"""History bytes the snapshots of one manager may hold (beyond it, least recently used sessions are dropped)."""


class MissingSegment(CorruptObject):
    """A segment the head references is absent (the head may have moved on since it was read)."""


@dataclass(frozen=True)
class Snapshot:
    """Private copies of messages ``start..`` of a head, and of its state, as the caller last held them."""

    start: int
    messages: list[Any]
    state: Any


@dataclass(frozen=True)
class HeadState:
    """A live head as read or written: its ETag, record, tail lines, state JSON and (maybe) a snapshot."""

    etag: str
    record: HeadRecord
    tail_lines: list[bytes]
    state_json: bytes
    snapshot: Snapshot | None = None

    def with_snapshot(self, snapshot: Snapshot | None) -> HeadState:
        return replace(self, snapshot=snapshot)


@dataclass(frozen=True)
class TombstoneState:
    """A delete's tombstone at the head key, and its ETag."""

    etag: str
    record: TombstoneRecord


StoredHead = HeadState | TombstoneState


def new_upload_id() -> str:
    """Returns a random id that makes a segment's key unique to one upload."""
    return os.urandom(6).hex()


class SessionObjects:
    """Reads and writes the objects of sessions under one prefix.

    Args:
        store: The object store.
        layout: The prefix's key layout.
        max_bytes: Decompressed size cap for every object read or written.
    """

    def __init__(self, store: ObjectStore, layout: KeyLayout, *, max_bytes: int) -> None:
        self.store = store
        self.layout = layout
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, HeadState] = OrderedDict()
        self._cached_bytes = 0
        self._contents: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------------------------- cache

    def cached(self, session_id: str) -> HeadState | None:
        """Returns the head this manager last read or wrote for the session, if it still holds it."""
        with self._lock:
            state = self._cache.get(session_id)
            if state is not None:
                self._cache.move_to_end(session_id)
            return state

    def remember(self, session_id: str, state: HeadState) -> None:
        """Caches a head (replacing the session's previous entry), evicting the least recently used.

        A head with the same content as the cached one (a tag, a rename, another manager's metadata edit) keeps
        the cached snapshot: the messages it describes are the same.
        """
        with self._lock:
            previous = self._cache.pop(session_id, None)
            if previous is not None:
                self._cached_bytes -= _weight(previous)
                if (
                    state.snapshot is None
                    and previous.snapshot is not None
                    and previous.record.content_digest == state.record.content_digest
                    and previous.record.segments == state.record.segments
                ):
                    state = state.with_snapshot(previous.snapshot)
            self._cache[session_id] = state
            self._cached_bytes += _weight(state)
            self._contents[(session_id, state.etag)] = (state.record.incarnation, state.record.content_digest)
            while len(self._contents) > HEAD_CACHE_SESSIONS * 16:
                self._contents.popitem(last=False)
            while self._cache and (len(self._cache) > HEAD_CACHE_SESSIONS or self._cached_bytes > HEAD_CACHE_BYTES):
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= _weight(dropped)

    def content_of(self, session_id: str, etag: str) -> tuple[str, str] | None:
        """The (incarnation, content digest) of a head version this manager read or wrote, if it remembers it."""
        with self._lock:
            return self._contents.get((session_id, etag))

    def forget(self, session_id: str) -> None:
        with self._lock:
            dropped = self._cache.pop(session_id, None)
            if dropped is not None:
                self._cached_bytes -= _weight(dropped)

    # ----------------------------------------------------------------------------------------------- heads

    async def read_head(self, session_id: str) -> StoredHead:
        """Returns what is at the session's head key (a live head or a tombstone), and caches a live one.

        Raises:
            SessionNotFound: nothing is there.
            CorruptObject: it cannot be decoded, or belongs to another session.
        """
        key = self.layout.head(session_id)
        try:
            stored = await self.store.get(key, max_bytes=self.max_bytes)
        except ObjectMissing as exc:
            self.forget(session_id)
            raise SessionNotFound("no such session", session_id=session_id, key=key) from exc
        decoded = decode_head_object(stored.body, max_bytes=self.max_bytes, key=key, session_id=session_id)
        if isinstance(decoded, TombstoneRecord):
            self.forget(session_id)
            return TombstoneState(stored.etag, decoded)
        state = HeadState(stored.etag, decoded.record, decoded.tail_lines, decoded.state_json)
        cached = self.cached(session_id)
        if cached is None or cached.etag != stored.etag:
            self.remember(session_id, state)
        return state

    async def read_live_head(self, session_id: str) -> HeadState:
        """Returns the session's live head.

        Raises:
            SessionNotFound: no head, or the session was deleted (a tombstone is there).
        """
        head = await self.read_head(session_id)
        if isinstance(head, TombstoneState):
            raise SessionNotFound("no such session (deleted)", session_id=session_id, key=self.layout.head(session_id))
        return head

    async def read_head_version(self, session_id: str, version_id: str) -> StoredHead:
        """Returns one stored version of the session's head (a versioned bucket's history)."""
        key = self.layout.head(session_id)
        try:
            stored = await self.store.get(key, max_bytes=self.max_bytes, version_id=version_id)
        except ObjectMissing as exc:
            raise SessionNotFound(
                f"no version {version_id!r} of this session's head", session_id=session_id, key=key
            ) from exc
        decoded = decode_head_object(stored.body, max_bytes=self.max_bytes, key=key, session_id=session_id)
        if isinstance(decoded, TombstoneRecord):
            return TombstoneState(stored.etag, decoded)
        return HeadState(stored.etag, decoded.record, decoded.tail_lines, decoded.state_json)

    # -------------------------------------------------------------------------------------------- segments

    async def read_segments(
        self, session_id: str, refs: Sequence[SegmentRef], *, lines_of: frozenset[int] = frozenset()
    ) -> list[DecodedSegment]:
        """Returns each ref's taken messages (and, for the positions in ``lines_of``, their canonical lines),
        fetched in one parallel wave and checked by digest.

        Raises:
            MissingSegment: a referenced object is absent.
            CorruptObject: one does not decode or does not match its reference.
        """

        async def read(position: int, ref: SegmentRef) -> DecodedSegment:
            key = self.layout.segment(session_id, ref)
            try:
                stored = await self.store.get(key, max_bytes=self.max_bytes)
            except ObjectMissing as exc:
                raise MissingSegment("head references a missing segment", session_id=session_id, key=key) from exc
            return decode_segment(
                stored.body,
                ref,
                max_bytes=self.max_bytes,
                key=key,
                session_id=session_id,
                want_lines=position in lines_of,
            )

        return await gather(read(position, ref) for position, ref in enumerate(refs))

    def segment_object(self, session_id: str, lines: Sequence[bytes]) -> bytes:
        """Returns the body of a new segment (raising InvalidInput over the size cap, before any upload)."""
        return segment_body(lines, max_bytes=self.max_bytes)

    async def upload_segment(self, session_id: str, name: str, body: bytes) -> None:
        await self.store.put(self.layout.segment_named(session_id, name), body)

    async def copy_segment(self, source_id: str, ref: SegmentRef, target_id: str, name: str | None) -> None:
        """Copies a referenced segment server-side under the target session (``name``: its new format-2 name;
        None keeps a format-1 object's content-addressed key).

        Raises:
            MissingSegment: the source object is absent.
        """
        source_key = self.layout.segment(source_id, ref)
        target_key = (
            self.layout.segment_named(target_id, name) if name is not None else self.layout.segment(target_id, ref)
        )
        try:
            await self.store.copy(source_key, target_key)
        except ObjectMissing as exc:
            raise MissingSegment("head references a missing segment", session_id=source_id, key=source_key) from exc

    def live_keys(self, session_id: str, head: HeadRecord) -> set[str]:
        """Returns the keys a head needs: itself and every segment it references."""
        return {self.layout.head(session_id)} | {self.layout.segment(session_id, ref) for ref in head.segments}


def _weight(state: HeadState) -> int:
    return state.record.message_bytes if state.snapshot is not None else len(state.state_json)
