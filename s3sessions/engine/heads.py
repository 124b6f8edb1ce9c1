"""Pure head builders: ``(what is there now, the request) -> the head to write``, one per protocol.

No I/O here: each protocol module reads what it needs, plans where messages go (`formats.planning`), and calls
one of these to get the exact record the commit engine writes conditionally. What every commit shares is here
too: the next revision, the next ``updated_at`` (never backwards, never repeated, milliseconds ahead of the
clock at most), a fresh write id in the recent commit records, and the index keys the commit must delete.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..formats.records import (
    RECENT_COMMITS,
    RECENT_INDEX_KEYS,
    RECENT_SAME_CONTENT,
    CommitRecord,
    HeadRecord,
    SegmentRef,
    StoredMetadata,
    TombstoneRecord,
)

_USER_METADATA_NAME_BYTES = 1024
FORK_SUFFIX = " (fork)"


@dataclass(frozen=True)
class Prior:
    """What is at the head key when a commit is built: nothing, a live head, or a delete's tombstone.

    Attributes:
        etag: Its ETag (the commit is conditional on it); None when the key is empty.
        record: The head or tombstone there.
        entry_key: The index entry key that describes the live head (the commit deletes it).
    """

    etag: str | None = None
    record: HeadRecord | TombstoneRecord | None = None
    entry_key: str | None = None

    @property
    def head(self) -> HeadRecord | None:
        return self.record if isinstance(self.record, HeadRecord) else None


def next_updated_at(now: float, previous: float | None) -> float:
    """`updated_at` = max(the clock, previous + 1 ms): never backwards, never shared by two commits."""
    millis = round(now * 1000)
    if previous is not None:
        millis = max(millis, round(previous * 1000) + 1)
    return millis / 1000


def new_write_id() -> str:
    return os.urandom(12).hex()


def next_commits(prior: Prior) -> list[CommitRecord]:
    """The commit records of the next head: the prior's recent ones plus a fresh write id."""
    record = CommitRecord(
        write_id=new_write_id(),
        parent_version=prior.etag,
        parent_content_digest=prior.head.content_digest if prior.head is not None else None,
    )
    history = prior.record.commits[-(RECENT_COMMITS - 1) :] if prior.record is not None else []
    return [*history, record]


def same_content_versions(prior: Prior, content_digest: str) -> list[str]:
    """The ETags of earlier heads whose content the next head still has: a stale save of any of them merges.

    Metadata edits (tag, rename, a save that changed nothing) extend the list; a change of messages or state
    empties it. It reaches further back than the commit records, so a storm of edits cannot outlast it easily.
    """
    base = prior.head
    if base is None or prior.etag is None or base.content_digest != content_digest:
        return []
    return [*base.same_content_versions, prior.etag][-RECENT_SAME_CONTENT:]


def next_index_keys(prior: Prior, *, keep_tombstone_keys: bool = True) -> list[str]:
    """The index keys the next commit must delete: the prior head's entry and the few it still remembered."""
    keys: list[str] = [prior.entry_key] if prior.entry_key else []
    if prior.record is not None:
        if isinstance(prior.record, TombstoneRecord) and (prior.record.cleaned or not keep_tombstone_keys):
            return keys
        keys += prior.record.index_keys
    return list(dict.fromkeys(keys))[:RECENT_INDEX_KEYS]


@dataclass(frozen=True)
class Content:
    """Where a head's messages live and what they add up to (from `formats.planning` and the codec)."""

    segments: list[SegmentRef]
    tail: list[Any]
    tail_turn_starts: list[int]
    message_count: int
    message_bytes: int
    content_digest: str
    state: Any


def save_head(
    prior: Prior,
    *,
    session_id: str,
    incarnation: str,
    metadata: StoredMetadata,
    content: Content,
    now: float,
) -> HeadRecord:
    """The head a save writes: the caller's metadata (already merged as the protocol decided) over new content."""
    base = prior.head
    turn_count = sum(ref.turns for ref in content.segments) + len(content.tail_turn_starts)
    stored = metadata.model_copy(
        update={
            "updated_at": next_updated_at(now, base.metadata.updated_at if base else None),
            "turn_count": turn_count,
        }
    )
    return HeadRecord(
        session_id=session_id,
        incarnation=base.incarnation if base else incarnation,
        revision=base.revision + 1 if base else 1,
        metadata=stored,
        state=content.state,
        message_count=content.message_count,
        message_bytes=content.message_bytes,
        content_digest=content.content_digest,
        segments=content.segments,
        tail=content.tail,
        tail_turn_starts=content.tail_turn_starts,
        commits=next_commits(prior),
        index_keys=next_index_keys(prior),
        same_content_versions=same_content_versions(prior, content.content_digest),
    )


