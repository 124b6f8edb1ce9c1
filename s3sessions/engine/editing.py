"""Protocols that rewrite a head from what is stored: fork, rewind, tag, rename and restore.

Each reads the head (tag and rename skip the read when the cache holds the current head), builds the next head
with a pure builder (`engine.heads`), and commits it through the engine; losing to another writer means
building again on the newer head, bounded. Message bytes uploaded: at most the inline tail, ever; segments are
referenced (partially, after a rewind) or copied server-side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ConflictError, CorruptObject, SessionNotFound
from ..formats.bodies import content_digest, lines_size
from ..formats.json_values import copy_containers
from ..formats.planning import cut_layout, segment_of_turn
from ..formats.records import HeadRecord, SegmentRef, StoredMetadata
from ..models import Session, SessionMetadata
from ..turns import is_turn_start, turn_offset
from ..validation import check_turn_index, new_session_id
from ..waves import gather
from .commit import COMMIT_ATTEMPTS, CommitEngine, Proposal
from .heads import Content, Prior, content_of, fork_head, fork_name, replace_content
from .objects import HeadState, MissingSegment, SessionObjects, Snapshot, StoredHead, new_upload_id
from .reading import metadata_of


class EditProtocols:
    """Fork, rewind, metadata edits and restore for one prefix.

    Args:
        objects: The prefix's objects and head cache.
        engine: The commit engine.
        clock: Returns Unix seconds.
    """

    def __init__(self, objects: SessionObjects, engine: CommitEngine, *, clock: Callable[[], float]) -> None:
        self._objects = objects
        self._engine = engine
        self._clock = clock

    def _proposal(self, record: HeadRecord, state: HeadState) -> Proposal:
        return Proposal.head(
            record, state_json=state.state_json, tail_lines=state.tail_lines, max_bytes=self._objects.max_bytes
        )

    def _rebase_onto(
        self, session_id: str, states: dict[str, HeadState]
    ) -> Callable[[Prior, StoredHead | None], Awaitable[Prior]]:
        """The rebase of an edit: build again on the newer live head (a delete in between is SessionNotFound),
        remembering it in ``states`` for the build."""

        async def rebase(prior: Prior, current: StoredHead | None) -> Prior:
            if not isinstance(current, HeadState):
                raise SessionNotFound(
                    "session was deleted meanwhile", session_id=session_id, key=self._objects.layout.head(session_id)
                )
            states[current.etag] = current
            return await self._engine.prior(current)

        return rebase

    # ----------------------------------------------------------------------------------------------- edits

    async def edit_metadata(
        self, session_id: str, change: Callable[[StoredMetadata], dict[str, Any]], *, what: str
    ) -> SessionMetadata:
        """Applies a metadata change to the current head (tag, rename): content, segments and state unchanged."""
        cached = self._objects.cached(session_id)
        state = cached if cached is not None else await self._objects.read_live_head(session_id)
        states = {state.etag: state}

        async def build(prior: Prior) -> Proposal:
            current = states[str(prior.etag)]
            record = replace_content(
                prior, current.record, content_of(current.record), now=self._clock(), **change(current.record.metadata)
            )
            return self._proposal(record, current)

        rebase = self._rebase_onto(session_id, states)

        landed = await self._engine.commit(session_id, await self._engine.prior(state), build, rebase, what=what)
        assert isinstance(landed.proposal.record, HeadRecord)
        return metadata_of(session_id, HeadState(landed.etag, landed.proposal.record, [], b""))

    # ---------------------------------------------------------------------------------------------- rewind

    async def rewind(self, session_id: str, turn_index: int) -> Session:
        """Cuts the session back to turns ``0..turn_index`` and returns what is kept (see `SessionManager.rewind`)."""
        state = await self._objects.read_live_head(session_id)
        states = {state.etag: state}
        kept_messages: dict[str, list[Any]] = {}

        async def build(prior: Prior) -> Proposal:
            current = states[str(prior.etag)]
            record = current.record
            check_turn_index(turn_index, record.turn_count, session_id=session_id)
            cut = _Cut.of(record, turn_index + 1)
            try:
                segments = await self._objects.read_segments(
                    session_id, cut.refs, lines_of=frozenset({cut.inside}) if cut.inside is not None else frozenset()
                )
            except MissingSegment:
                newer = await self._objects.read_live_head(session_id)
                if newer.etag == current.etag:
                    raise
                raise _Moved(newer) from None
            messages = [message for segment in segments for message in segment.messages]
            keep = cut.keep
            cut_lines = cut_turns = None
            if cut.inside is not None:
                inside = segments[cut.inside]
                keep = cut.inside_start + _turn_offset(inside.messages, cut.inside_turn, session_id)
                cut_lines = inside.lines
                cut_turns = [is_turn_start(message) for message in inside.messages]
            layout = cut_layout(
                record.segments,
                keep,
                cut_lines=cut_lines,
                cut_turn_starts=cut_turns,
                tail=current.tail_lines,
                tail_turn_starts=record.tail_turn_starts,
            )
            tail_keep = len(layout.tail)
            kept = messages[:keep] + record.tail[:tail_keep]
            content = Content(
                segments=layout.kept,
                tail=record.tail[:tail_keep],
                tail_turn_starts=layout.tail_turn_starts,
                message_count=keep,
                message_bytes=sum(ref.size for ref in layout.kept) + lines_size(layout.tail),
                content_digest=content_digest(layout.kept, layout.tail, current.state_json),
                state=record.state,
            )
            new_record = replace_content(prior, record, content, now=self._clock())
            kept_messages[new_record.commits[-1].write_id] = kept
            return Proposal.head(
                new_record, state_json=current.state_json, tail_lines=layout.tail, max_bytes=self._objects.max_bytes
            )

        rebase = self._rebase_onto(session_id, states)

        prior = await self._engine.prior(state)
        for _ in range(COMMIT_ATTEMPTS):
            try:
                landed = await self._engine.commit(session_id, prior, build, rebase, what="rewinding")
                break
            except _Moved as moved:  # a segment vanished under a newer head: rewind the newer head
                states[moved.state.etag] = moved.state
                prior = await self._engine.prior(moved.state)
        else:
            raise ConflictError("gave up rewinding: the session kept changing", session_id=session_id)
        record = landed.proposal.record
        assert isinstance(record, HeadRecord)
        decoded = kept_messages[record.commits[-1].write_id]
        cached = self._objects.cached(session_id)
        if cached is not None and cached.etag == landed.etag:
            self._objects.remember(session_id, cached.with_snapshot(Snapshot(0, decoded, record.state)))
        key = self._objects.layout.head(session_id)
        return Session.model_construct(
            metadata=metadata_of(session_id, HeadState(landed.etag, record, [], b"")),
            messages=copy_containers(decoded, key=key),
            state=copy_containers([record.state], key=key)[0],
        )

    # ------------------------------------------------------------------------------------------------ fork

    async def fork(self, session_id: str, new_name: str | None) -> SessionMetadata:
        """Copies the session under a new id, segments server-side, and returns the fork's metadata."""
        source = await self._objects.read_live_head(session_id)
        new_id = new_session_id()
        try:
            refs = await self._copy_segments(session_id, source.record.segments, new_id, new_id)
        except MissingSegment:
            await self._objects.read_live_head(session_id)  # SessionNotFound if the source was deleted meanwhile
            raise
        record = fork_head(
            source.record,
            source_id=session_id,
            new_id=new_id,
            name=fork_name(source.record.metadata.name, new_name),
            segments=refs,
            now=self._clock(),
        )
        proposal = self._proposal(record, source)

        async def build(prior: Prior) -> Proposal:
            return proposal

        async def rebase(prior: Prior, current: StoredHead | None) -> Prior:
            raise CorruptObject("a generated fork id already exists", session_id=new_id)

        landed = await self._engine.commit(new_id, Prior(), build, rebase, what="forking")
        return metadata_of(new_id, HeadState(landed.etag, record, [], b""))

    # --------------------------------------------------------------------------------------------- restore

    async def restore(self, session_id: str, version_id: str) -> SessionMetadata:
        """Commits an older stored version's content as the session's next revision (undo of a rewind)."""
        old = await self._objects.read_head_version(session_id, version_id)
        if not isinstance(old, HeadState):
            raise SessionNotFound(f"version {version_id!r} is a delete, not a head", session_id=session_id)
        state = await self._objects.read_live_head(session_id)
        states = {state.etag: state}
        copies: dict[str, list[SegmentRef]] = {}

        async def build(prior: Prior) -> Proposal:
            current = states[str(prior.etag)]
            incarnation = current.record.incarnation
            if incarnation not in copies:
                copies[incarnation] = await self._copy_for_restore(session_id, old.record, incarnation, version_id)
            refs = copies[incarnation]
            content = Content(
                segments=refs,
                tail=old.record.tail,
                tail_turn_starts=list(old.record.tail_turn_starts),
                message_count=old.record.message_count,
                message_bytes=old.record.message_bytes,
                content_digest=content_digest(refs, old.tail_lines, old.state_json),
                state=old.record.state,
            )
            record = replace_content(
                prior,
                current.record,
                content,
                now=self._clock(),
                total_tokens=old.record.metadata.total_tokens,
                agent_name=old.record.metadata.agent_name,
                summary=old.record.metadata.summary,  # it describes the restored content
            )
            return Proposal.head(
                record, state_json=old.state_json, tail_lines=old.tail_lines, max_bytes=self._objects.max_bytes
            )

        rebase = self._rebase_onto(session_id, states)

        landed = await self._engine.commit(session_id, await self._engine.prior(state), build, rebase, what="restoring")
        assert isinstance(landed.proposal.record, HeadRecord)
        return metadata_of(session_id, HeadState(landed.etag, landed.proposal.record, [], b""))

    async def _copy_segments(
        self, source_id: str, refs: list[SegmentRef], target_id: str, incarnation: str
    ) -> list[SegmentRef]:
        """Copies segments server-side under fresh names (format-1 objects keep their content address) and
        returns the references to the copies: no fsck running now can collect a copy a head is about to use."""
        names: dict[str, str | None] = {}
        sources: dict[str, SegmentRef] = {}
        for ref in refs:
            source_key = self._objects.layout.segment(source_id, ref)
            if source_key not in names:
                names[source_key] = f"{incarnation}/{ref.digest}.{new_upload_id()}" if ref.name else None
                sources[source_key] = ref
        await gather(self._objects.copy_segment(source_id, ref, target_id, names[key]) for key, ref in sources.items())
        return [ref.model_copy(update={"name": names[self._objects.layout.segment(source_id, ref)]}) for ref in refs]

    async def _copy_for_restore(
        self, session_id: str, old: HeadRecord, incarnation: str, version_id: str
    ) -> list[SegmentRef]:
        """Copies the old version's segments under fresh names (see `_copy_segments`)."""
        try:
            return await self._copy_segments(session_id, old.segments, session_id, incarnation)
        except MissingSegment as exc:
            raise CorruptObject(
                f"cannot restore version {version_id!r}: a segment it needs was collected by `fsck --repair`"
                f" ({exc.key})",
                session_id=session_id,
                key=exc.key,
            ) from exc


