"""The stored formats (format 1): head, segment, index shard and manifest documents (pure code).

These pydantic models are the format boundary: what is written is ``Model.model_dump()`` inside the codec's
envelope, and what is read is validated back into them, so a malformed object is `CorruptObject`, not a
``KeyError`` deep in the manager. Golden files of each live under ``tests/data/``; never change their meaning,
add a new format version instead.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .codec import decode_document, encode_document
from .errors import CorruptObject

_DIGEST = re.compile(r"[0-9a-f]{64}")
RECENT_COMMITS = 16
"""How many commit records a head keeps: enough to resolve ambiguous retries and stale-but-mergeable saves."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SegmentRef(_Record):
    """A head's reference to an immutable segment object, possibly to a prefix of its messages only.

    Attributes:
        digest: Digest of all ``count`` messages in the object (its content address and integrity check).
        count: Messages in the object.
        take: How many of them (from the start) belong to the session; < count after a rewind.
        take_digest: Digest of the first ``take`` messages, when take < count (else equal to digest).
        size: Canonical JSON bytes of the taken messages (drives sealing and merging).
    """

    digest: str
    count: int
    take: int
    take_digest: str | None = None
    size: int

    @property
    def taken_digest(self) -> str:
        return self.take_digest or self.digest

    @field_validator("digest", "take_digest")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.fullmatch(value):
            raise ValueError(f"not a SHA-256 hex digest: {value[:80]!r}")
        return value

    @model_validator(mode="after")
    def _take_within_count(self) -> SegmentRef:
        if not 0 < self.take <= self.count:
            raise ValueError(f"take {self.take} outside 1..count {self.count}")
        return self


class CommitRecord(_Record):
    """One commit of a head: its random write id, and the version (ETag) and content digest it was written over.

    The write id settles ambiguous retries (did our PUT land?); the parent's content digest tells a stale save
    whether only name/tags changed since the version it holds (then it merges instead of conflicting).
    """

    write_id: str
    parent_version: str | None = None
    parent_content_digest: str | None = None


class StoredMetadata(_Record):
    """The metadata a head stores (the library-derived `turn_count` too, for people reading the bucket)."""

    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent_name: str = "agent"
    created_at: int
    updated_at: int
    turn_count: int = 0
    total_tokens: int = 0
    parent_id: str | None = None
    forked_at_turn: int | None = None


class HeadRecord(_Record):
    """The commit point of a session: metadata, state, turn table, segment list and inline tail."""

    kind: str = "head"
    session_id: str
    incarnation: str
    revision: int
    metadata: StoredMetadata
    state: Any = None
    turn_starts: list[int] = Field(default_factory=list)
    message_count: int
    message_bytes: int = 0
    content_digest: str
    segments: list[SegmentRef] = Field(default_factory=list)
    tail: list[Any] = Field(default_factory=list)
    commits: list[CommitRecord] = Field(default_factory=list)

    @property
    def write_ids(self) -> list[str]:
        return [commit.write_id for commit in self.commits]

    @model_validator(mode="after")
    def _consistent(self) -> HeadRecord:
        """A head that contradicts itself is corrupt: refuse it rather than return wrong messages."""
        counted = sum(ref.take for ref in self.segments) + len(self.tail)
        if self.message_count != counted:
            raise ValueError(f"message_count {self.message_count} but segments and tail hold {counted}")
        starts = self.turn_starts
        if any(a >= b for a, b in itertools.pairwise(starts)) or (
            starts and not 0 <= starts[0] <= starts[-1] < counted
        ):
            raise ValueError("turn_starts are not increasing message indexes")
        if self.metadata.turn_count != len(starts):
            raise ValueError(f"turn_count {self.metadata.turn_count} but {len(starts)} turn starts")
        if self.revision < 1:
            raise ValueError(f"revision {self.revision} is not positive")
        return self


class IndexEntry(_Record):
    """One session's row in an index shard; a tombstone (``deleted``) stops late updates resurrecting it."""

    incarnation: str
    revision: int
    deleted: bool = False
    version: str | None = None
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent_name: str = "agent"
    created_at: int = 0
    updated_at: int = 0
    turn_count: int = 0
    total_tokens: int = 0
    parent_id: str | None = None
    forked_at_turn: int | None = None
    message_bytes: int = 0

    @classmethod
    def from_head(cls, version: str, head: HeadRecord) -> IndexEntry:
        """Returns the entry that describes a head (whose ETag is ``version``)."""
        return cls(
            incarnation=head.incarnation,
            revision=head.revision,
            version=version,
            message_bytes=head.message_bytes,
            **head.metadata.model_dump(),
        )

    def is_newer_than(self, other: IndexEntry) -> bool:
        """Entries order by (incarnation, revision); incarnations are time-ordered ids."""
        return (self.incarnation, self.revision) > (other.incarnation, other.revision)


class IndexShard(_Record):
    kind: str = "index"
    entries: dict[str, IndexEntry] = Field(default_factory=dict)


class Manifest(_Record):
    kind: str = "manifest"
    shard_count: int


_RecordT = TypeVar("_RecordT", HeadRecord, IndexShard, Manifest)


def decode_record(
    body: bytes,
    model: type[_RecordT],
    *,
    max_bytes: int,
    key: str,
    session_id: str | None = None,
) -> _RecordT:
    """Decodes an object into one of the record models, translating any mismatch into `CorruptObject`."""
    kind = str(model.model_fields["kind"].default)
    document = decode_document(body, kind=kind, max_bytes=max_bytes, key=key, session_id=session_id)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CorruptObject(
            f"malformed {kind} object: {where}: {first['msg']}", session_id=session_id, key=key
        ) from exc


def encode_record(record: _Record, *, max_bytes: int) -> bytes:
    """Encodes a record model as one zstd frame of JSON (see `codec.encode_document`)."""
    return encode_document(record.model_dump(mode="json", exclude_none=False), max_bytes=max_bytes)
