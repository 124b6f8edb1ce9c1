"""Validation of what callers pass in: ids, names, tags, summaries, prefixes, times and turn indexes (pure code).

Every check raises `InvalidInput` naming the offending value, before any request is made. Key building lives
in `s3sessions.format.keys` and relies on these checks: an id that passed `check_session_id` can never place an
object outside ``{prefix}sessions/{id}/``.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from .errors import InvalidInput

MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 256
MAX_TAG_LENGTH = 64
MAX_TAGS = 64
MAX_PREFIX_LENGTH = 512
MAX_FUTURE_SECONDS = 24 * 3600
"""How far ahead of the clock a caller's ``created_at`` may be (clock skew between machines, not the year 2100)."""
MAX_SUMMARY_BYTES = 8192
"""Compact JSON bytes a session's ``summary`` may take: the index carries it, so it must stay small."""

ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,200}")
_PREFIX_FORBIDDEN = frozenset("*?[]{}\\")
"""Characters a prefix may not hold: IAM policy wildcards (``*``, ``?``) and glob/escape characters."""


def check_session_id(session_id: object) -> str:
    """Returns the id if it is 1-200 chars of ``[A-Za-z0-9._-]`` and not ``.`` or ``..``.

    Raises:
        InvalidInput: naming the offending value.
    """
    if not isinstance(session_id, str) or not ID_PATTERN.fullmatch(session_id) or session_id in {".", ".."}:
        raise InvalidInput(
            f"invalid session id {session_id!r}: use 1-{MAX_ID_LENGTH} characters of A-Z a-z 0-9 . _ -"
            " (not '.' or '..')"
        )
    return session_id


def is_session_id(value: object) -> bool:
    """True if the value would pass `check_session_id` (for filtering what a listing yields)."""
    return isinstance(value, str) and bool(ID_PATTERN.fullmatch(value)) and value not in {".", ".."}


def _printable(value: object, *, what: str, limit: int) -> str:
    """Returns the value if it is a string of 1 to ``limit`` printable characters, else InvalidInput naming it."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable():
        raise InvalidInput(f"invalid {what} {value!r}: use 1-{limit} printable characters")
    return value


def check_name(name: object) -> str:
    """Returns the session name if it is 1-256 printable characters.

    Raises:
        InvalidInput: naming the offending value.
    """
    return _printable(name, what="session name", limit=MAX_NAME_LENGTH)


def check_tag(tag: object) -> str:
    """Returns the tag if it is 1-64 printable characters.

    Raises:
        InvalidInput: naming the offending value.
    """
    return _printable(tag, what="tag", limit=MAX_TAG_LENGTH)


def check_tags(tags: object) -> list[str]:
    """Returns the tags, de-duplicated in first-seen order, if each is 1-64 printable characters.

    Raises:
        InvalidInput: naming the offending value (a bare string is refused: it is not a list of tags).
    """
    if isinstance(tags, str | bytes) or not isinstance(tags, list | tuple | set | frozenset):
        raise InvalidInput(f"invalid tags {tags!r}: pass a list of strings")
    return merge_tags([], [check_tag(tag) for tag in tags])


def merge_tags(existing: list[str], added: list[str]) -> list[str]:
    """Returns the set union of two tag lists, keeping first-seen order.

    Raises:
        InvalidInput: if the union exceeds the per-session limit.
    """
    merged = list(dict.fromkeys([*existing, *added]))
    if len(merged) > MAX_TAGS:
        raise InvalidInput(f"too many tags ({len(merged)}): at most {MAX_TAGS} per session")
    return merged


def check_agent_name(agent_name: object) -> str:
    """Returns the agent name if it is 1-256 printable characters.

    Raises:
        InvalidInput: naming the offending value.
    """
    return _printable(agent_name, what="agent name", limit=MAX_NAME_LENGTH)


def check_count(value: object, *, name: str = "count") -> int:
    """Returns a count (tokens, turns, bytes) if it is an int from 0 to 10^15.

    Raises:
        InvalidInput: naming the field and the offending value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**15:
        raise InvalidInput(f"invalid {name} {value!r}: use an int from 0 to 10^15")
    return value


