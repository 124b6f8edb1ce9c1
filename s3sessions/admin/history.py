"""A session's history on a versioned bucket: the versions of its head, newest first (what `restore` takes).

On a bucket with versioning enabled (what ``s3sessions bucket init`` sets up) every commit leaves the previous
head as a noncurrent version until the lifecycle rule expires it. Each version's user metadata says when it was
written, its revision, turns, messages and name, so the history costs one ListObjectVersions and one HeadObject
per version shown, never a body.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from ..errors import InvalidInput, ObjectMissing, SessionNotFound
from ..storage.protocol import ObjectStore
from ..validation import check_session_id
from ..waves import gather

DEFAULT_HISTORY = 50


@dataclass(frozen=True)
class HeadVersion:
    """One stored version of a session's head.

    Attributes:
        version_id: The S3 version id (pass it to `S3SessionManager.restore`).
        modified: When it was written (Unix seconds, S3's clock).
        current: Whether it is the current head.
        deleted: Whether it is a delete's tombstone rather than a head.
        revision, turn_count, message_count: As that head recorded them (None when it did not say).
        name: The session's name in that head.
    """

    version_id: str
    modified: float
    current: bool
    deleted: bool
    revision: int | None
    turn_count: int | None
    message_count: int | None
    name: str | None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


async def head_history(store: ObjectStore, head_key: str, session_id: str, *, limit: int) -> list[HeadVersion]:
    """Returns up to ``limit`` versions of a head key, newest first.

    Raises:
        SessionNotFound: the key has no version at all (an unversioned bucket keeps only the current head).
    """
    check_session_id(session_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput(f"invalid limit {limit!r}: use 1-1000", session_id=session_id)
    versions = [
        version
        for version in await store.list_versions(head_key)
        if version.key == head_key and not version.is_delete_marker
    ][:limit]
    if not versions:
        raise SessionNotFound("no stored version of this session's head", session_id=session_id, key=head_key)

    async def describe(version_id: str) -> dict[str, str] | None:
        try:
            return dict((await store.head(head_key, version_id=version_id)).metadata)
        except ObjectMissing:
            return None

    described = await gather(describe(version.version_id) for version in versions)
    history = []
    for version, metadata in zip(versions, described, strict=True):
        if metadata is None:
            continue
        name = urllib.parse.unquote(metadata["name"]) if metadata.get("name") else None
        history.append(
            HeadVersion(
                version_id=version.version_id,
                modified=version.modified,
                current=version.is_latest,
                deleted=metadata.get("deleted") == "true",
                revision=_int(metadata.get("revision")),
                turn_count=_int(metadata.get("turns")),
                message_count=_int(metadata.get("messages")),
                name=name,
            )
        )
    return history
