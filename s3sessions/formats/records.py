"""The stored records: head, tombstone, segment reference, commit record, manifest (pydantic, pure code).

These models are the format boundary: what is read is validated into them, so a malformed object is
`CorruptObject`, never a ``KeyError`` deep in the engine. Format 1 records (the first release) are read and
converted on the way in (whole-history turn table to per-segment turn counts, integer times to floats); every
record written is format 2. `s3sessions.formats.bodies` turns them into bytes and back.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InvalidInput
from ..validation import check_agent_name, check_count, check_name, check_session_id, check_summary, check_tags

FORMAT = 2
READABLE_FORMATS = frozenset({1, 2})
RECENT_COMMITS = 16
"""How many commit records a head keeps: enough to settle ambiguous retries and stale-but-mergeable saves."""
RECENT_SAME_CONTENT = 64
"""How many earlier heads with the same content a head remembers (what a stale save may merge over)."""
RECENT_INDEX_KEYS = 4
"""How many earlier index entry keys a head remembers, so that a crashed or delayed delete is retried."""

_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEX_ID = re.compile(r"[0-9a-f]{32}")
SEGMENT_NAME = re.compile(r"[0-9a-f]{32}/[0-9a-f]{64}\.[0-9a-f]{12}")
"""A format-2 segment's name under ``segments/``: ``{incarnation}/{digest}.{upload id}``."""


class Record(BaseModel):
    """Base of stored records: unknown fields are ignored, so a newer writer's additions never break a reader."""

    model_config = ConfigDict(extra="ignore")


class SegmentRef(Record):
    """A head's reference to an immutable segment object, possibly to a prefix of its messages only.

    Attributes:
        digest: Digest of all ``count`` messages in the object (its integrity check; see `bodies`).
        count: Messages in the object.
        take: How many of them (from the start) belong to the session; < count after a rewind.
        take_digest: Digest of the first ``take`` messages, when take < count.
        size: Canonical JSON bytes of the taken messages, one newline each (drives sealing and merging).
        turns: How many turns start among the taken messages (rewind and partial resume find their segment).
        name: Format 2: the object's name under ``segments/``, unique per upload (``{incarnation}/{digest}.{id}``),
            so that no later upload ever reuses a key that fsck may be collecting. None: a format-1 object at
            ``segments/{digest}``, whose digest is over the messages' lines (not the stored region).
    """

    digest: str
    count: int = Field(lt=10**15)
    take: int
    take_digest: str | None = None
    size: int = Field(ge=0, lt=10**15)
    turns: int = 0
    name: str | None = None

    @property
    def taken_digest(self) -> str:
        return self.take_digest or self.digest

    @field_validator("digest", "take_digest")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.fullmatch(value):
            raise ValueError(f"not a SHA-256 hex digest: {value[:80]!r}")
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is not None and not SEGMENT_NAME.fullmatch(value):
            raise ValueError(f"not a segment name: {value[:80]!r}")
        return value

    @model_validator(mode="after")
    def _take_within_count(self) -> SegmentRef:
        if not 0 < self.take <= self.count:
            raise ValueError(f"take {self.take} outside 1..count {self.count}")
        if not 0 <= self.turns <= self.take:
            raise ValueError(f"turns {self.turns} outside 0..take {self.take}")
        return self


class CommitRecord(Record):
    """One commit: its random write id, and the version (ETag) and content digest it was written over.

    The write id settles ambiguous writes (did our PUT land?); the parent's content digest tells a stale save
    whether only name/tags changed since the version it holds (then it merges instead of conflicting).
    """

    write_id: str
    parent_version: str | None = None
    parent_content_digest: str | None = None


MAX_STORED_TIME = 1e11
"""Latest time a stored record may hold (year 5138): far past any clock, short of float trouble."""


