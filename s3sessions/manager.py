"""`S3SessionManager`: session semantics on top of the object store and the index (layer 3).

Each session is a head object (the commit point) plus immutable, content-addressed segments; see DESIGN.md for
the layout and protocols. Heads are written with ``If-None-Match: *`` (create) or ``If-Match`` (update); every
lost or ambiguous conditional write is settled by reading the head and looking for our write id, so a retried
PUT that had already landed is a success, and a stale copy never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import logging
import os
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from . import codec
from .base import SessionManager
from .errors import (
    AgentError,
    ConflictError,
    CorruptObject,
    InvalidInput,
    ObjectMissing,
    PreconditionFailed,
    SessionNotFound,
    StorageError,
)
from .index import DEFAULT_SHARD_COUNT, MetadataIndex
from .keys import KeyLayout
from .layout import SEGMENT_BYTES, TAIL_BYTES, Layout, NewSegment, cut_layout, lines_size, plan_layout
from .models import Session, SessionMetadata, SessionPage, check_page_request, now_seconds, page_cursor
from .records import (
    RECENT_COMMITS,
    CommitRecord,
    HeadRecord,
    IndexEntry,
    SegmentRef,
    StoredMetadata,
    decode_record,
    encode_record,
)
from .store import DEFAULT_POOL_SIZE, ObjectStore, S3ObjectStore
from .turns import rewind_cut, turn_starts
from .validation import check_name, check_session_id, check_tags, merge_tags, new_session_id

log = logging.getLogger("s3sessions")

COMMIT_ATTEMPTS = 8
"""How often an operation re-reads the head and retries after losing to a metadata-only change."""
HEAD_CACHE_SIZE = 256
REINDEX_CONCURRENCY = 32
TOMBSTONE_REVISION = 2**62
"""A deleted incarnation's index tombstone outranks every revision that incarnation can reach."""
_USER_METADATA_NAME_BYTES = 1024
_T = TypeVar("_T")
_LoadedSegment = tuple[list[Any], list[bytes]]
"""A segment's taken messages and their canonical lines."""


class _MissingSegment(CorruptObject):
    """A segment the head references is absent (the head may have moved on since it was read)."""


@dataclass(frozen=True)
class _PutOutcome:
    """What became of a head PUT: our ETag if it landed, else the head that is there now (None: absent)."""

    etag: str | None
    current: tuple[str, HeadRecord] | None = None


