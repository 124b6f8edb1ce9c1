"""Planning where a session's messages live: kept segments, new segments, the inline tail (pure code).

A head lists immutable segments and carries an inline tail. A save keeps the leading segments whose messages
the caller still holds unchanged (the engine decides which, by comparing with its snapshot or by digest, never
by trusting indices, so an edited old message is saved) and plans the rest here: new messages stay inline
while the tail is small; past the tail bound they are sealed into segments of up to `SEGMENT_BYTES`, and a
freshly sealed segment absorbs the previous one while that one is no larger (a binary counter), so a long
history keeps about ``size / SEGMENT_BYTES + log2(SEGMENT_BYTES / TAIL_BYTES)`` segments and resume reads them
in one wave. Each segment records how many turns start in it, so the head never carries the whole turn table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .bodies import lines_digest, lines_size, ref_digest
from .records import SegmentRef

TAIL_BYTES = 64 * 1024
SEGMENT_BYTES = 4 * 1024 * 1024
"""4 MiB of JSON (about 1 MiB stored): each GET costs the client about 3.5 ms of SDK CPU, so a 12 MiB history
resumes in 4-9 GETs instead of 13-16 (about a fifth less resume CPU); the price, measured growing a session
turn by turn to 10,000 messages: 9.0 MiB of segments uploaded over its life instead of 7.4, the largest
single seal 637 KiB instead of 228 KiB (a session grown one turn per save to 10,000 `benchmarks.data` messages)."""


@dataclass(frozen=True)
class NewSegment:
    """A segment to upload before the head that references it."""

    lines: list[bytes]
    turns: int
    digest: str

    @classmethod
    def of(cls, lines: list[bytes], turns: int) -> NewSegment:
        return cls(lines, turns, lines_digest(lines))

    def ref(self, name: str) -> SegmentRef:
        """Returns the reference to this segment once uploaded under ``name``."""
        count = len(self.lines)
        return SegmentRef(
            digest=self.digest, count=count, take=count, size=lines_size(self.lines), turns=self.turns, name=name
        )


@dataclass
class Layout:
    """Where every message of a session lives after a commit (kept refs first, then new segments, then the tail)."""

    kept: list[SegmentRef] = field(default_factory=list)
    new_segments: list[NewSegment] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)
    tail_turn_starts: list[int] = field(default_factory=list)

    def refs(self, name_for: Callable[[NewSegment], str]) -> list[SegmentRef]:
        """Returns the head's segment list, naming each new segment with ``name_for``."""
        return [*self.kept, *(segment.ref(name_for(segment)) for segment in self.new_segments)]


def _chunk(lines: Sequence[bytes], flags: Sequence[bool], limit: int) -> list[tuple[list[bytes], int]]:
    chunks: list[tuple[list[bytes], int]] = []
    current: list[bytes] = []
    turns = 0
    size = 0
    for line, starts in zip(lines, flags, strict=True):
        if current and size + len(line) + 1 > limit:
            chunks.append((current, turns))
            current, turns, size = [], 0, 0
        current.append(line)
        turns += starts
        size += len(line) + 1
    if current:
        chunks.append((current, turns))
    return chunks


def plan_layout(
    kept: Sequence[SegmentRef],
    rest: Sequence[bytes],
    rest_turn_starts: Sequence[bool],
    *,
    kept_lines: Callable[[int], list[bytes] | None],
    tail_bytes: int = TAIL_BYTES,
    segment_bytes: int = SEGMENT_BYTES,
) -> Layout:
    """Returns the layout that stores the messages, uploading as little as possible.

    Args:
        kept: The leading segments of the head read, whose messages are unchanged.
        rest: Canonical lines of every message after the kept segments.
        rest_turn_starts: For each of ``rest``, whether it starts a turn.
        kept_lines: Returns the canonical lines of ``kept[i]``'s messages (only called to merge a small sealed
            segment into a new one), or None when they are not at hand (then no merge happens).
        tail_bytes: The inline tail's bound.
        segment_bytes: The target size of sealed segments.
    """
    kept = list(kept)
    if lines_size(rest) <= tail_bytes:
        return Layout(kept=kept, tail=list(rest), tail_turn_starts=[i for i, s in enumerate(rest_turn_starts) if s])
    chunks = _chunk(rest, rest_turn_starts, segment_bytes)
    first, first_turns = chunks[0]
    # Merge small sealed segments: absorb the previous kept segment while it is no larger than the new one.
    while kept and kept[-1].size <= lines_size(first) and kept[-1].size + lines_size(first) <= segment_bytes:
        previous_lines = kept_lines(len(kept) - 1)
        if previous_lines is None:
            break
        previous = kept.pop()
        first = previous_lines + first
        first_turns += previous.turns
    chunks[0] = (first, first_turns)
    return Layout(kept=kept, new_segments=[NewSegment.of(lines, turns) for lines, turns in chunks])


def cut_layout(
    refs: Sequence[SegmentRef],
    keep: int,
    *,
    cut_lines: Sequence[bytes] | None,
    cut_turn_starts: Sequence[bool] | None,
    tail: Sequence[bytes],
    tail_turn_starts: Sequence[int],
) -> Layout:
    """Returns the layout that keeps the first ``keep`` messages, referencing a segment partially (rewind).

    Args:
        refs: The head's segment refs.
        keep: How many messages survive.
        cut_lines: The canonical lines of the one segment the cut falls inside (None if it falls on a boundary
            or in the tail).
        cut_turn_starts: Whether each of ``cut_lines`` starts a turn.
        tail: The head's inline tail, as canonical lines.
        tail_turn_starts: The tail's turn starts.
    """
    kept: list[SegmentRef] = []
    position = 0
    for ref in refs:
        if position >= keep:
            break
        take = min(ref.take, keep - position)
        if take == ref.take:
            kept.append(ref)
        else:
            if cut_lines is None or cut_turn_starts is None:
                raise ValueError("the cut falls inside a segment whose lines were not given")
            taken = list(cut_lines[:take])
            kept.append(
                ref.model_copy(
                    update={
                        "take": take,
                        "take_digest": ref_digest(ref, taken),
                        "size": lines_size(taken),
                        "turns": sum(cut_turn_starts[:take]),
                    }
                )
            )
        position += take
    tail_keep = max(keep - position, 0)
    return Layout(
        kept=kept,
        tail=list(tail[:tail_keep]),
        tail_turn_starts=[start for start in tail_turn_starts if start < tail_keep],
    )


def segment_of_turn(refs: Sequence[SegmentRef], turn: int) -> tuple[int, int, int] | None:
    """Returns (ref index, message index where that ref starts, turns before it) for the ref in which turn
    number ``turn`` (zero-based) starts, or None when it starts in the tail."""
    turns = 0
    position = 0
    for index, ref in enumerate(refs):
        if turns + ref.turns > turn:
            return index, position, turns
        turns += ref.turns
        position += ref.take
    return None
