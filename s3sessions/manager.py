"""`S3SessionManager`: the public operations over S3, a thin facade on the engine (layer 3).

Each session is a head object (the commit point) plus immutable segments, and one index entry whose key is its
listing; see ``docs/design.md`` for the layout and protocols. Every write is a conditional PUT of the head,
settled by write id (`s3sessions.engine.commit`); this module only validates arguments, wires the pieces of one
prefix together and says what each operation costs in S3 requests.
"""

from __future__ import annotations

import builtins
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .base import SessionManager
from .engine.commit import CommitEngine
from .engine.index import SessionIndex
from .engine.manifest import DEFAULT_FANOUT, MAX_FANOUT, Manifest
from .engine.objects import SessionObjects
from .engine.reading import check_last_turns, resume
from .engine.saving import SaveProtocol
from .errors import InvalidInput
from .formats.frames import DEFAULT_MAX_OBJECT_BYTES
from .formats.keys import KeyLayout
from .formats.planning import SEGMENT_BYTES, TAIL_BYTES
from .formats.records import Dialect
from .models import Session, SessionMetadata, SessionPage, now_seconds
from .storage.protocol import ObjectStore
from .storage.s3 import DEFAULT_POOL_SIZE, S3ObjectStore
from .validation import check_name, check_session_id, check_tags, merge_tags

if TYPE_CHECKING:
    from .admin.history import HeadVersion
    from .engine.deleting import DeleteProtocol
    from .engine.editing import EditProtocols
    from .engine.probe import ProbeReport