def check_summary(value: object) -> dict[str, Any] | None:
    """Returns a session's summary as it reads back (None, or a JSON object of at most `MAX_SUMMARY_BYTES` as
    compact JSON): a copy decoded from its JSON, so a tuple in it is a list here as after any store's round trip,
    and the caller's dict is never the metadata's.

    Raises:
        InvalidInput: not an object, not storable JSON, or too large (naming its size).
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"invalid summary {value!r:.80}: use a JSON object (a dict) or None")
    from .formats.json_values import decode_json, encode_value

    encoded = encode_value(value, label="summary")
    if len(encoded) > MAX_SUMMARY_BYTES:
        raise InvalidInput(
            f"invalid summary: {len(encoded)} bytes as compact JSON, over the {MAX_SUMMARY_BYTES} the index carries"
        )
    decoded: dict[str, Any] = decode_json(encoded, key="summary")
    return decoded


def check_created_at(value: object, *, now: float | None = None) -> float:
    """Returns a caller's ``created_at`` rounded to the millisecond, if it is a time this library can store.

    Raises:
        InvalidInput: not a number, negative, or more than a day ahead of the clock.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidInput(f"invalid created_at {value!r}: use Unix seconds")
    limit = (time.time() if now is None else now) + MAX_FUTURE_SECONDS
    if value < 0 or value > limit:
        raise InvalidInput(
            f"invalid created_at {value!r}: use Unix seconds between 0 and a day from now (at most {limit:.0f})"
        )
    return round(float(value), 3)


def check_turn_index(turn_index: object, turn_count: int, *, session_id: str) -> int:
    """Returns the turn index if it names one of the session's turns (zero-based).

    Raises:
        InvalidInput: not an int, or outside ``0..turn_count-1`` (never clamped, never a silent no-op).
    """
    if isinstance(turn_index, bool) or not isinstance(turn_index, int):
        raise InvalidInput(f"invalid turn index {turn_index!r}: must be an int", session_id=session_id)
    if not 0 <= turn_index < turn_count:
        if turn_count == 0:
            problem = f"invalid turn index {turn_index}: the session has no turns yet"
        else:
            problem = (
                f"invalid turn index {turn_index}: the session has {turn_count} turn(s), so use 0..{turn_count - 1}"
            )
        raise InvalidInput(problem, session_id=session_id)
    return turn_index


def new_session_id() -> str:
    """Returns a new time-ordered id (UUIDv7 layout, as 32 lowercase hex characters).

    Time-ordered ids list in creation order with ``aws s3 ls`` and double as incarnation ids. Their order is
    only a convenience: nothing in the library compares the clocks of two machines through them.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return f"{value:032x}"


def normalise_prefix(prefix: object) -> str:
    """Returns the prefix ending in ``/`` (or empty), refusing ones that could confuse the key layout or a policy.

    The manager, ``bucket init`` and the generated IAM policy all use this one function, so a prefix means the
    same keys everywhere.

    Raises:
        InvalidInput: for a non-string, a leading ``/``, empty, ``.`` or ``..`` segments (``a//b``, ``a/../b``),
            control characters, wildcard or glob characters (``* ? [ ] { } \\``), or more than 512 characters.
    """
    if not isinstance(prefix, str):
        raise InvalidInput(f"invalid prefix {prefix!r}: must be a string")
    if prefix == "":
        return ""
    parts = prefix.rstrip("/").split("/")
    if (
        prefix.startswith("/")
        or not prefix.isprintable()
        or any(part in {"", ".", ".."} for part in parts)
        or any(char in _PREFIX_FORBIDDEN for char in prefix)
        or len(prefix) > MAX_PREFIX_LENGTH
    ):
        raise InvalidInput(
            f"invalid prefix {prefix!r}: use printable path segments without '.', '..', '//', a leading '/'"
            " or the characters * ? [ ] { } \\"
        )
    return "/".join(parts) + "/"
