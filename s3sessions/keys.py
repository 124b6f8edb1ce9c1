"""Validation of ids, names and tags, and the S3 key layout (pure code).

The layout (see DESIGN.md)::

    {prefix}manifest.json.zst
    {prefix}sessions/{id}/head.json.zst
    {prefix}sessions/{id}/segments/{digest}.json.zst
    {prefix}index/{shard}.json.zst

Every key is built here and only here, from a validated id, so that no id can place an object outside
``{prefix}sessions/{id}/``: ids are restricted to ``[A-Za-z0-9._-]`` and may not be ``.`` or ``..``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time

from .errors import InvalidInput

MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 256
MAX_TAG_LENGTH = 64
MAX_TAGS = 64

_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,200}")
_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
SUFFIX = ".json.zst"


def check_session_id(session_id: object) -> str:
    """Returns the id if it is 1-200 chars of ``[A-Za-z0-9._-]`` and not ``.`` or ``..``.

    Raises:
        InvalidInput: naming the offending value.
    """
    if not isinstance(session_id, str) or not _ID_PATTERN.fullmatch(session_id) or session_id in {".", ".."}:
        raise InvalidInput(
            f"invalid session id {session_id!r}: use 1-{MAX_ID_LENGTH} characters of A-Z a-z 0-9 . _ -"
            " (not '.' or '..')"
        )
    return session_id


def _is_printable_text(value: str) -> bool:
    return value.isprintable()


def check_name(name: object) -> str:
    """Returns the name if it is 1-256 printable characters.

    Raises:
        InvalidInput: naming the offending value.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH or not _is_printable_text(name):
        raise InvalidInput(f"invalid session name {name!r}: use 1-{MAX_NAME_LENGTH} printable characters")
    return name


def check_tags(tags: object) -> list[str]:
    """Returns the tags, de-duplicated in first-seen order, if each is 1-64 printable characters.

    Raises:
        InvalidInput: naming the offending value (a bare string is refused: it is not a list of tags).
    """
    if isinstance(tags, str | bytes) or not isinstance(tags, list | tuple | set | frozenset):
        raise InvalidInput(f"invalid tags {tags!r}: pass a list of strings")
    result: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_LENGTH or not _is_printable_text(tag):
            raise InvalidInput(f"invalid tag {tag!r}: use 1-{MAX_TAG_LENGTH} printable characters")
        if tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS:
        raise InvalidInput(f"too many tags ({len(result)}): at most {MAX_TAGS} per session")
    return result


def merge_tags(existing: list[str], added: list[str]) -> list[str]:
    """Returns the set union of two tag lists, keeping first-seen order.

    Raises:
        InvalidInput: if the union exceeds the per-session limit.
    """
    merged = list(existing)
    for tag in added:
        if tag not in merged:
            merged.append(tag)
    if len(merged) > MAX_TAGS:
        raise InvalidInput(f"too many tags ({len(merged)}): at most {MAX_TAGS} per session")
    return merged


def new_session_id() -> str:
    """Returns a new time-ordered id (UUIDv7 layout, as 32 lowercase hex characters).

    Time-ordered ids list in creation order with ``aws s3 ls`` and double as incarnation ids.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return f"{value:032x}"


def normalise_prefix(prefix: str) -> str:
    """Returns the prefix ending in ``/`` (or empty), refusing ones that could confuse key layout.

    Raises:
        InvalidInput: for a prefix with control characters, ``..`` or ``.`` segments, or a leading ``/``.
    """
    if not isinstance(prefix, str):
        raise InvalidInput(f"invalid prefix {prefix!r}: must be a string")
    if prefix == "":
        return ""
    parts = prefix.strip("/").split("/") if prefix.strip("/") else []
    if (
        prefix.startswith("/")
        or not prefix.isprintable()
        or any(part in {"", ".", ".."} for part in parts)
        or len(prefix) > 512
    ):
        raise InvalidInput(
            f"invalid prefix {prefix!r}: use printable path segments without '.', '..', '//' or a leading '/'"
        )
    return "/".join(parts) + "/" if parts else ""


class KeyLayout:
    """Builds every key of one store from its normalised prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = normalise_prefix(prefix)

    @property
    def manifest(self) -> str:
        return f"{self.prefix}manifest{SUFFIX}"

    @property
    def sessions_root(self) -> str:
        return f"{self.prefix}sessions/"

    def session_prefix(self, session_id: str) -> str:
        return f"{self.prefix}sessions/{check_session_id(session_id)}/"

    def head(self, session_id: str) -> str:
        return f"{self.session_prefix(session_id)}head{SUFFIX}"

    def segment(self, session_id: str, digest: str) -> str:
        if not _DIGEST_PATTERN.fullmatch(digest):
            raise InvalidInput(f"invalid segment digest {digest!r}", session_id=session_id)
        return f"{self.session_prefix(session_id)}segments/{digest}{SUFFIX}"

    def index_shard(self, shard: int) -> str:
        return f"{self.prefix}index/{shard:04d}{SUFFIX}"

    def session_id_of(self, key: str) -> str | None:
        """Returns the session id a key under ``sessions/`` belongs to, or None for any other key."""
        if not key.startswith(self.sessions_root):
            return None
        rest = key[len(self.sessions_root) :]
        session_id, slash, _ = rest.partition("/")
        return session_id if slash and _ID_PATTERN.fullmatch(session_id) else None


def shard_of(session_id: str, shard_count: int) -> int:
    """Returns the index shard of an id: a stable hash (never Python's salted ``hash``) mod the count."""
    digest = hashlib.blake2b(session_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count