class _Moved(Exception):
    """A rewind found a segment gone under a newer head: start again from that head."""

    def __init__(self, state: HeadState) -> None:
        super().__init__("the head moved on")
        self.state = state


class _Cut:
    """Where a rewind that keeps turns ``0..next_turn-1`` cuts: the refs to read, and the cut itself.

    The cut is where turn ``next_turn`` starts, found from the per-segment turn counts: in the tail (``keep``
    is final), or inside one segment (``inside``: its position among ``refs``, where that segment starts, and
    which of its turns starts the cut), whose messages must be read to find it.
    """

    def __init__(self, refs: list[SegmentRef], keep: int, inside: int | None, inside_start: int, inside_turn: int):
        self.refs = refs
        self.keep = keep
        self.inside = inside
        self.inside_start = inside_start
        self.inside_turn = inside_turn

    @classmethod
    def of(cls, record: HeadRecord, next_turn: int) -> _Cut:
        segments = list(record.segments)
        if next_turn >= record.turn_count:
            return cls(segments, record.message_count, None, 0, 0)
        found = segment_of_turn(segments, next_turn)
        if found is None:
            sealed_turns = sum(ref.turns for ref in segments)
            return cls(segments, record.sealed_count + record.tail_turn_starts[next_turn - sealed_turns], None, 0, 0)
        index, start, turns_before = found
        return cls(segments[: index + 1], -1, index, start, next_turn - turns_before)


def _turn_offset(messages: list[Any], turn: int, session_id: str) -> int:
    offset = turn_offset(messages, turn)
    if offset is None:
        raise CorruptObject("a segment's turn count does not match its messages", session_id=session_id)
    return offset
