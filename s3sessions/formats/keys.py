"""The S3 key layout: every key of a prefix is built here and only here (pure code).

::

    {prefix}manifest.json.zst                                   index fan-out, the store's dialect
    {prefix}sessions/{id}/head.json.zst                         the commit point (or a delete's tombstone)
    {prefix}sessions/{id}/segments/{incarnation}/{digest}.{upload}.json.zst   immutable message segments
    {prefix}sessions/{id}/segments/{digest}.json.zst            format-1 segments (still read)
    {prefix}index/{f}/{rts}~{id}~{listing}                      one empty-bodied index entry per session
    {prefix}index/{shard}.json.zst                              format-1 index shards (reindex converts them)
    {prefix}probe/{token}                                        the store probe's scratch key, deleted after

Keys are built from validated ids, digests and names only, so no id can place an object outside
``{prefix}sessions/{id}/``: ids are restricted to ``[A-Za-z0-9._-]`` and may not be ``.`` or ``..``, and a
segment's name must match `records.SEGMENT_NAME`.
"""

from __future__ import annotations

import hashlib
import re

from ..errors import InvalidInput
from ..validation import ID_PATTERN, check_session_id, normalise_prefix
from .records import SEGMENT_NAME, SegmentRef

SUFFIX = ".json.zst"
_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
_LEGACY_SHARD = re.compile(r"[0-9]{4}\.json\.zst")


class KeyLayout:
    """Builds every key of one prefix (normalised to end in ``/``, or empty)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = normalise_prefix(prefix)

    @property
    def manifest(self) -> str:
        return f"{self.prefix}manifest{SUFFIX}"

    @property
    def sessions_root(self) -> str:
        return f"{self.prefix}sessions/"

    @property
    def index_root(self) -> str:
        return f"{self.prefix}index/"

    @property
    def probe_root(self) -> str:
        return f"{self.prefix}probe/"

    def session_prefix(self, session_id: str) -> str:
        return f"{self.prefix}sessions/{check_session_id(session_id)}/"

    def head(self, session_id: str) -> str:
        return f"{self.session_prefix(session_id)}head{SUFFIX}"

    def segment(self, session_id: str, ref: SegmentRef) -> str:
        """Returns the key of the object a segment reference names (format 2 by name, format 1 by digest)."""
        if ref.name is not None:
            return self.segment_named(session_id, ref.name)
        if not _DIGEST_PATTERN.fullmatch(ref.digest):
            raise InvalidInput(f"invalid segment digest {ref.digest!r}", session_id=session_id)
        return f"{self.session_prefix(session_id)}segments/{ref.digest}{SUFFIX}"

    def segment_named(self, session_id: str, name: str) -> str:
        if not SEGMENT_NAME.fullmatch(name):
            raise InvalidInput(f"invalid segment name {name!r}", session_id=session_id)
        return f"{self.session_prefix(session_id)}segments/{name}{SUFFIX}"

    def segment_namespace(self, session_id: str, incarnation: str) -> str:
        """The prefix under which one incarnation's segments live (what a delete of it removes)."""
        if not re.fullmatch(r"[0-9a-f]{32}", incarnation):
            raise InvalidInput(f"invalid incarnation {incarnation!r}", session_id=session_id)
        return f"{self.session_prefix(session_id)}segments/{incarnation}/"

    def legacy_segments(self, session_id: str) -> str:
        """The prefix of format-1 segments (``segments/{digest}.json.zst``), as opposed to incarnation folders."""
        return f"{self.session_prefix(session_id)}segments/"

    def is_legacy_segment(self, session_id: str, key: str) -> bool:
        rest = key.removeprefix(self.legacy_segments(session_id))
        return rest != key and "/" not in rest and rest.endswith(SUFFIX) and bool(_DIGEST_PATTERN.fullmatch(rest[:64]))

    def index_bucket(self, fanout_bucket: int) -> str:
        """The prefix listing one fan-out bucket of the index."""
        return f"{self.prefix}index/{fanout_bucket}/"

    def is_legacy_shard(self, key: str) -> bool:
        """True for a format-1 index shard object (``index/0000.json.zst``)."""
        rest = key.removeprefix(self.index_root)
        return rest != key and bool(_LEGACY_SHARD.fullmatch(rest))

    def session_id_of(self, key: str) -> str | None:
        """Returns the session id a key under ``sessions/`` belongs to, or None for any other key."""
        if not key.startswith(self.sessions_root):
            return None
        rest = key[len(self.sessions_root) :]
        session_id, slash, _ = rest.partition("/")
        return session_id if slash and ID_PATTERN.fullmatch(session_id) and session_id not in {".", ".."} else None


def fanout_bucket_of(session_id: str, fanout: int) -> int:
    """Returns the index fan-out bucket of an id: a stable hash (never Python's salted ``hash``) mod the fan-out."""
    digest = hashlib.blake2b(session_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % fanout
