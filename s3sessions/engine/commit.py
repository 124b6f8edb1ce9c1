"""The commit engine: the one conditional-write loop every protocol uses.

A commit writes the object at a session's head key with ``If-None-Match: *`` (the key is empty) or ``If-Match``
(on the ETag the commit was built over, in the store's dialect). Whatever comes back, the outcome is settled by
reading the head: if one of this commit's write ids is among its recent commit records, the commit landed (a
retried PUT that had landed answers 412; another writer may already have committed on top). Otherwise:

- a definite refusal (412, or 404 for ``If-Match`` on a key that vanished) means another writer won: the
  protocol's ``rebase`` decides, from what is there now, whether to build again (a metadata-only change, a
  rewind or tag that applies to the newer head) or to raise (`ConflictError`, `SessionNotFound`);
- an ambiguous failure (409 ConditionalRequestConflict, a 5xx, a lost connection) over a head that has not
  changed is retried as it was.

Attempts are bounded (`COMMIT_ATTEMPTS`) with full-jitter back-off between them (`s3sessions.retry`), so a storm
of writers spreads out; the error after the last says how many attempts were made. After a commit lands, the
index entry is brought up to date (never raising: the head is the truth).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import ConflictError, ObjectMissing, PreconditionFailed, SessionNotFound, StorageError
from ..formats.bodies import encode_record, head_body
from ..formats.records import Dialect, HeadRecord, TombstoneRecord
from ..retry import backoff
from .heads import Prior, user_metadata
from .objects import HeadState, SessionObjects, StoredHead, TombstoneState

log = logging.getLogger("s3sessions.commit")

COMMIT_ATTEMPTS = 8
"""Conditional writes one operation makes before it gives up with `ConflictError` (jittered back-off between)."""


@dataclass(frozen=True)
class Proposal:
    """A record to write at the head key, encoded (so every size limit was checked before any upload)."""

    record: HeadRecord | TombstoneRecord
    body: bytes
    state_json: bytes = b"null"
    tail_lines: tuple[bytes, ...] = ()
    prepare: Callable[[], Awaitable[None]] | None = None
    """What must be written before the head (a save's new segments), run after the store's dialect is known."""

    @classmethod
    def head(
        cls,
        record: HeadRecord,
        *,
        state_json: bytes,
        tail_lines: list[bytes],
        max_bytes: int,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> Proposal:
        body = head_body(record, state_json=state_json, tail_lines=tail_lines, max_bytes=max_bytes)
        return cls(record, body, state_json, tuple(tail_lines), prepare)

    @classmethod
    def tombstone(cls, record: TombstoneRecord, *, max_bytes: int) -> Proposal:
        return cls(record, encode_record(record, max_bytes=max_bytes))


@dataclass(frozen=True)
class Landed:
    """A commit that took effect: the ETag it produced, what was written, and whether another writer has since
    committed on top of it (then the index is theirs to update)."""

    etag: str
    proposal: Proposal
    superseded: bool = False


Build = Callable[[Prior], Awaitable[Proposal]]
"""Builds the record to write over what is there now (may upload segments first)."""
Rebase = Callable[[Prior, StoredHead | None], Awaitable[Prior]]
"""Decides what a commit that lost to another writer does: returns the prior to build on next, or raises."""


class CommitEngine:
    """Writes heads conditionally for one prefix.

    Args:
        objects: The prefix's objects (head reads for settlement, the head cache).
        dialect: Returns the store's conditional-write dialect (from the manifest).
        entry_key: Returns the index entry key of a live head (for the next commit's `Prior`).
        record_index: Brings the index up to date after a live head landed.
        attempts: Bound on conditional writes per operation.
    """

    def __init__(
        self,
        objects: SessionObjects,
        *,
        dialect: Callable[[], Awaitable[Dialect]],
        entry_key: Callable[[str, HeadRecord, str], Awaitable[str]],
        record_index: Callable[[str, HeadRecord, str], Awaitable[None]],
        attempts: int = COMMIT_ATTEMPTS,
    ) -> None:
        self._objects = objects
        self._dialect = dialect
        self._entry_key = entry_key
        self._record_index = record_index
        self._attempts = attempts

    async def prior(self, stored: StoredHead | None) -> Prior:
        """Returns the `Prior` of what was read at a head key (None: nothing there)."""
        if stored is None:
            return Prior()
        if isinstance(stored, TombstoneState):
            return Prior(stored.etag, stored.record)
        return Prior(
            stored.etag, stored.record, await self._entry_key(stored.record.session_id, stored.record, stored.etag)
        )

    async def commit(self, session_id: str, prior: Prior, build: Build, rebase: Rebase, *, what: str) -> Landed:
        """Builds and writes a head until it lands, another writer's change makes the protocol give up, or the
        attempts run out.

        Args:
            session_id: The session.
            prior: What the commit is first built over.
            build: Builds the proposal over a prior.
            rebase: Called after a definite loss with the prior and what is there now.
            what: The operation, for the error after the last attempt (``"saving"``, ``"rewinding"``...).

        Raises:
            ConflictError: every attempt lost (or ``rebase`` raised it).
            StorageError: S3 failed and the head could not be read to settle the outcome.
        """
        ours: dict[str, Proposal] = {}
        dialect: Dialect | None = None
        for attempt in range(self._attempts):
            proposal = await build(prior)  # every object encoded: bad input fails here, before any request
            if dialect is None:
                dialect = await self._dialect()  # a new prefix probes its store now, not before
            if proposal.prepare is not None:
                await proposal.prepare()
            ours[proposal.record.commits[-1].write_id] = proposal
            outcome = await self._write(session_id, proposal, prior, ours, dialect)
            if isinstance(outcome, Landed):
                await self._after(session_id, outcome)
                return outcome
            lost, current = outcome
            if lost:
                prior = await rebase(prior, current)  # a real conflict raises here, at once
            if attempt + 1 < self._attempts:
                await backoff(attempt)
                if lost:  # build on the head as it is after the wait, not as it was before it
                    fresh = await self._read(session_id)
                    if fresh is None or fresh.etag != prior.etag:
                        prior = await rebase(prior, fresh)
        raise ConflictError(
            f"gave up {what} after {self._attempts} attempts: other writers kept changing the session",
            session_id=session_id,
            key=self._objects.layout.head(session_id),
        )

    async def _write(
        self, session_id: str, proposal: Proposal, prior: Prior, ours: dict[str, Proposal], dialect: Dialect
    ) -> Landed | tuple[bool, StoredHead | None]:
        """One conditional PUT and its settlement: Landed, or (definitely lost?, what is there now)."""
        objects = self._objects
        key = objects.layout.head(session_id)
        record = proposal.record
        try:
            etag = await objects.store.put(
                key,
                proposal.body,
                if_match=dialect.match_value(prior.etag) if prior.etag is not None else None,
                if_none_match=prior.etag is None,
                metadata=user_metadata(record),
            )
        except (PreconditionFailed, ObjectMissing) as exc:
            failure: StorageError = exc
            definite = True
        except StorageError as exc:  # 409, 5xx, a lost connection: it may or may not have landed
            failure = exc
            definite = False
        else:
            return self._landed(session_id, etag, proposal, superseded=False)
        try:
            current: StoredHead | None = await objects.read_head(session_id)
        except SessionNotFound:
            current = None
        except StorageError as read_failure:
            raise StorageError(
                f"the outcome of a write is unknown ({failure}) and the head could not be read to settle it",
                session_id=session_id,
                key=key,
            ) from read_failure
        if current is not None:
            position = _position_of(current.record.write_ids, ours)
            if position is not None:
                commits = current.record.commits
                landed = ours[commits[position].write_id]
                if position == len(commits) - 1:
                    return self._landed(session_id, current.etag, landed, superseded=False)
                log.info("session %s: our commit landed and another writer committed on top", session_id)
                etag = commits[position + 1].parent_version or current.etag
                return self._landed(session_id, etag, landed, superseded=True)
        unchanged = (current is None and prior.etag is None) or (current is not None and current.etag == prior.etag)
        if not definite and unchanged:
            log.info("session %s: ambiguous write (%s); the head is unchanged, writing again", session_id, failure)
            return False, current
        return True, current

    async def _read(self, session_id: str) -> StoredHead | None:
        try:
            return await self._objects.read_head(session_id)
        except SessionNotFound:
            return None

    def _landed(self, session_id: str, etag: str, proposal: Proposal, *, superseded: bool) -> Landed:
        record = proposal.record
        if isinstance(record, HeadRecord) and not superseded:
            self._objects.remember(session_id, HeadState(etag, record, list(proposal.tail_lines), proposal.state_json))
        elif not superseded:
            self._objects.forget(session_id)
        return Landed(etag, proposal, superseded)

    async def _after(self, session_id: str, landed: Landed) -> None:
        record = landed.proposal.record
        if isinstance(record, HeadRecord) and not landed.superseded:
            await self._record_index(session_id, record, landed.etag)


def _position_of(write_ids: list[str], ours: dict[str, Proposal]) -> int | None:
    """Returns the position of the latest of our write ids among a head's commit records."""
    for position in range(len(write_ids) - 1, -1, -1):
        if write_ids[position] in ours:
            return position
    return None
