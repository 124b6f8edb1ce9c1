"""Finding what a save changed, without encoding the history again: the plan of what to write.

The manager keeps a snapshot of the messages it handed out (`engine.objects`): after a save, the messages as
decoded from the lines it stored (what any reader of the bucket gets: a tuple is a list, an enum its value, and
a message the caller replaced by an ``==`` one, ``1`` by ``True`` say, is what the kept bytes say). The
caller's messages are compared with it segment by segment (``==`` in C; shared strings compare by identity), so
the cost is the new turn plus a pointer walk, not a re-encoding and re-hashing of the history; the first segment
that differs, and everything after it, is new. An edited old message is found the same way as an appended one.
Without a snapshot (a session built from JSON, or evicted from the cache) every message is encoded and compared
by digest: the same answer, slower. A partial session (``resume(id, last_turns=K)``) is compared from the
segment its first message is in; the messages it left out are kept as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..formats.bodies import lines_size, ref_digest
from ..formats.json_values import decode_json, decode_lines, encode_messages, encode_value
from ..formats.planning import Layout, plan_layout
from ..formats.records import HeadRecord, SegmentRef
from ..models import Session
from ..turns import is_turn_start
from .heads import Prior
from .objects import HeadState, SessionObjects, Snapshot


@dataclass
class Plan:
    """What a save writes over one base: the layout, the private copies for the next snapshot, the sizes."""

    layout: Layout
    snapshot: Snapshot
    state_json: bytes
    message_count: int
    message_bytes: int

    def tail_objects(self) -> list[Any]:
        count = len(self.layout.tail)
        return self.snapshot.messages[len(self.snapshot.messages) - count :] if count else []


class ChangePlanner:
    """Plans saves for one prefix.

    Args:
        objects: The prefix's objects (segment reads for a partial session without a snapshot).
        tail_bytes, segment_bytes: The inline tail's bound and the sealed segment size.
    """

    def __init__(self, objects: SessionObjects, *, tail_bytes: int, segment_bytes: int) -> None:
        self._objects = objects
        self._tail_bytes = tail_bytes
        self._segment_bytes = segment_bytes

    async def plan(
        self, session_id: str, session: Session, prior: Prior, state: HeadState | None, omitted: int
    ) -> Plan:
        base = prior.head
        need = _first_compared(base.segments, omitted) if base is not None else 0
        usable = state is not None and state.snapshot is not None and state.snapshot.start <= need
        if base is not None and omitted and not usable:
            assert state is not None
            state = await self._read_snapshot(session_id, base, state, need)
            usable = True
        if usable:
            assert state is not None
            return self._plan_from_snapshot(session, base, state, omitted)
        return self._plan_by_digest(session, base, session.messages)

    async def _read_snapshot(self, session_id: str, base: HeadRecord, state: HeadState, need: int) -> HeadState:
        """Reads the segments a partial save must compare with (from message ``need`` on) into a snapshot."""
        first = 0
        position = 0
        for ref in base.segments:
            if position + ref.take > need:
                break
            position += ref.take
            first += 1
        segments = await self._objects.read_segments(session_id, base.segments[first:])
        decoded = [message for segment in segments for message in segment.messages] + list(base.tail)
        return state.with_snapshot(Snapshot(position, decoded, base.state))

    def _plan_from_snapshot(self, session: Session, base: HeadRecord | None, state: HeadState, omitted: int) -> Plan:
        assert state.snapshot is not None and base is not None
        snap = state.snapshot
        start = snap.start
        messages = session.messages
        logical_end = omitted + len(messages)
        kept: list[SegmentRef] = []
        position = 0
        for ref in base.segments:
            end = position + ref.take
            if end > omitted:
                low = max(position, omitted)
                if end > logical_end or not _same(
                    messages[low - omitted : end - omitted], snap.messages[low - start : end - start]
                ):
                    break
            kept.append(ref)
            position = end
        rest = _logical(snap, messages, omitted, position, logical_end)
        label_start = position
        sealed = base.sealed_count
        tail_count = len(base.tail)
        if (
            position == sealed
            and logical_end >= sealed + tail_count
            and _same(rest[:tail_count], snap.messages[sealed - start : sealed - start + tail_count])
        ):
            new_lines = encode_messages(rest[tail_count:], start=label_start + tail_count)
            rest_lines = [*state.tail_lines, *new_lines]
            # The kept tail's lines are the old ones, so its snapshot is the old one too (not the caller's ``==``
            # copy: True for 1, or another key order, would be what this manager resumes but not what is stored).
            private_rest = [*snap.messages[sealed - start : sealed - start + tail_count], *decode_lines(new_lines)]
        else:
            rest_lines = encode_messages(rest, start=label_start)
            private_rest = decode_lines(rest_lines)
        if _same(session.state, snap.state):
            state_json, state_copy = state.state_json, snap.state
        else:
            state_json = encode_value(session.state, label="state")
            state_copy = decode_json(state_json, key="state")

        def kept_lines(index: int) -> list[bytes] | None:
            low = sum(ref.take for ref in kept[:index])
            if low < start:
                return None
            return encode_messages(snap.messages[low - start : low - start + kept[index].take])

        layout = plan_layout(
            kept,
            rest_lines,
            [is_turn_start(message) for message in private_rest],
            kept_lines=kept_lines,
            tail_bytes=self._tail_bytes,
            segment_bytes=self._segment_bytes,
        )
        snapshot_messages = [*snap.messages[: position - start], *private_rest]
        return Plan(
            layout,
            Snapshot(start, snapshot_messages, state_copy),
            state_json,
            logical_end,
            sum(ref.size for ref in kept) + lines_size(rest_lines),
        )

    def _plan_by_digest(self, session: Session, base: HeadRecord | None, messages: list[Any]) -> Plan:
        lines = encode_messages(messages)
        stored = decode_lines(lines)
        kept: list[SegmentRef] = []
        position = 0
        for ref in base.segments if base is not None else []:
            end = position + ref.take
            if end > len(lines) or ref_digest(ref, lines[position:end]) != ref.taken_digest:
                break
            kept.append(ref)
            position = end
        layout = plan_layout(
            kept,
            lines[position:],
            [is_turn_start(message) for message in stored[position:]],
            kept_lines=lambda index: lines[sum(ref.take for ref in kept[:index]) :][: kept[index].take],
            tail_bytes=self._tail_bytes,
            segment_bytes=self._segment_bytes,
        )
        state_json = encode_value(session.state, label="state")
        return Plan(
            layout,
            Snapshot(0, stored, decode_json(state_json, key="state")),
            state_json,
            len(lines),
            lines_size(lines),
        )


def _first_compared(refs: Sequence[SegmentRef], omitted: int) -> int:
    """The first message index a save must compare: the start of the segment holding message ``omitted``, or
    the start of the tail when the omitted messages end in it."""
    position = 0
    for ref in refs:
        if position + ref.take > omitted:
            return position
        position += ref.take
    return position


def _logical(snap: Snapshot, messages: list[Any], omitted: int, position: int, end: int) -> list[Any]:
    """The caller's logical messages ``position..end``: the snapshot's for omitted ones, then the caller's."""
    head = snap.messages[position - snap.start : omitted - snap.start] if position < omitted else []
    return [*head, *messages[max(position, omitted) - omitted : end - omitted]]


def _same(ours: object, snapshot: object) -> bool:
    """``ours == snapshot``, in C; a comparison the caller's stack is too deep for counts as a change (the
    value is then encoded again, which needs no Python stack)."""
    try:
        return bool(ours == snapshot)
    except RecursionError:
        return False
