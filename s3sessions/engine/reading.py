"""Reading sessions: resume a whole session, or only its last turns, in one wave of segment GETs.

What the caller receives are fresh copies; the manager keeps the decoded originals as the snapshot its next
save compares with (see `engine.objects`), and a later resume of the same head version copies that snapshot
instead of reading the segments again. A segment that vanished under a newer head (a merge or rewind dropped
it and ``fsck --repair`` collected it while this read was between the head and the segments) makes the read
start again from the newer head, once.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import CorruptObject, InvalidInput
from ..formats.json_values import copy_containers
from ..formats.planning import segment_of_turn
from ..models import Session, SessionMetadata
from ..turns import turn_offset
from .objects import HeadState, MissingSegment, SessionObjects, Snapshot


def metadata_of(session_id: str, state: HeadState) -> SessionMetadata:
    """The public metadata of a stored head (trusted: it was validated when read or built)."""
    stored = state.record.metadata
    return SessionMetadata.model_construct(
        id=session_id,
        name=stored.name,
        tags=list(stored.tags),
        agent_name=stored.agent_name,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        turn_count=state.record.turn_count,
        message_bytes=state.record.message_bytes,
        total_tokens=stored.total_tokens,
        parent_id=stored.parent_id,
        forked_at_turn=stored.forked_at_turn,
        summary=copy.deepcopy(stored.summary),
        version=state.etag,
    )


def check_last_turns(last_turns: object, *, session_id: str) -> int | None:
    """Returns the number of turns a partial resume asks for (None: all)."""
    if last_turns is None:
        return None
    if isinstance(last_turns, bool) or not isinstance(last_turns, int) or last_turns < 0:
        raise InvalidInput(
            f"invalid last_turns {last_turns!r}: use an int >= 0 (or None for all)", session_id=session_id
        )
    return last_turns


async def resume(objects: SessionObjects, session_id: str, *, last_turns: int | None = None) -> Session:
    """Returns the stored session, or only its last ``last_turns`` turns (see `Session.omitted_messages`).

    S3 requests: GET head; then one parallel wave of GETs of the segments needed (none while the messages fit
    the inline tail).
    """
    for attempt in range(2):
        state = await objects.read_live_head(session_id)
        try:
            return await _assemble(objects, session_id, state, last_turns)
        except MissingSegment:
            if attempt == 1 or (await objects.read_live_head(session_id)).etag == state.etag:
                raise
    raise AssertionError("unreachable")


async def _assemble(objects: SessionObjects, session_id: str, state: HeadState, last_turns: int | None) -> Session:
    record = state.record
    first_ref, omitted, first_turn = 0, 0, 0
    if last_turns == 0 and record.turn_count:
        first_ref, omitted = len(record.segments), record.message_count
    elif last_turns is not None and last_turns < record.turn_count:
        first_turn = record.turn_count - last_turns
        found = segment_of_turn(record.segments, first_turn)
        if found is None:
            sealed_turns = sum(ref.turns for ref in record.segments)
            first_ref = len(record.segments)
            omitted = record.sealed_count + record.tail_turn_starts[first_turn - sealed_turns]
        else:
            first_ref, omitted, turns_before = found
            first_turn -= turns_before
    start = sum(ref.take for ref in record.segments[:first_ref])
    held = _held(objects, session_id, state, start)
    if held is None:
        segments = await objects.read_segments(session_id, record.segments[first_ref:])
        decoded = [message for segment in segments for message in segment.messages]
        decoded += record.tail
    else:
        decoded = held
    if first_ref < len(record.segments) and last_turns and last_turns < record.turn_count:
        offset = turn_offset(decoded[: record.segments[first_ref].take], first_turn)
        if offset is None:
            raise CorruptObject("a segment's turn count does not match its messages", session_id=session_id)
        omitted = start + offset
    if held is None:
        objects.remember(session_id, state.with_snapshot(Snapshot(start, decoded, record.state)))
    key = objects.layout.head(session_id)
    session = Session.model_construct(
        metadata=metadata_of(session_id, state),
        messages=copy_containers(decoded[omitted - start :], key=key, session_id=session_id),
        state=copy_containers([record.state], key=key)[0],
    )
    session._omitted = omitted
    return session


def _held(objects: SessionObjects, session_id: str, state: HeadState, start: int) -> list[Any] | None:
    """Messages ``start..`` of the head just read, from this manager's snapshot when it holds that very version.

    Segments never change under a key and the ETag names the head's bytes, so a snapshot taken of this version
    (when this manager saved, resumed, forked or rewound it, or read a version of the same content) is what the
    segments would decode to: resuming it again costs the head's GET and the caller's copy, not the segments'.
    """
    cached = objects.cached(session_id)
    if cached is None or cached.etag != state.etag or cached.snapshot is None or cached.snapshot.start > start:
        return None
    snapshot = cached.snapshot
    if len(snapshot.messages) != state.record.message_count - snapshot.start:
        return None  # not expected: a snapshot always covers its head to the end; read the segments then
    return snapshot.messages[start - snapshot.start :]