def content_of(head: HeadRecord) -> Content:
    """The content of an existing head (what metadata edits keep as it is)."""
    return Content(
        segments=list(head.segments),
        tail=head.tail,
        tail_turn_starts=list(head.tail_turn_starts),
        message_count=head.message_count,
        message_bytes=head.message_bytes,
        content_digest=head.content_digest,
        state=head.state,
    )


def replace_content(prior: Prior, base: HeadRecord, content: Content, *, now: float, **metadata: Any) -> HeadRecord:
    """The next revision of ``base`` with new content and metadata changes (rewind, tag, rename, restore)."""
    turn_count = sum(ref.turns for ref in content.segments) + len(content.tail_turn_starts)
    stored = base.metadata.model_copy(
        update={**metadata, "updated_at": next_updated_at(now, base.metadata.updated_at), "turn_count": turn_count}
    )
    return base.model_copy(
        update={
            "revision": base.revision + 1,
            "metadata": stored,
            "state": content.state,
            "message_count": content.message_count,
            "message_bytes": content.message_bytes,
            "content_digest": content.content_digest,
            "segments": content.segments,
            "tail": content.tail,
            "tail_turn_starts": content.tail_turn_starts,
            "commits": next_commits(prior),
            "index_keys": next_index_keys(prior),
            "same_content_versions": same_content_versions(prior, content.content_digest),
        }
    )


def fork_name(source_name: str | None, new_name: str | None) -> str | None:
    """The fork's name: ``new_name``, else the source's name + " (fork)" (cut to 256 characters), else None."""
    if new_name is not None:
        return new_name
    if source_name is None:
        return None
    return source_name[: 256 - len(FORK_SUFFIX)] + FORK_SUFFIX


def fork_head(
    source: HeadRecord, *, source_id: str, new_id: str, name: str | None, segments: list[SegmentRef], now: float
) -> HeadRecord:
    """The first head of a fork: the source's content (segments copied under new names), new lineage."""
    created = next_updated_at(now, None)
    return source.model_copy(
        update={
            "session_id": new_id,
            "incarnation": new_id,
            "revision": 1,
            "segments": segments,
            "metadata": source.metadata.model_copy(
                update={
                    "name": name,
                    "created_at": created,
                    "updated_at": created,
                    "parent_id": source_id,
                    "forked_at_turn": source.turn_count,
                }
            ),
            "commits": next_commits(Prior()),
            "index_keys": [],
            "same_content_versions": [],
        }
    )


def tombstone(prior: Prior, *, now: float) -> TombstoneRecord:
    """What a delete writes over the head it read: the session is gone, the clean-up still to do is recorded."""
    assert prior.record is not None
    return TombstoneRecord(
        session_id=prior.record.session_id,
        incarnation=prior.record.incarnation,
        revision=prior.record.revision + 1,
        deleted_at=now,
        commits=next_commits(prior),
        index_keys=next_index_keys(prior),
    )


def cleaned(prior_etag: str, record: TombstoneRecord) -> TombstoneRecord:
    """The tombstone left on a store that cannot delete conditionally, once its clean-up is done."""
    return record.model_copy(
        update={
            "revision": record.revision + 1,
            "cleaned": True,
            "index_keys": [],
            "commits": next_commits(Prior(prior_etag, record)),
        }
    )


def user_metadata(head: HeadRecord | TombstoneRecord) -> dict[str, str]:
    """``x-amz-meta-*`` for ``aws s3api head-object`` (ASCII only, so the name is percent-encoded)."""
    if isinstance(head, TombstoneRecord):
        return {"deleted": "true", "incarnation": head.incarnation[-12:], "revision": str(head.revision)}
    name = urllib.parse.quote(head.metadata.name or "", safe=" !#$&'()*+,-./:;=?@[]^_`{|}~")
    return {
        "name": name[:_USER_METADATA_NAME_BYTES],
        "turns": str(head.metadata.turn_count),
        "messages": str(head.message_count),
        "revision": str(head.revision),
        "incarnation": head.incarnation[-12:],
    }