class S3SessionManager(SessionManager):
    """Sessions in an S3 bucket under a prefix.

    Usable from any event loop and thread (one S3 client per live loop), as an async context manager.

    Args:
        bucket: The bucket (default: ``$S3SESSIONS_BUCKET``).
        prefix: Key prefix for everything this manager stores, normalised to end in ``/`` (default:
            ``$S3SESSIONS_PREFIX``, else none).
        store: An `ObjectStore` to use instead of S3 (then the S3 arguments are ignored).
        client: An open aiobotocore S3 client to use; its owner closes it (it is bound to its own loop).
        session: An ``aioboto3.Session`` to create clients from.
        endpoint_url, region_name, profile_name: Client settings (default: the AWS environment).
        kms_key_id: Encrypt every object with SSE-KMS under this key.
        fanout: Index fan-out buckets for a new prefix (an existing manifest's wins).
        max_object_bytes: Decompressed size cap for any object read or written.
        tail_bytes, segment_bytes: Inline tail bound and sealed segment size (see `s3sessions.formats.planning`).
        pool_size: Connection pool size (bounds the parallelism of one wave of requests).
        client_config: Extra ``AioConfig`` arguments (timeouts, retries) for the clients this manager creates.
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
        fanout: int = DEFAULT_FANOUT,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
        tail_bytes: int = TAIL_BYTES,
        segment_bytes: int = SEGMENT_BYTES,
        pool_size: int = DEFAULT_POOL_SIZE,
        client_config: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = now_seconds,
    ) -> None:
        self.layout = KeyLayout(prefix if prefix is not None else os.environ.get("S3SESSIONS_PREFIX", ""))
        if isinstance(fanout, bool) or not isinstance(fanout, int) or not 1 <= fanout <= MAX_FANOUT:
            raise InvalidInput(f"invalid fanout {fanout!r}: use 1-{MAX_FANOUT}")
        if store is None:
            bucket = bucket or os.environ.get("S3SESSIONS_BUCKET")
            if not bucket:
                raise InvalidInput("no bucket given: pass bucket=... or set S3SESSIONS_BUCKET")
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
        self.clock = clock
        self.objects = SessionObjects(store, self.layout, max_bytes=max_object_bytes)
        self.manifest = Manifest(store, self.layout, fanout=fanout, max_bytes=max_object_bytes)
        self.index = SessionIndex(store, self.layout, self.manifest, max_bytes=max_object_bytes)
        self.engine = CommitEngine(
            self.objects, dialect=self.dialect, entry_key=self.index.entry_key, record_index=self.index.record
        )
        self._saving = SaveProtocol(
            self.objects, self.engine, tail_bytes=tail_bytes, segment_bytes=segment_bytes, clock=clock
        )

    @functools.cached_property
    def _edits(self) -> EditProtocols:
        """Fork, rewind, tag, rename and restore; imported on first use (a handler that only resumes and saves
        never loads them: a cheaper cold start)."""
        from .engine.editing import EditProtocols

        return EditProtocols(self.objects, self.engine, clock=self.clock)

    @functools.cached_property
    def deletion(self) -> DeleteProtocol:
        """The delete protocol (tombstone first); imported on first use, like `_edits`."""
        from .engine.deleting import DeleteProtocol

        return DeleteProtocol(self.objects, self.engine, self.index, dialect=self.dialect, clock=self.clock)

    async def dialect(self) -> Dialect:
        """The store's conditional-write dialect, from the prefix's manifest (probing the store on first write)."""
        return (await self.manifest.require()).dialect

    async def close(self) -> None:
        """Closes the S3 clients this manager opened (it reconnects if used again)."""
        await self.store.close()

    # ----------------------------------------------------------------------------------------------- reads

    async def resume(self, session_id: str, *, last_turns: int | None = None) -> Session:
        """Returns the stored session, or only its last ``last_turns`` turns.

        A partial session (``last_turns`` below the turn count) holds the messages from the start of the
        K-th last turn on; ``session.omitted_messages`` says how many earlier ones were left out, and a save of it
        keeps them as stored.

        S3 requests: GET head; then, if the messages needed outgrew the inline tail, one parallel wave of segment
        GETs (for ``last_turns``: only the segments those turns are in).

        Example:
            >>> session = await sessions.resume("0192f1c3a4b5", last_turns=3)  # doctest: +SKIP
        """
        check_session_id(session_id)
        return await resume(self.objects, session_id, last_turns=check_last_turns(last_turns, session_id=session_id))

    async def list_page(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
        summaries: bool = False,
    ) -> SessionPage:
        """Returns up to ``limit`` sessions, newest first, and the cursor of the next page.

        S3 requests: one parallel wave of LISTs, one per fan-out bucket (plus a GET per entry whose listing
        did not fit its key, and with ``summaries`` per entry whose summary did not); a filtered page keeps
        listing, 1,000 keys per bucket a wave, until it is full.
        """
        return await self.index.page(limit, cursor, tag=tag, agent_name=agent_name, summaries=summaries)

    async def list(
        self, *, tag: str | None = None, agent_name: str | None = None, summaries: bool = False
    ) -> builtins.list[SessionMetadata]:
        """Returns every session's metadata, newest ``updated_at`` first, ties by id.

        S3 requests: every fan-out bucket LISTed to its end, in parallel (about N / 1,000 / fan-out round trips),
        plus the GETs `list_page` describes.
        """
        return await self.index.everything(tag=tag, agent_name=agent_name, summaries=summaries)

    # ---------------------------------------------------------------------------------------------- writes

    async def save(self, session: Session) -> SessionMetadata:
        """Creates or updates the session, uploading only what changed, and refreshes ``session.metadata``.

        S3 requests: new segments (only when the tail outgrows its bound, in parallel), PUT head (conditional),
        then PUT index entry and DeleteObjects of the entries it replaces (in parallel); plus a GET of the head
        when ``session`` was not read or saved by this manager.

        Raises:
            ConflictError: another writer changed messages or state since ``session`` was read, or a session
                with this id already exists (for a new session).
            SessionNotFound: the session was deleted since it was read.
            InvalidInput: a message or the state is not storable JSON, or an object would exceed the size cap.

        Example:
            >>> session.messages.append({"role": "user", "content": "next question"})  # doctest: +SKIP
            >>> await sessions.save(session)  # doctest: +SKIP
        """
        return await self._saving.save(session)

    async def fork(self, session_id: str, new_name: str | None = None) -> SessionMetadata:
        """Copies the session under a new id, server-side, and returns the new session's metadata.

        S3 requests: GET source head, one parallel wave of CopyObject (one per segment), PUT new head
        (``If-None-Match: *``), PUT index entry. No message bytes pass through the client except the tail.
        """
        check_session_id(session_id)
        if new_name is not None:
            check_name(new_name)
        return await self._edits.fork(session_id, new_name)

    async def rewind(self, session_id: str, turn_index: int) -> Session:
        """Cuts the session back to turns ``0..turn_index`` and returns what is kept.

        S3 requests: GET head, one parallel wave of GETs of the kept segments, PUT head (``If-Match``), then the
        index entry. No message bytes are uploaded beyond the tail; the dropped segments stay until ``fsck``
        collects them, so on a versioned bucket `restore` of the previous head version undoes the rewind.

        Raises:
            InvalidInput: ``turn_index`` is not an int in ``0..turn_count-1``.
        """
        check_session_id(session_id)
        if isinstance(turn_index, bool) or not isinstance(turn_index, int):
            raise InvalidInput(f"invalid turn index {turn_index!r}: must be an int", session_id=session_id)
        if turn_index < 0:
            raise InvalidInput(f"invalid turn index {turn_index}: turns are numbered from 0", session_id=session_id)
        return await self._edits.rewind(session_id, turn_index)

    async def tag(self, session_id: str, tags: Sequence[str]) -> SessionMetadata:
        """Adds tags (set union, order kept) and returns the new metadata.

        S3 requests: GET head (skipped when this manager holds the current head), PUT head, then the index entry.
        """
        check_session_id(session_id)
        added = check_tags(tags)
        return await self._edits.edit_metadata(
            session_id, lambda stored: {"tags": merge_tags(stored.tags, added)}, what="tagging"
        )

    async def rename(self, session_id: str, new_name: str) -> SessionMetadata:
        """Sets the name and returns the new metadata.

        S3 requests: GET head (skipped when this manager holds the current head), PUT head, then the index entry.
        """
        check_session_id(session_id)
        name = check_name(new_name)
        return await self._edits.edit_metadata(session_id, lambda stored: {"name": name}, what="renaming")

    async def delete(self, session_id: str) -> None:
        """Deletes the session and every object it owns (all versions, on a versioned bucket).

        The head is replaced by a tombstone first (``If-Match``: a commit that landed after the read is never
        erased), then the index entries and the session's objects are removed, then the tombstone; a delete
        that stopped midway is finished by deleting again. See `s3sessions.engine.deleting`.

        S3 requests: GET head, PUT tombstone, (DeleteObjects of the index entries, LIST versions) in parallel,
        DeleteObjects of the objects, DELETE tombstone.

        Raises:
            SessionNotFound: no such session.
        """
        check_session_id(session_id)
        await self.deletion.delete(session_id)

    async def restore(self, session_id: str, version_id: str) -> SessionMetadata:
        """Makes an older version of the session's head (a versioned bucket's history) its next revision.

        The undo of a rewind: the old version's messages and state come back as a new commit (``If-Match`` on the
        current head); name and tags stay as they are now. Its segments are copied under new names first, so a
        concurrent ``fsck --repair`` can never tear the result. See `history` for the version ids.

        S3 requests: GET the old version, GET head, a wave of CopyObject, PUT head, then the index entry.

        Raises:
            SessionNotFound: no such session or version.
            CorruptObject: the version needs a segment that ``fsck --repair`` already collected.
        """
        check_session_id(session_id)
        if not isinstance(version_id, str) or not version_id or len(version_id) > 1024:
            raise InvalidInput(f"invalid version id {version_id!r}", session_id=session_id)
        return await self._edits.restore(session_id, version_id)

    async def history(self, session_id: str, *, limit: int = 50) -> builtins.list[HeadVersion]:
        """Returns the stored versions of the session's head, newest first (a bucket with versioning enabled).

        S3 requests: ListObjectVersions of the head key, then a HeadObject per version shown (in parallel).

        Raises:
            SessionNotFound: the head has no stored version.
        """
        from .admin.history import head_history

        return await head_history(self.store, self.layout.head(session_id), session_id, limit=limit)

    async def check(self) -> ProbeReport:
        """Probes the store's conditional writes on a scratch key under the prefix (what a new prefix does).

        The report says each check's outcome and the dialect; ``report.safe`` is False for a store that would
        lose updates (`s3sessions check` exits 1 then). S3 requests: about six, on one scratch key it deletes.
        """
        from .engine.probe import probe_store

        return await probe_store(self.store, self.layout)

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuilds the index from the heads (converting a format-1 prefix); returns how many sessions it lists.

        See `s3sessions.admin.reindex.reindex`.
        """
        from .admin.reindex import reindex

        return await reindex(self, progress=progress)


__all__ = ["S3SessionManager"]