class S3SessionManager(SessionManager):
    """Sessions in an S3 bucket under a prefix.

    Args:
        bucket: The bucket (default: ``$S3SESSIONS_BUCKET``).
        prefix: Key prefix for everything this manager stores, normalised to end in ``/`` (default:
            ``$S3SESSIONS_PREFIX``, else none).
        store: An `ObjectStore` to use instead of S3 (then the S3 arguments are ignored).
        client: An open aiobotocore S3 client to use; its owner closes it.
        session: An ``aioboto3.Session`` to create the client from.
        endpoint_url, region_name, profile_name: Client settings (default: the AWS environment).
        kms_key_id: Encrypt every object with SSE-KMS under this key.
        shard_count: Index shards for a new prefix (an existing manifest's count wins).
        max_object_bytes: Decompressed size cap for any object read or written.
        tail_bytes, segment_bytes: Inline tail bound and sealed segment size (see `s3sessions.layout`).
        pool_size: Connection pool size (at least the shard count, so list is one parallel wave).
        client_config: Extra ``AioConfig`` arguments (timeouts, retries) for the client this manager creates.
        clock: Returns Unix seconds (tests inject one).

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     session = await sessions.resume("0192f1c3a4b5")
    """

    def __init__(
        self,
        bucket: str | None = None,
        prefix: str | None = None,
        *,
        store: ObjectStore | None = None,
        client: Any = None,
        session: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        kms_key_id: str | None = None,
        shard_count: int = DEFAULT_SHARD_COUNT,
        max_object_bytes: int = codec.DEFAULT_MAX_OBJECT_BYTES,
        tail_bytes: int = TAIL_BYTES,
        segment_bytes: int = SEGMENT_BYTES,
        pool_size: int = DEFAULT_POOL_SIZE,
        client_config: Mapping[str, Any] | None = None,
        clock: Callable[[], int] = now_seconds,
    ) -> None:
        self.layout = KeyLayout(prefix if prefix is not None else os.environ.get("S3SESSIONS_PREFIX", ""))
        if store is None:
            bucket = bucket or os.environ.get("S3SESSIONS_BUCKET")
            if not bucket:
                raise InvalidInput("no bucket given: pass bucket=... or set S3SESSIONS_BUCKET")
            if shard_count > pool_size:
                raise InvalidInput(
                    f"shard_count {shard_count} exceeds pool_size {pool_size}: list would not be one parallel wave"
                )
            store = S3ObjectStore(
                bucket,
                client=client,
                session=session,
                endpoint_url=endpoint_url,
                region_name=region_name,
                profile_name=profile_name,
                kms_key_id=kms_key_id,
                pool_size=pool_size,
                client_config=client_config,
            )
        self.store = store
        self._max_bytes = max_object_bytes
        self._tail_bytes = tail_bytes
        self._segment_bytes = segment_bytes
        self._clock = clock
        self.index = MetadataIndex(store, self.layout, shard_count=shard_count, max_bytes=max_object_bytes, clock=clock)
        self._heads: OrderedDict[str, tuple[str, HeadRecord]] = OrderedDict()

    async def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            await close()

    # ----------------------------------------------------------------------------------------------- reads

    async def resume(self, session_id: str) -> Session:
        """Returns the stored session.

        S3 requests: GET head; then, if the history outgrew the inline tail, one parallel wave of segment GETs.

        Example:
            >>> session = await sessions.resume("0192f1c3a4b5")  # doctest: +SKIP
        """
        check_session_id(session_id)
        etag, head = await self._read_head(session_id)
        try:
            segments = await self._read_segments(session_id, head.segments)
        except _MissingSegment:
            # The head changed after we read it and `fsck --repair` collected a segment it dropped: read again.
            newer_etag, head = await self._read_head(session_id)
            if newer_etag == etag:
                raise
            etag, segments = newer_etag, await self._read_segments(session_id, head.segments)
        messages = [message for messages, _ in segments for message in messages] + list(head.tail)
        return self._session(session_id, etag, head, messages)

    async def list_page(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
    ) -> SessionPage:
        """Returns a page of `list` (format-1 index: read whole, then cut)."""
        check_page_request(limit, cursor, tag, agent_name)
        listed = [
            metadata
            for metadata in await self.list()
            if (tag is None or tag in metadata.tags) and (agent_name is None or metadata.agent_name == agent_name)
        ]
        if cursor is not None:
            listed = [metadata for metadata in listed if page_cursor(metadata) > cursor]
        more = len(listed) > limit
        page = listed[:limit]
        return SessionPage(sessions=page, next_cursor=page_cursor(page[-1]) if more else None)

    async def list(self, *, tag: str | None = None, agent_name: str | None = None) -> builtins.list[SessionMetadata]:
        """Returns every session's metadata from the index, newest ``updated_at`` first, ties by id.

        S3 requests: one parallel wave of GETs, one per index shard (plus the manifest on first use).
        """
        entries = await self.index.entries()
        listed = [_metadata_from_entry(session_id, entry) for session_id, entry in entries.items()]
        listed.sort(key=lambda metadata: (-metadata.updated_at, metadata.id))
        return [
            metadata
            for metadata in listed
            if (tag is None or tag in metadata.tags) and (agent_name is None or metadata.agent_name == agent_name)
        ]

    # ---------------------------------------------------------------------------------------------- writes

    async def save(self, session: Session) -> SessionMetadata:
        """Creates or updates the session, uploading only what changed, and refreshes ``session.metadata``.

        S3 requests: new segments (only when the tail outgrows its bound, in parallel), PUT head (conditional),
        PUT index shard; plus a GET of the head when ``session`` was not read or saved by this manager.

        Raises:
            ConflictError: another writer changed messages or state since ``session`` was read, or a session
                with this id already exists (for a new session).
            SessionNotFound: the session was deleted since it was read.
            InvalidInput: a message or the state is not JSON.

        Example:
            >>> session.messages.append({"role": "user", "content": "next question"})  # doctest: +SKIP
            >>> await sessions.save(session)  # doctest: +SKIP
        """
        if not isinstance(session, Session):
            raise InvalidInput(f"save() takes a Session, not {type(session).__name__}")
        metadata = session.metadata
        session_id = check_session_id(metadata.id)
        with _naming(session_id):
            lines = codec.encode_message_lines(session.messages)
            content = codec.content_digest(lines, session.state)
        starts = turn_starts(session.messages)
        base = await self._base_for_save(session_id, metadata.version)
        uploaded: set[str] = set()
        for _ in range(COMMIT_ATTEMPTS):
            base_etag, base_head, merge_names = base
            layout = plan_layout(
                base_head.segments if base_head else [],
                lines,
                tail_bytes=self._tail_bytes,
                segment_bytes=self._segment_bytes,
            )
            await self._upload_segments(session_id, layout.new_segments, uploaded)
            now = self._clock()
            names = base_head.metadata if (merge_names and base_head) else metadata
            stored = StoredMetadata(
                name=names.name,
                tags=list(names.tags),
                agent_name=metadata.agent_name,
                created_at=base_head.metadata.created_at if base_head else metadata.created_at,
                updated_at=_next_updated_at(now, base_head),
                turn_count=len(starts),
                total_tokens=metadata.total_tokens,
                parent_id=base_head.metadata.parent_id if base_head else metadata.parent_id,
                forked_at_turn=base_head.metadata.forked_at_turn if base_head else metadata.forked_at_turn,
            )
            tail_count = len(layout.tail)
            head = HeadRecord(
                session_id=session_id,
                incarnation=base_head.incarnation if base_head else new_session_id(),
                revision=base_head.revision + 1 if base_head else 1,
                metadata=stored,
                state=session.state,
                turn_starts=starts,
                message_count=len(lines),
                message_bytes=lines_size(lines),
                content_digest=content,
                segments=layout.segments,
                tail=session.messages[len(session.messages) - tail_count :] if tail_count else [],
                commits=_next_commits(base_head, base_etag),
            )
            outcome = await self._put_head(session_id, head, base_etag)
            if outcome.etag is not None:
                break
            if base_head is None:
                raise ConflictError(
                    "a session with this id already exists",
                    session_id=session_id,
                    key=self.layout.head(session_id),
                )
            if outcome.current is None:
                raise SessionNotFound(
                    "session was deleted since it was read",
                    session_id=session_id,
                    key=self.layout.head(session_id),
                )
            current_etag, current_head = outcome.current
            if not _only_metadata_changed_since(current_head, base_etag, base_head.content_digest):
                raise ConflictError(
                    "another writer changed this session since it was read",
                    session_id=session_id,
                    key=self.layout.head(session_id),
                )
            base = (current_etag, current_head, True)
        else:
            raise ConflictError(
                "session kept changing while saving", session_id=session_id, key=self.layout.head(session_id)
            )
        committed = self._metadata(session_id, outcome.etag, head)
        for field_name in SessionMetadata.model_fields:  # refresh the caller's copy in place
            setattr(metadata, field_name, copy.deepcopy(getattr(committed, field_name)))
        await self._update_index(session_id, outcome.etag, head)
        return committed

    async def fork(self, session_id: str, new_name: str | None = None) -> SessionMetadata:
        """Copies the session under a new id, server-side, and returns the new session's metadata.

        S3 requests: GET source head, one parallel wave of CopyObject (one per segment), PUT new head
        (``If-None-Match: *``), PUT index shard. No message bytes pass through the client except the tail.
        """
        check_session_id(session_id)
        if new_name is not None:
            check_name(new_name)
        _, source = await self._read_head(session_id)
        new_id = new_session_id()
        digests = sorted({ref.digest for ref in source.segments})
        try:
            await _gather(self._copy_segment(session_id, new_id, digest) for digest in digests)
        except CorruptObject:
            await self._read_head(session_id)  # SessionNotFound if the source was deleted meanwhile
            raise
        now = self._clock()
        name = (
            new_name
            if new_name is not None
            else (_fork_name(source.metadata.name) if source.metadata.name is not None else None)
        )
        head = source.model_copy(
            update={
                "session_id": new_id,
                "incarnation": new_id,
                "revision": 1,
                "metadata": source.metadata.model_copy(
                    update={
                        "name": name,
                        "created_at": now,
                        "updated_at": now,
                        "parent_id": session_id,
                        "forked_at_turn": source.metadata.turn_count,
                    }
                ),
                "commits": _next_commits(None, None),
            }
        )
        outcome = await self._put_head(new_id, head, None)
        if outcome.etag is None:
            raise ConflictError("generated fork id already exists", session_id=new_id, key=self.layout.head(new_id))
        await self._update_index(new_id, outcome.etag, head)
        return self._metadata(new_id, outcome.etag, head)

    async def rewind(self, session_id: str, turn_index: int) -> Session:
        """Cuts the session back to turns ``0..turn_index`` and returns what is kept.

        S3 requests: GET head, one parallel wave of GETs of the kept segments, PUT head (``If-Match``), PUT
        index shard. No message bytes are uploaded beyond the tail; segments stay referenced (partially, if
        the cut falls inside one), so on a versioned bucket the previous head version restores the session.

        Raises:
            InvalidInput: ``turn_index`` is not an int in ``0..turn_count-1``.
        """
        check_session_id(session_id)
        if isinstance(turn_index, bool) or not isinstance(turn_index, int):
            raise InvalidInput(f"invalid turn index {turn_index!r}: must be an int", session_id=session_id)
        current: tuple[str, HeadRecord] | None = None
        for _ in range(COMMIT_ATTEMPTS):
            etag, head = current or await self._read_head(session_id)
            if not 0 <= turn_index < head.metadata.turn_count:
                raise InvalidInput(_turn_index_problem(turn_index, head.metadata.turn_count), session_id=session_id)
            keep = rewind_cut(head.turn_starts, head.message_count, turn_index)
            needed = _refs_covering(head.segments, keep)
            try:
                segments = await self._read_segments(session_id, needed)
            except _MissingSegment:
                current = await self._read_head(session_id)
                if current[0] == etag:
                    raise
                continue  # the head moved on and fsck collected a segment it dropped: rewind the newer head
            tail_lines = codec.encode_message_lines(head.tail)
            layout = cut_layout(needed, [lines for _, lines in segments], tail_lines, keep)
            kept_messages = _kept([messages for messages, _ in segments], head.tail, layout)
            kept_lines = _kept([lines for _, lines in segments], tail_lines, layout)
            now = self._clock()
            new_head = head.model_copy(
                update={
                    "revision": head.revision + 1,
                    "metadata": head.metadata.model_copy(
                        update={"updated_at": _next_updated_at(now, head), "turn_count": turn_index + 1}
                    ),
                    "turn_starts": head.turn_starts[: turn_index + 1],
                    "message_count": keep,
                    "message_bytes": lines_size(kept_lines),
                    "content_digest": codec.content_digest(kept_lines, head.state),
                    "segments": layout.segments,
                    "tail": list(head.tail[: len(layout.tail)]),
                    "commits": _next_commits(head, etag),
                }
            )
            outcome = await self._put_head(session_id, new_head, etag)
            if outcome.etag is not None:
                await self._update_index(session_id, outcome.etag, new_head)
                return self._session(session_id, outcome.etag, new_head, kept_messages)
            current = self._require_current(session_id, outcome)
        raise ConflictError(
            "session kept changing while rewinding", session_id=session_id, key=self.layout.head(session_id)
        )

    async def tag(self, session_id: str, tags: Sequence[str]) -> SessionMetadata:
        """Adds tags (set union, order kept) and returns the new metadata.

        S3 requests: GET head (skipped when this manager holds the current head), PUT head, PUT index shard.
        """
        check_session_id(session_id)
        added = check_tags(tags)
        return await self._edit_metadata(
            session_id, lambda stored: stored.model_copy(update={"tags": merge_tags(stored.tags, added)})
        )

    async def rename(self, session_id: str, new_name: str) -> SessionMetadata:
        """Sets the name and returns the new metadata.

        S3 requests: GET head (skipped when this manager holds the current head), PUT head, PUT index shard.
        """
        check_session_id(session_id)
        name = check_name(new_name)
        return await self._edit_metadata(session_id, lambda stored: stored.model_copy(update={"name": name}))

    async def delete(self, session_id: str) -> None:
        """Deletes the session: head first (it is gone at that instant), index entry, then every other object
        and, on a versioned bucket, every version and delete marker under its prefix.

        S3 requests: GET head, DELETE head, PUT index shard, LIST versions, DeleteObjects (per 1,000 keys).
        """
        check_session_id(session_id)
        head_key = self.layout.head(session_id)
        try:
            _, head = await self._read_head(session_id)
            incarnation = head.incarnation
        except CorruptObject:
            # A head we cannot read can still be deleted; its tombstone outranks every incarnation created so far.
            incarnation = new_session_id()
        await self.store.delete(head_key)
        self._heads.pop(session_id, None)
        tombstone = IndexEntry(
            incarnation=incarnation, revision=TOMBSTONE_REVISION, deleted=True, updated_at=self._clock()
        )
        # The session is gone; its index entry and its other objects are cleaned up side by side.
        results = await asyncio.gather(
            self._update_index_entry(session_id, tombstone), self._remove_objects(session_id), return_exceptions=True
        )
        for result in results:  # both ran to the end; now report the first failure
            if isinstance(result, BaseException):
                raise result

    async def _remove_objects(self, session_id: str) -> None:
        """Deletes every version under a deleted session's prefix, sparing a session created again meanwhile."""
        try:
            versions = await self.store.list_versions(self.layout.session_prefix(session_id))
            # Someone may have created the id again since the head was deleted: spare the new session's objects.
            live = await self._live_keys(session_id)
            await self.store.delete_versions([version for version in versions if version.key not in live])
        except StorageError as exc:
            raise StorageError(
                f"session deleted, but not all of its objects were removed ({exc}); `s3sessions fsck --repair`"
                " removes them",
                session_id=session_id,
                key=self.layout.session_prefix(session_id),
            ) from exc
        if not live and await self._live_keys(session_id):
            raise ConflictError(
                "session deleted, but the id was created again while its objects were being removed; the new"
                " session may miss segments (`s3sessions fsck` checks it)",
                session_id=session_id,
                key=self.layout.head(session_id),
            )

    async def _live_keys(self, session_id: str) -> set[str]:
        """Returns the keys the session's current head needs (empty when there is no readable head)."""
        try:
            _, head = await self._read_head(session_id)
        except (SessionNotFound, CorruptObject):
            return set()
        return {self.layout.head(session_id)} | {self.layout.segment(session_id, ref.digest) for ref in head.segments}

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuilds the metadata index from the session heads and returns how many sessions it lists.

        Safe beside live writers: each shard is replaced by compare-and-swap, an entry newer than the head
        read here is kept, and an entry without a head is dropped only if its session was created before the
        scan began.

        Args:
            progress: Called as ``progress(heads_read, heads_total)`` while heads are read.

        S3 requests: LIST the sessions prefix, GET every head (at most `REINDEX_CONCURRENCY` at once), then a
        GET and a PUT per index shard.
        """
        scan_started = new_session_id()
        entries: dict[str, IndexEntry] = {}
        corrupt: set[str] = set()
        session_ids = await self._head_ids()
        done = 0
        semaphore = asyncio.Semaphore(REINDEX_CONCURRENCY)

        async def read(session_id: str) -> None:
            nonlocal done
            async with semaphore:
                try:
                    etag, head = await self._read_head(session_id)
                except SessionNotFound:
                    pass
                except CorruptObject as exc:
                    corrupt.add(session_id)
                    log.warning("reindex: skipping session %s, whose head is corrupt: %s", session_id, exc)
                else:
                    entries[session_id] = IndexEntry.from_head(etag, head)
            done += 1
            if progress is not None:
                progress(done, len(session_ids))

        if progress is not None:
            progress(0, len(session_ids))
        await _gather(read(session_id) for session_id in session_ids)
        if corrupt:  # keep what the index knew of sessions whose heads cannot be read
            known = await self.index.entries(replace_corrupt=True)
            entries.update({session_id: known[session_id] for session_id in corrupt if session_id in known})
        await self.index.rebuild(entries, created_before=scan_started)
        return len(entries)

    async def _head_ids(self) -> builtins.list[str]:
        """Returns the ids of every session that has a head object (one LIST, paginated)."""
        objects = await self.store.list_objects(self.layout.sessions_root)
        return sorted(
            session_id
            for item in objects
            if (session_id := self.layout.session_id_of(item.key)) is not None
            and item.key == self.layout.head(session_id)
        )

    # ------------------------------------------------------------------------------------------- internals

    async def _read_head(self, session_id: str) -> tuple[str, HeadRecord]:
        key = self.layout.head(session_id)
        try:
            stored = await self.store.get(key, max_bytes=self._max_bytes)
        except ObjectMissing as exc:
            raise SessionNotFound("no such session", session_id=session_id, key=key) from exc
        head = decode_record(stored.body, HeadRecord, max_bytes=self._max_bytes, key=key, session_id=session_id)
        if head.session_id != session_id:
            raise CorruptObject(f"head belongs to session {head.session_id!r}", session_id=session_id, key=key)
        self._remember(session_id, stored.etag, head)
        return stored.etag, head

    def _remember(self, session_id: str, etag: str, head: HeadRecord) -> None:
        # A deep copy: the head may share its state and tail objects with a caller's Session, which the caller
        # may change without saving; a later tag or rename built from this cache must not pick those changes up.
        self._heads[session_id] = (etag, head.model_copy(deep=True))
        self._heads.move_to_end(session_id)
        while len(self._heads) > HEAD_CACHE_SIZE:
            self._heads.popitem(last=False)

    async def _read_segments(self, session_id: str, refs: Sequence[SegmentRef]) -> builtins.list[_LoadedSegment]:
        """Returns each ref's taken messages and lines, fetched in one parallel wave and checked by digest."""

        async def read(ref: SegmentRef) -> _LoadedSegment:
            key = self.layout.segment(session_id, ref.digest)
            try:
                stored = await self.store.get(key, max_bytes=self._max_bytes)
            except ObjectMissing as exc:
                raise _MissingSegment("head references a missing segment", session_id=session_id, key=key) from exc
            messages, lines = codec.decode_segment(
                stored.body, digest=ref.digest, max_bytes=self._max_bytes, key=key, session_id=session_id
            )
            if len(lines) != ref.count or (
                ref.take_digest is not None and codec.digest_lines(lines[: ref.take]) != ref.take_digest
            ):
                raise CorruptObject("segment does not match the head's reference", session_id=session_id, key=key)
            return messages[: ref.take], lines[: ref.take]

        return await _gather(read(ref) for ref in refs)

    async def _upload_segments(self, session_id: str, segments: Sequence[NewSegment], uploaded: set[str]) -> None:
        async def upload(segment: NewSegment) -> None:
            key = self.layout.segment(session_id, segment.digest)
            with _naming(session_id, key):
                body = codec.encode_segment(segment.lines, max_bytes=self._max_bytes)
            await self.store.put(key, body)
            uploaded.add(segment.digest)

        await _gather(upload(segment) for segment in segments if segment.digest not in uploaded)

    async def _copy_segment(self, source_id: str, target_id: str, digest: str) -> None:
        source_key = self.layout.segment(source_id, digest)
        try:
            await self.store.copy(source_key, self.layout.segment(target_id, digest))
        except ObjectMissing as exc:
            raise CorruptObject("head references a missing segment", session_id=source_id, key=source_key) from exc

    async def _put_head(self, session_id: str, head: HeadRecord, base_etag: str | None) -> _PutOutcome:
        """Writes the head conditionally; a lost or ambiguous write is settled by reading the head back."""
        key = self.layout.head(session_id)
        with _naming(session_id, key):
            body = encode_record(head, max_bytes=self._max_bytes)
        try:
            etag = await self.store.put(
                key,
                body,
                if_match=base_etag,
                if_none_match=base_etag is None,
                metadata=_user_metadata(head),
            )
        except (PreconditionFailed, ObjectMissing, StorageError) as exc:
            failure: StorageError = exc
        else:
            self._remember(session_id, etag, head)
            return _PutOutcome(etag)
        is_signal = isinstance(failure, PreconditionFailed | ObjectMissing)
        try:
            current_etag, current = await self._read_head(session_id)
        except SessionNotFound:
            if not is_signal:
                raise failure from None
            return _PutOutcome(None, None)
        write_id = head.commits[-1].write_id
        ours = _etag_of_commit(current_etag, current, write_id)
        if ours is not None:
            if ours != current_etag:
                log.info("session %s: our commit landed and another writer committed on top", session_id)
            return _PutOutcome(ours)
        if not is_signal:
            raise failure
        return _PutOutcome(None, (current_etag, current))

    def _require_current(self, session_id: str, outcome: _PutOutcome) -> tuple[str, HeadRecord]:
        if outcome.current is None:
            raise SessionNotFound(
                "session was deleted meanwhile", session_id=session_id, key=self.layout.head(session_id)
            )
        return outcome.current

    async def _base_for_save(self, session_id: str, version: str | None) -> tuple[str | None, HeadRecord | None, bool]:
        """Returns (etag, head, merge_names) to commit over: the head the caller read, or a newer one that
        differs from it only in metadata (then its name/tags are kept)."""
        if version is None:
            return None, None, False
        cached = self._heads.get(session_id)
        if cached is not None and cached[0] == version:
            return cached[0], cached[1], False
        etag, head = await self._read_head(session_id)
        if etag == version:
            return etag, head, False
        if _only_metadata_changed_since(head, version, None):
            return etag, head, True
        raise ConflictError(
            "another writer changed this session since it was read",
            session_id=session_id,
            key=self.layout.head(session_id),
        )

    async def _edit_metadata(
        self, session_id: str, change: Callable[[StoredMetadata], StoredMetadata]
    ) -> SessionMetadata:
        current = self._heads.get(session_id)
        for _ in range(COMMIT_ATTEMPTS):
            etag, head = current or await self._read_head(session_id)
            now = self._clock()
            metadata = change(head.metadata).model_copy(update={"updated_at": _next_updated_at(now, head)})
            new_head = head.model_copy(
                update={
                    "revision": head.revision + 1,
                    "metadata": metadata,
                    "commits": _next_commits(head, etag),
                }
            )
            outcome = await self._put_head(session_id, new_head, etag)
            if outcome.etag is not None:
                await self._update_index(session_id, outcome.etag, new_head)
                return self._metadata(session_id, outcome.etag, new_head)
            current = self._require_current(session_id, outcome)
        raise ConflictError(
            "session kept changing while editing metadata",
            session_id=session_id,
            key=self.layout.head(session_id),
        )

    async def _update_index(self, session_id: str, etag: str, head: HeadRecord) -> None:
        """Brings the index entry up to date after a commit."""
        await self._update_index_entry(session_id, IndexEntry.from_head(etag, head))

    async def _update_index_entry(self, session_id: str, entry: IndexEntry) -> None:
        """Stores an index entry; a failure is logged, never raised: the head, which is the truth, has changed."""
        try:
            await self.index.update(session_id, entry)
        except AgentError as exc:
            log.warning(
                "session %s changed but its index entry is stale (its next save, reindex or fsck --repair repairs"
                " it): %s",
                session_id,
                exc,
            )

    def _metadata(self, session_id: str, etag: str, head: HeadRecord) -> SessionMetadata:
        return _metadata_from_entry(session_id, IndexEntry.from_head(etag, head))

    def _session(self, session_id: str, etag: str, head: HeadRecord, messages: builtins.list[Any]) -> Session:
        return Session.model_construct(
            metadata=self._metadata(session_id, etag, head), messages=messages, state=head.state
        )


