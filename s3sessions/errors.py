"""Errors raised by s3sessions: one root, a class per thing a caller branches on.

```
AgentError                      root: catch this to catch everything the library raises
├── SessionNotFound             no head object for that id (resume, fork, rewind, tag, rename, delete, save)
├── ConflictError               another writer committed messages or state first (a lost CAS race)
├── InvalidInput                bad id, name, tag, turn index, or a value that is not JSON
├── CorruptObject               an object that cannot be decoded: bad zstd, bad JSON, oversize, wrong digest
└── StorageError                S3 failed after botocore's retries (network, permissions, missing bucket)
```

Every message names the session id and the S3 key where one is known, so a log line alone says where to
look. botocore's exceptions are translated in exactly one place (`s3sessions.storage.s3.S3ObjectStore.call`,
the package's single S3 request path) and chained with ``raise ... from``.

Three further classes are signals from the storage layer (which knows keys, not sessions): `ObjectMissing`
(404), `PreconditionFailed` (412: a condition did not hold) and `WriteConflict` (409
ConditionalRequestConflict: a conditional write raced another in flight and did not take effect). The engine
turns them into `SessionNotFound`, `ConflictError` or a retry. They derive from `StorageError` so that a signal
that escaped by mistake is still an `AgentError`.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error s3sessions raises.

    Args:
        message: What went wrong, in one line.
        session_id: The session concerned, when there is one.
        key: The S3 key concerned, when there is one.
    """

    def __init__(self, message: str, *, session_id: str | None = None, key: str | None = None) -> None:
        self.session_id = session_id
        self.key = key
        details = []
        if session_id is not None:
            details.append(f"session {session_id!r}")
        if key is not None:
            details.append(f"key {key!r}")
        super().__init__(f"{message} ({', '.join(details)})" if details else message)


class SessionNotFound(AgentError):
    """No session with that id exists (its head object is absent)."""


class ConflictError(AgentError):
    """Another writer changed the session's messages or state since the caller read it."""


class InvalidInput(AgentError):
    """An argument is out of its domain: an id, name, tag, turn index or a non-JSON value."""


class CorruptObject(AgentError):
    """An object in the bucket cannot be decoded, is over the size cap, or fails its digest check."""


class StorageError(AgentError):
    """S3 answered with an error, or did not answer, after botocore's retries.

    Args:
        code: S3's error code, when S3 answered (``"AccessDenied"``, ``"SlowDown"``, ``"404"``...).
    """

    def __init__(
        self, message: str, *, session_id: str | None = None, key: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, session_id=session_id, key=key)
        self.code = code


class ObjectMissing(StorageError):
    """Storage-layer signal: the key does not exist (GetObject 404, or If-Match on an absent key)."""


class PreconditionFailed(StorageError):
    """Storage-layer signal: a conditional write or read lost (HTTP 412)."""


class WriteConflict(StorageError):
    """Storage-layer signal: a conditional write raced another in flight and did not take effect (HTTP 409)."""
