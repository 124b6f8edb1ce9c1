"""Planning which message bytes go where: kept segments, new segments, inline tail (pure code).

A head lists immutable segments (content-addressed) and carries an inline tail. Saving compares the caller's
messages with the segments of the head it read *by digest*, never by trusting indices, so an edited old message
is saved; everything after the longest unchanged run of segments is "new". New messages stay inline while the
tail is small; past the tail bound they are sealed into segments of up to `SEGMENT_BYTES`, and a freshly sealed
segment absorbs the previous one while that one is no larger (a binary counter), so a long history keeps about
``size / SEGMENT_BYTES + log2(SEGMENT_BYTES / TAIL_BYTES)`` segments and resume reads them in one wave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .codec import digest_lines
from .records import SegmentRef

TAIL_BYTES = 64 * 1024
SEGMENT_BYTES = 1024 * 1024


def lines_size(lines: Sequence[bytes]) -> int:
    """Returns the canonical JSON size of messages, as counted against the tail and segment bounds."""
    return sum(len(line) + 1 for line in lines)


@dataclass(frozen=True)
class NewSegment:
    """A segment to upload before the head that references it."""

    digest: str
    lines: list[bytes]

    @property
    def ref(self) -> SegmentRef:
        return SegmentRef(digest=self.digest, count=len(self.lines), take=len(self.lines), size=lines_size(self.lines))


@dataclass
class Layout:
    """Where every message of a session lives after a commit."""

    segments: list[SegmentRef] = field(default_factory=list)
    new_segments: list[NewSegment] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)


def kept_prefix(base: Sequence[SegmentRef], lines: Sequence[bytes]) -> tuple[list[SegmentRef], int]:
    """Returns the leading segments of ``base`` whose messages the caller still holds unchanged, and how many
    messages they cover."""
    kept: list[SegmentRef] = []
    position = 0
    for ref in base:
        end = position + ref.take
        if end > len(lines) or digest_lines(lines[position:end]) != ref.taken_digest:
            break
        kept.append(ref)
        position = end
    return kept, position


def _chunk(lines: Sequence[bytes], limit: int) -> list[list[bytes]]:
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append(current)
    return chunks


def plan_layout(
    base: Sequence[SegmentRef],
    lines: Sequence[bytes],
    *,
    tail_bytes: int = TAIL_BYTES,
    segment_bytes: int = SEGMENT_BYTES,
) -> Layout:
    """Returns the layout that stores ``lines`` uploading as little as possible given the ``base`` segments.

    Args:
        base: The segment list of the head the caller read (empty for a new session).
        lines: Every message of the session, as canonical JSON (see `codec.encode_message_lines`).
        tail_bytes: The inline tail's bound.
        segment_bytes: The target size of sealed segments.
    """
    kept, position = kept_prefix(base, lines)
    rest = list(lines[position:])
    if lines_size(rest) <= tail_bytes:
        return Layout(segments=kept, tail=rest)
    chunks = _chunk(rest, segment_bytes)
    first = chunks[0]
    # Merge small sealed segments: absorb the previous kept segment while it is no larger than the new one.
    while kept and kept[-1].size <= lines_size(first) and kept[-1].size + lines_size(first) <= segment_bytes:
        previous = kept.pop()
        position -= previous.take
        first = list(lines[position : position + previous.take]) + first
    chunks[0] = first
    new_segments = [NewSegment(digest=digest_lines(chunk), lines=chunk) for chunk in chunks]
    return Layout(segments=kept + [segment.ref for segment in new_segments], new_segments=new_segments)


def cut_layout(
    segments: Sequence[SegmentRef],
    segment_lines: Sequence[Sequence[bytes]],
    tail: Sequence[bytes],
    keep: int,
) -> Layout:
    """Returns the layout that keeps the first ``keep`` messages, referencing segments partially (rewind).

    Args:
        segments: The head's segment refs.
        segment_lines: For each ref, the canonical lines of its object (at least the taken ones).
        tail: The head's inline tail, as canonical lines.
        keep: How many messages survive.
    """
    kept: list[SegmentRef] = []
    position = 0
    for ref, lines in zip(segments, segment_lines, strict=True):
        if position >= keep:
            break
        take = min(ref.take, keep - position)
        if take == ref.take:
            kept.append(ref)
        else:
            taken = list(lines[:take])
            kept.append(
                ref.model_copy(update={"take": take, "take_digest": digest_lines(taken), "size": lines_size(taken)})
            )
        position += take
    return Layout(segments=kept, tail=list(tail[: max(keep - position, 0)]))
