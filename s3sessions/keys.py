"""The S3 key layout: every key of a prefix is built here (pure code).

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
import re

from .errors import InvalidInput
from .validation import ID_PATTERN, check_session_id, normalise_prefix

_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
SUFFIX = ".json.zst"


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
        return session_id if slash and ID_PATTERN.fullmatch(session_id) else None


def shard_of(session_id: str, shard_count: int) -> int:
    """Returns the index shard of an id: a stable hash (never Python's salted ``hash``) mod the count."""
    digest = hashlib.blake2b(session_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count