# --------------------------------------------------------------------------------------------------- helpers


async def _gather(awaitables: Iterable[Awaitable[_T]]) -> list[_T]:
    """Runs awaitables concurrently; on the first failure, cancels the rest and re-raises it."""
    tasks: list[asyncio.Task[_T]] = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@contextlib.contextmanager
def _naming(session_id: str, key: str | None = None) -> Iterator[None]:
    """Adds the session id (and key) to an `InvalidInput` raised while encoding."""
    try:
        yield
    except InvalidInput as exc:
        if exc.session_id is not None:
            raise
        raise InvalidInput(str(exc), session_id=session_id, key=key) from exc


def _turn_index_problem(turn_index: int, turn_count: int) -> str:
    if turn_count == 0:
        return f"invalid turn index {turn_index}: the session has no turns yet"
    return f"invalid turn index {turn_index}: the session has {turn_count} turn(s), so use 0..{turn_count - 1}"


def _next_updated_at(now: int, previous: HeadRecord | None) -> int:
    """`updated_at` strictly increases at every commit, even for commits within one second."""
    return now if previous is None else max(now, previous.metadata.updated_at + 1)


def _next_commits(previous: HeadRecord | None, previous_etag: str | None) -> list[CommitRecord]:
    record = CommitRecord(
        write_id=os.urandom(12).hex(),
        parent_version=previous_etag,
        parent_content_digest=previous.content_digest if previous else None,
    )
    history = previous.commits[-(RECENT_COMMITS - 1) :] if previous else []
    return [*history, record]


