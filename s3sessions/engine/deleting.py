"""The delete protocol: a tombstone first, then the clean-up it records, then the tombstone itself.

1. The head read is replaced by a tombstone with ``If-Match`` on its ETag (every probed store enforces that),
   so a delete can never erase a commit that landed after its read; from this instant the session is gone.
2. In parallel: the index entries the tombstone lists are deleted, and the session prefix's versions listed.
3. The deleted incarnation's segments, format-1 segments, and on a versioned bucket every older version and
   delete marker of the head, are deleted. A session created again meanwhile has a new incarnation, whose
   segments live under their own prefix: nothing it uploaded is touched.
4. The tombstone goes: its version is deleted on a versioned bucket; elsewhere it is deleted with ``If-Match``
   where the store honours conditional deletes (AWS, moto), or kept, marked cleaned (Ceph RGW: an unconditional
   delete could erase a create that replaced it).

A delete that stopped after step 1 (a crash, a 5xx after the tombstone landed) is finished by the next delete of
that id, which finds the tombstone and redoes steps 2-4 (each is idempotent), or by ``fsck --repair``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..errors import ConflictError, CorruptObject, ObjectMissing, PreconditionFailed, SessionNotFound, StorageError
from ..formats.records import Dialect, TombstoneRecord
from ..storage.protocol import ObjectVersion
from ..waves import both
from .commit import CommitEngine, Proposal
from .heads import Prior, cleaned, next_commits, tombstone
from .index import SessionIndex
from .objects import SessionObjects, StoredHead, TombstoneState

log = logging.getLogger("s3sessions.delete")


class _AlreadyDeleted(Exception):
    def __init__(self, current: TombstoneState) -> None:
        super().__init__("another delete got there first")
        self.current = current


class DeleteProtocol:
    """Deletes sessions of one prefix.

    Args:
        objects: The prefix's objects.
        engine: The commit engine.
        index: The prefix's index.
        dialect: Returns the store's dialect (from the manifest).
        clock: Returns Unix seconds.
    """

    def __init__(
        self,
        objects: SessionObjects,
        engine: CommitEngine,
        index: SessionIndex,
        *,
        dialect: Callable[[], Awaitable[Dialect]],
        clock: Callable[[], float],
    ) -> None:
        self._objects = objects
        self._engine = engine
        self._index = index
        self._dialect = dialect
        self._clock = clock

    async def delete(self, session_id: str) -> None:
        """Deletes the session and all its objects (see the module); an unfinished delete is finished."""
        key = self._objects.layout.head(session_id)
        try:
            stored = await self._objects.read_head(session_id)
        except CorruptObject:
            await self._delete_unreadable(session_id)
            return
        if isinstance(stored, TombstoneState):
            if stored.record.cleaned:
                raise SessionNotFound("no such session (deleted)", session_id=session_id, key=key)
            await self._clean_up(session_id, stored)
            return
        try:
            landed = await self._engine.commit(
                session_id, await self._engine.prior(stored), self._build, self._rebase, what="deleting"
            )
        except _AlreadyDeleted as other:
            await self._clean_up(session_id, other.current)
            return
        record = landed.proposal.record
        assert isinstance(record, TombstoneRecord)
        self._objects.forget(session_id)
        if not landed.superseded:
            await self._clean_up(session_id, TombstoneState(landed.etag, record))

    async def finish(self, session_id: str, dead: TombstoneState) -> None:
        """Finishes the clean-up of a delete that stopped after its tombstone landed (``fsck --repair``)."""
        await self._clean_up(session_id, dead)

    async def _build(self, prior: Prior) -> Proposal:
        return Proposal.tombstone(tombstone(prior, now=self._clock()), max_bytes=self._objects.max_bytes)

    async def _rebase(self, prior: Prior, current: StoredHead | None) -> Prior:
        if current is None:
            assert prior.record is not None
            raise SessionNotFound("session was deleted meanwhile", session_id=prior.record.session_id)
        if isinstance(current, TombstoneState):
            raise _AlreadyDeleted(current)
        return await self._engine.prior(current)  # a commit landed after our read: delete that one

    async def _clean_up(self, session_id: str, dead: TombstoneState) -> None:
        """Steps 2-4 of the module docstring, for the incarnation a tombstone records."""
        layout = self._objects.layout
        record = dead.record
        try:
            versions, _ = await both(
                self._objects.store.list_versions(layout.session_prefix(session_id)),
                self._index.remove(record.index_keys, session_id=session_id),
            )
            head_key = layout.head(session_id)
            versioned = any(version.version_id != "null" for version in versions)
            own = _own_version(versions, head_key, dead.etag)
            if record.unknown_incarnation:  # everything older than the tombstone, by S3's own clock
                cutoff = own.modified - 1 if own is not None else float("-inf")
                doomed = [
                    version
                    for version in versions
                    if (version.key != head_key and version.modified < cutoff)
                    or (version.key == head_key and own is not None and _older(version, own, versions))
                ]
            else:
                namespace = layout.segment_namespace(session_id, record.incarnation)
                doomed = [
                    version
                    for version in versions
                    if version.key.startswith(namespace)
                    or layout.is_legacy_segment(session_id, version.key)
                    or (version.key == head_key and own is not None and _older(version, own, versions))
                ]
            await self._objects.store.delete_versions(doomed)
            await self._remove_tombstone(session_id, dead, own if versioned else None)
        except StorageError as exc:
            raise StorageError(
                f"session deleted, but its clean-up stopped ({exc}); delete it again or run"
                " `s3sessions fsck --repair` to finish",
                session_id=session_id,
                key=layout.session_prefix(session_id),
            ) from exc

    async def _remove_tombstone(self, session_id: str, dead: TombstoneState, own: ObjectVersion | None) -> None:
        key = self._objects.layout.head(session_id)
        dialect = await self._dialect()
        if own is not None:
            await self._objects.store.delete_versions([own])  # only that version: a newer head stays current
            return
        try:
            if dialect.conditional_delete:
                await self._objects.store.delete(key, if_match=dialect.match_value(dead.etag))
            else:
                record = cleaned(dead.etag, dead.record)
                await self._objects.store.put(
                    key,
                    Proposal.tombstone(record, max_bytes=self._objects.max_bytes).body,
                    if_match=dialect.match_value(dead.etag),
                )
        except (PreconditionFailed, ObjectMissing):
            log.info("session %s was created again while its delete cleaned up: the new head stays", session_id)

    async def _delete_unreadable(self, session_id: str) -> None:
        """Deletes a session whose head cannot be decoded, by the same tombstone protocol.

        Its incarnation is unknown, so its index entries are found by listing its fan-out bucket, and its clean-up
        removes the objects older than the tombstone (S3's clock on both sides): a session created again after
        the tombstone uploads only newer objects, and a create racing it fails on the undecodable head.
        """
        key = self._objects.layout.head(session_id)
        dialect = await self._dialect()
        try:
            meta = await self._objects.store.head(key)
        except ObjectMissing as exc:
            raise SessionNotFound("no such session", session_id=session_id, key=key) from exc
        record = TombstoneRecord(
            session_id=session_id,
            incarnation="0" * 32,
            revision=1,
            deleted_at=self._clock(),
            commits=next_commits(Prior()),
            index_keys=await self._index.keys_of(session_id),
            unknown_incarnation=True,
        )
        body = Proposal.tombstone(record, max_bytes=self._objects.max_bytes).body
        try:
            etag = await self._objects.store.put(key, body, if_match=dialect.match_value(meta.etag))
        except (PreconditionFailed, ObjectMissing) as exc:
            raise ConflictError(
                "the session's head changed while it was being deleted: delete it again", session_id=session_id, key=key
            ) from exc
        self._objects.forget(session_id)
        await self._clean_up(session_id, TombstoneState(etag, record))


def _own_version(versions: list[ObjectVersion], head_key: str, etag: str) -> ObjectVersion | None:
    """The tombstone's own version among a listing (by ETag: each commit's bytes differ)."""
    bare = etag.strip('"')
    return next(
        (v for v in versions if v.key == head_key and not v.is_delete_marker and v.etag.strip('"') == bare), None
    )


def _older(version: ObjectVersion, own: ObjectVersion, versions: list[ObjectVersion]) -> bool:
    """True for a head version or delete marker listed before the tombstone (S3 lists versions newest first)."""
    if version.version_id == own.version_id:
        return False
    if version.is_delete_marker:
        return version.modified < own.modified
    same_key = [v for v in versions if v.key == own.key and not v.is_delete_marker]
    return same_key.index(version) > same_key.index(own)
