"""The save protocol: upload only what changed since the caller's read, then commit the head conditionally.

What changed is found by `engine.changes` (its cost is the new turn, not the history). New messages go to the
inline tail; past its bound they are sealed into segments (`formats.planning`). Every object is encoded, and so
every size limit checked, before the first request.

A stale copy (another writer committed since the caller's read) merges when only name/tags changed since
(keeping the newer name/tags) and is `ConflictError` otherwise; a copy of a deleted session is `SessionNotFound`.
A partial session (``resume(id, last_turns=K)``) saves like a whole one: its omitted messages are kept as stored.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConflictError, InvalidInput, SessionNotFound
from ..formats.bodies import content_digest
from ..formats.planning import NewSegment
from ..formats.records import HeadRecord, StoredMetadata
from ..models import Session, SessionMetadata
from ..validation import (
    check_agent_name,
    check_count,
    check_created_at,
    check_name,
    check_session_id,
    check_summary,
    check_tags,
    new_session_id,
)
from ..waves import gather
from .changes import ChangePlanner, Plan
from .commit import CommitEngine, Proposal
from .heads import Content, Prior, save_head
from .objects import HeadState, SessionObjects, StoredHead, TombstoneState, new_upload_id
from .reading import metadata_of

MAX_UPLOAD_AGE = 300.0
"""Seconds after which a save uploads a segment again rather than reference its earlier upload: fsck never
collects an unreferenced object younger than its grace period (far longer), so no head can come to reference
an object fsck is deleting."""


@dataclass
class _Upload:
    name: str
    at: float


@dataclass
class _Attempts:
    """What one save carries across its attempts."""

    incarnation: str
    merge_names: bool
    uploads: dict[str, _Upload] = field(default_factory=dict)


class SaveProtocol:
    """Saves sessions of one prefix.

    Args:
        objects: The prefix's objects and head cache.
        engine: The commit engine.
        tail_bytes, segment_bytes: The inline tail's bound and the sealed segment size.
        clock: Returns Unix seconds (tests inject one).
        monotonic: Returns monotonic seconds (the age of this save's own uploads).
    """

    def __init__(
        self,
        objects: SessionObjects,
        engine: CommitEngine,
        *,
        tail_bytes: int,
        segment_bytes: int,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._objects = objects
        self._engine = engine
        self._planner = ChangePlanner(objects, tail_bytes=tail_bytes, segment_bytes=segment_bytes)
        self._clock = clock
        self._monotonic = monotonic

    async def save(self, session: Session) -> SessionMetadata:
        """Creates or updates the session and refreshes ``session.metadata`` in place (see the module)."""
        if not isinstance(session, Session):
            raise InvalidInput(f"save() takes a Session, not {type(session).__name__}")
        metadata = session.metadata
        session_id = check_session_id(metadata.id)
        summary = _check_metadata(metadata, session_id)
        if not isinstance(session.messages, list):
            raise InvalidInput("messages must be a list", session_id=session_id)
        omitted = session.omitted_messages
        if omitted and metadata.version is None:
            raise InvalidInput("a partial session (resumed with last_turns) cannot be created", session_id=session_id)
        base, merge_names = await self._base(session_id, metadata.version)
        attempts = _Attempts(new_session_id(), merge_names)
        plans: dict[str, Plan] = {}
        states: dict[str, HeadState] = {base.etag: base} if isinstance(base, HeadState) else {}

        async def build(prior: Prior) -> Proposal:
            state = states.get(prior.etag) if prior.etag is not None and prior.head is not None else None
            cached = self._objects.cached(session_id)
            if cached is not None and cached.etag == prior.etag and cached.snapshot is not None:
                state = cached
            plan = await self._planner.plan(session_id, session, prior, state, omitted)
            live = prior.head
            incarnation = live.incarnation if live is not None else attempts.incarnation
            named = {segment.digest: self._name(segment, incarnation, attempts) for segment in plan.layout.new_segments}
            refs = plan.layout.refs(lambda segment: named[segment.digest])
            content = Content(
                segments=refs,
                tail=plan.tail_objects(),
                tail_turn_starts=plan.layout.tail_turn_starts,
                message_count=plan.message_count,
                message_bytes=plan.message_bytes,
                content_digest=content_digest(refs, plan.layout.tail, plan.state_json),
                state=plan.snapshot.state,
            )
            stored = _stored_metadata(metadata, summary, live, attempts.merge_names)
            record = save_head(
                prior,
                session_id=session_id,
                incarnation=incarnation,
                metadata=stored,
                content=content,
                now=self._clock(),
            )
            bodies = self._bodies(session_id, plan.layout.new_segments, named, attempts)  # size caps checked here

            async def upload() -> None:
                await self._upload(session_id, bodies, attempts)

            plans[record.commits[-1].write_id] = plan
            return Proposal.head(
                record,
                state_json=plan.state_json,
                tail_lines=plan.layout.tail,
                max_bytes=self._objects.max_bytes,
                prepare=upload if bodies else None,
            )

        async def rebase(prior: Prior, current: StoredHead | None) -> Prior:
            key = self._objects.layout.head(session_id)
            if prior.head is None:
                if isinstance(current, TombstoneState):
                    return await self._engine.prior(current)  # create over a delete's tombstone
                if current is None:
                    return Prior()
                raise ConflictError("a session with this id already exists", session_id=session_id, key=key)
            if not isinstance(current, HeadState):
                raise SessionNotFound("session was deleted since it was read", session_id=session_id, key=key)
            states[current.etag] = current
            if not same_content(current.record, prior.etag, (prior.head.incarnation, prior.head.content_digest)):
                raise ConflictError(
                    "another writer changed this session since it was read", session_id=session_id, key=key
                )
            attempts.merge_names = True
            return await self._engine.prior(current)

        prior = await self._engine.prior(base)
        with naming(session_id):
            landed = await self._engine.commit(session_id, prior, build, rebase, what="saving")
        record = landed.proposal.record
        assert isinstance(record, HeadRecord)
        committed = metadata_of(session_id, HeadState(landed.etag, record, [], b""))
        cached = self._objects.cached(session_id)
        if not landed.superseded and cached is not None and cached.etag == landed.etag:
            plan = plans[record.commits[-1].write_id]
            self._objects.remember(session_id, cached.with_snapshot(plan.snapshot))
        for name in SessionMetadata.model_fields:  # refresh the caller's copy in place (no re-validation)
            value = getattr(committed, name)
            if isinstance(value, list):
                value = list(value)
            elif isinstance(value, dict):
                value = copy.deepcopy(value)  # the summary: the caller's copy and the returned one stay apart
            object.__setattr__(metadata, name, value)
        return committed

    async def _base(self, session_id: str, version: str | None) -> tuple[StoredHead | None, bool]:
        """Returns what to commit over and whether its names/tags win: the head the caller read, or a newer
        one that differs from it only in metadata."""
        if version is None:
            return None, False
        cached = self._objects.cached(session_id)
        if cached is not None and cached.etag == version:
            return cached, False
        current = await self._objects.read_live_head(session_id)
        if current.etag == version:
            return current, False
        if same_content(current.record, version, self._objects.content_of(session_id, version)):
            return current, True
        raise ConflictError(
            "another writer changed this session since it was read",
            session_id=session_id,
            key=self._objects.layout.head(session_id),
        )

    def _name(self, segment: NewSegment, incarnation: str, attempts: _Attempts) -> str:
        """The upload name of a new segment: reused across this save's attempts while the upload is young."""
        earlier = attempts.uploads.get(segment.digest)
        if (
            earlier is not None
            and earlier.name.startswith(incarnation)
            and self._monotonic() - earlier.at <= MAX_UPLOAD_AGE
        ):
            return earlier.name
        return f"{incarnation}/{segment.digest}.{new_upload_id()}"

    def _bodies(
        self, session_id: str, segments: Sequence[NewSegment], names: dict[str, str], attempts: _Attempts
    ) -> list[tuple[NewSegment, str, bytes]]:
        """Encodes every new segment this attempt still has to upload (checking the size cap) before any request."""
        pending = [segment for segment in segments if _pending(attempts, names[segment.digest], segment.digest)]
        return [
            (segment, names[segment.digest], self._objects.segment_object(session_id, segment.lines))
            for segment in pending
        ]

    async def _upload(self, session_id: str, bodies: list[tuple[NewSegment, str, bytes]], attempts: _Attempts) -> None:
        """Uploads the new segments in parallel, remembering each upload for this save's later attempts."""

        async def upload(segment: NewSegment, name: str, body: bytes) -> None:
            at = self._monotonic()
            await self._objects.upload_segment(session_id, name, body)
            attempts.uploads[segment.digest] = _Upload(name, at)

        await gather(upload(*item) for item in bodies)


@contextlib.contextmanager
def naming(session_id: str) -> Iterator[None]:
    """Adds the session id to an `InvalidInput` raised while encoding the caller's values."""
    try:
        yield
    except InvalidInput as exc:
        if exc.session_id is not None:
            raise
        raise InvalidInput(str(exc), session_id=session_id, key=exc.key) from exc


def _pending(attempts: _Attempts, name: str, digest: str) -> bool:
    earlier = attempts.uploads.get(digest)
    return earlier is None or earlier.name != name


def same_content(current: HeadRecord, version: str | None, known: tuple[str, str] | None) -> bool:
    """True if the head's messages and state are those of ``version``: only name/tags changed since.

    Args:
        current: The head there now.
        version: The ETag the caller's copy was read from.
        known: That version's (incarnation, content digest), when this manager saw it: then any number of
            metadata edits in between is fine. Else the head's list of same-content versions (64 deep) or its
            recent commit records must reach back to it.
    """
    if version is None:
        return False
    if known is not None:
        return known == (current.incarnation, current.content_digest)
    if version in current.same_content_versions:
        return True
    for commit in current.commits:
        if commit.parent_version == version:
            return commit.parent_content_digest == current.content_digest
    return False


def _stored_metadata(
    caller: SessionMetadata, summary: dict[str, Any] | None, base: HeadRecord | None, merge_names: bool
) -> StoredMetadata:
    names = base.metadata if (merge_names and base is not None) else caller
    return StoredMetadata(
        name=names.name,
        tags=list(names.tags),
        agent_name=caller.agent_name,
        created_at=base.metadata.created_at if base is not None else caller.created_at,
        updated_at=0.0,
        total_tokens=caller.total_tokens,
        parent_id=base.metadata.parent_id if base is not None else caller.parent_id,
        forked_at_turn=base.metadata.forked_at_turn if base is not None else caller.forked_at_turn,
        summary=summary,
    )


def _check_metadata(metadata: SessionMetadata, session_id: str) -> dict[str, Any] | None:
    """Checks what a caller may have changed in place without validation (``tags.append(...)``); returns the
    summary to store: a copy decoded from its JSON (a tuple put in place is a list, as it reads back)."""
    try:
        check_tags(metadata.tags)
        if metadata.name is not None:
            check_name(metadata.name)
        check_agent_name(metadata.agent_name)
        check_count(metadata.total_tokens, name="total_tokens")
        check_created_at(metadata.created_at)
        summary = check_summary(metadata.summary)
        if metadata.parent_id is not None:
            check_session_id(metadata.parent_id)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), session_id=session_id) from exc
    return summary