def _etag_of_commit(current_etag: str, current: HeadRecord, write_id: str) -> str | None:
    """Returns the ETag our commit produced if the head's history contains it, else None."""
    write_ids = current.write_ids
    if write_id not in write_ids:
        return None
    position = write_ids.index(write_id)
    if position == len(write_ids) - 1:
        return current_etag
    return current.commits[position + 1].parent_version or current_etag


def _only_metadata_changed_since(current: HeadRecord, version: str | None, content_digest: str | None) -> bool:
    """True if the head's messages and state equal those of ``version`` (a head in its recent history)."""
    for commit in current.commits:
        if commit.parent_version == version and version is not None:
            expected = content_digest if content_digest is not None else commit.parent_content_digest
            return commit.parent_content_digest == expected == current.content_digest
    return False


def _refs_covering(refs: Sequence[SegmentRef], keep: int) -> list[SegmentRef]:
    needed: list[SegmentRef] = []
    position = 0
    for ref in refs:
        if position >= keep:
            break
        needed.append(ref)
        position += ref.take
    return needed


def _kept(parts: Sequence[Sequence[_T]], tail: Sequence[_T], layout: Layout) -> list[_T]:
    """Returns what a cut layout keeps, from each segment's parts (messages or their lines) and the tail's."""
    kept: list[_T] = []
    for segment_parts, ref in zip(parts, layout.segments, strict=False):
        kept.extend(segment_parts[: ref.take])
    kept.extend(tail[: len(layout.tail)])
    return kept


def _fork_name(name: str) -> str:
    suffix = " (fork)"
    return name[: 256 - len(suffix)] + suffix


def _user_metadata(head: HeadRecord) -> dict[str, str]:
    """``x-amz-meta-*`` for ``aws s3api head-object``: ASCII only, so the name is percent-encoded."""
    name = urllib.parse.quote(head.metadata.name or "", safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")
    return {
        "name": name[:_USER_METADATA_NAME_BYTES],
        "turns": str(head.metadata.turn_count),
        "messages": str(head.message_count),
        "revision": str(head.revision),
    }


def _metadata_from_entry(session_id: str, entry: IndexEntry) -> SessionMetadata:
    """An index entry carries every metadata field under the same name (plus its own ordering fields)."""
    return SessionMetadata.model_construct(
        id=session_id, **entry.model_dump(include=set(SessionMetadata.model_fields) - {"id"})
    )


__all__ = ["S3SessionManager"]