def _as_stored(check: Callable[[Any], Any], value: Any) -> Any:
    """Runs an input check on a stored value: what a caller could not store is corrupt when read."""
    try:
        return check(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


class StoredMetadata(Record):
    """The metadata a head stores (the library-derived `turn_count` too, for people reading the bucket).

    Validated on read like input on write: a head planted or damaged with an ANSI name, a ``../`` parent, NaN
    times or impossible counts is `CorruptObject`, never handed out.
    """

    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent_name: str = "agent"
    created_at: float
    updated_at: float
    turn_count: int = 0
    total_tokens: int = 0
    parent_id: str | None = None
    forked_at_turn: int | None = None
    summary: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _as_stored(check_name, value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return list(_as_stored(check_tags, value))

    @field_validator("agent_name")
    @classmethod
    def _agent(cls, value: str) -> str:
        return str(_as_stored(check_agent_name, value))

    @field_validator("parent_id")
    @classmethod
    def _parent(cls, value: str | None) -> str | None:
        return None if value is None else _as_stored(check_session_id, value)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _time(cls, value: float) -> float:
        if not math.isfinite(value) or not 0 <= value <= MAX_STORED_TIME:
            raise ValueError(f"time {value!r} is not a Unix time")
        return value

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _as_stored(check_summary, value)

    @field_validator("turn_count", "total_tokens", "forked_at_turn")
    @classmethod
    def _count(cls, value: int | None) -> int | None:
        return None if value is None else int(_as_stored(check_count, value))


class _Versioned(Record):
    """What every object at a head key carries: identity, revision and the recent commit records."""

    session_id: str
    incarnation: str
    revision: int
    commits: list[CommitRecord] = Field(default_factory=list)
    index_keys: list[str] = Field(default_factory=list)
    """Index entry keys that earlier commits wrote and that may still exist (the next commit deletes them)."""

    @property
    def write_ids(self) -> list[str]:
        return [commit.write_id for commit in self.commits]

    @field_validator("revision")
    @classmethod
    def _positive(cls, value: int) -> int:
        if not 1 <= value < 10**15:
            raise ValueError(f"revision {value} is not positive")
        return value

    @field_validator("incarnation")
    @classmethod
    def _incarnation(cls, value: str) -> str:
        if not _HEX_ID.fullmatch(value):
            raise ValueError(f"incarnation {value[:80]!r} is not a 32-hex id")
        return value

    @field_validator("session_id")
    @classmethod
    def _session(cls, value: str) -> str:
        return str(_as_stored(check_session_id, value))


class HeadRecord(_Versioned):
    """The commit point of a session: metadata, state, segment list, inline tail and the tail's turn starts."""

    kind: Literal["head"] = "head"
    metadata: StoredMetadata
    state: Any = None
    message_count: int = Field(ge=0, lt=10**15)
    message_bytes: int = Field(default=0, ge=0, lt=10**15)
    content_digest: str
    segments: list[SegmentRef] = Field(default_factory=list)
    tail: list[Any] = Field(default_factory=list)
    tail_turn_starts: list[int] = Field(default_factory=list)
    """Where each turn starts inside the tail (sealed segments carry only their turn counts)."""
    same_content_versions: list[str] = Field(default_factory=list, max_length=RECENT_SAME_CONTENT)
    """ETags of earlier heads with this content (metadata edits since the last change of messages or state)."""

    @model_validator(mode="before")
    @classmethod
    def _from_format_1(cls, data: Any) -> Any:
        """Format 1 kept the whole turn table; format 2 keeps a turn count per segment and the tail's starts."""
        if not isinstance(data, dict) or "turn_starts" not in data or "tail_turn_starts" in data:
            return data
        starts = data.get("turn_starts")
        segments = data.get("segments")
        if (
            not isinstance(starts, list)
            or not isinstance(segments, list)
            or not all(isinstance(start, int) for start in starts)
        ):
            return data
        converted = []
        position = 0
        for ref in segments:
            if not isinstance(ref, dict) or not isinstance(ref.get("take"), int):
                return data
            end = position + ref["take"]
            converted.append({**ref, "turns": sum(1 for start in starts if position <= start < end)})
            position = end
        tail_starts = [start - position for start in starts if start >= position]
        return {**data, "segments": converted, "tail_turn_starts": tail_starts}

    @property
    def turn_count(self) -> int:
        return sum(ref.turns for ref in self.segments) + len(self.tail_turn_starts)

    @property
    def sealed_count(self) -> int:
        """Messages held in segments (the tail starts at this index)."""
        return self.message_count - len(self.tail)

    @model_validator(mode="after")
    def _consistent(self) -> HeadRecord:
        """A head that contradicts itself is corrupt: refuse it rather than return wrong messages."""
        counted = sum(ref.take for ref in self.segments) + len(self.tail)
        if self.message_count != counted:
            raise ValueError(f"message_count {self.message_count} but segments and tail hold {counted}")
        starts = self.tail_turn_starts
        if any(a >= b for a, b in itertools.pairwise(starts)) or (
            starts and not 0 <= starts[0] <= starts[-1] < len(self.tail)
        ):
            raise ValueError("tail_turn_starts are not increasing tail indexes")
        if self.metadata.turn_count != self.turn_count:
            raise ValueError(f"turn_count {self.metadata.turn_count} but segments and tail hold {self.turn_count}")
        if not _DIGEST.fullmatch(self.content_digest):
            raise ValueError("content_digest is not a SHA-256 hex digest")
        return self


class TombstoneRecord(_Versioned):
    """What a delete leaves at the head key until its clean-up is done: the session is gone from this instant.

    A delete writes it with ``If-Match`` on the head it read, so it can never erase a commit that landed after
    that read; a retried delete finds it and finishes the clean-up it records (the index entries, the deleted
    incarnation's objects). On stores that honour conditional deletes it is removed at the end; elsewhere it
    stays, marked ``cleaned``, and a later create replaces it with ``If-Match``.
    """

    kind: Literal["tombstone"] = "tombstone"
    deleted_at: float
    cleaned: bool = False
    unknown_incarnation: bool = False
    """The deleted head could not be decoded: its clean-up removes the objects older than the tombstone."""


class Dialect(Record):
    """How a store wants its conditional requests (probed once per prefix, recorded in the manifest).

    Attributes:
        if_match: Whether ``If-Match`` must carry the ETag quoted, as S3 returns it, or unquoted (Ceph RGW).
        conditional_delete: Whether DeleteObject honours ``If-Match`` (AWS since 2025-09, moto; not RGW).
    """

    if_match: Literal["quoted", "unquoted"] = "quoted"
    conditional_delete: bool = False

    def match_value(self, etag: str) -> str:
        """Returns the ``If-Match`` header value for an ETag, in this store's dialect."""
        bare = etag.strip('"')
        return f'"{bare}"' if self.if_match == "quoted" else bare


class ProbeCheck(Record):
    """One check of the store probe and its outcome, as the manifest records it for people."""

    name: str
    passed: bool
    detail: str = ""


class ManifestRecord(Record):
    """A prefix's settings that every manager must share: the index layout and the store's dialect.

    Format 1 manifests held only ``shard_count`` (the sharded index); they are read so that a format-2 manager
    can say that `reindex` must convert the prefix.
    """

    kind: Literal["manifest"] = "manifest"
    index_format: int = 2
    fanout: int = 4
    shard_count: int | None = None
    dialect: Dialect = Field(default_factory=Dialect)
    checks: list[ProbeCheck] = Field(default_factory=list)
    created_at: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _from_format_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") == 1:
            return {**data, "index_format": 1}
        return data

    @field_validator("fanout")
    @classmethod
    def _fanout_range(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise ValueError(f"fanout {value} outside 1..64")
        return value


def is_incarnation(value: object) -> bool:
    """True for a 32-hex incarnation id (what segment names are namespaced by)."""
    return isinstance(value, str) and bool(_HEX_ID.fullmatch(value))


class EntryBody(Record):
    """The body of an index entry that did not fit its key: the whole listing (the key ends ``~+``), or only the
    session's summary (the key's listing says ``s=+``)."""

    kind: Literal["entry"] = "entry"
    listing: str | None = None
    summary: dict[str, Any] | None = None
