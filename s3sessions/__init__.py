"""s3sessions: AI-agent conversation sessions in Amazon S3.

Heads written with conditional puts, immutable zstd segments, an index that is a LIST: correct under
concurrency, cheap in requests at any number of sessions. ``import s3sessions`` loads only the error classes;
each public name loads its module on first use, and no AWS SDK is imported until a manager makes a request
(cold start on Lambda).
"""

import importlib as _importlib
import typing as _typing

from .errors import (
    AgentError,
    ConflictError,
    CorruptObject,
    InvalidInput,
    SessionNotFound,
    StorageError,
)

if _typing.TYPE_CHECKING:
    from .base import SessionManager
    from .manager import S3SessionManager
    from .memory import InMemorySessionManager
    from .models import Session, SessionMetadata, SessionPage
    from .sync import SyncSessionManager
    from .turns import turn_starts

_LAZY = {
    "InMemorySessionManager": ".memory",
    "S3SessionManager": ".manager",
    "Session": ".models",
    "SessionManager": ".base",
    "SessionMetadata": ".models",
    "SessionPage": ".models",
    "SyncSessionManager": ".sync",
    "turn_starts": ".turns",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 's3sessions' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AgentError",
    "ConflictError",
    "CorruptObject",
    "InMemorySessionManager",
    "InvalidInput",
    "S3SessionManager",
    "Session",
    "SessionManager",
    "SessionMetadata",
    "SessionNotFound",
    "SessionPage",
    "StorageError",
    "SyncSessionManager",
    "turn_starts",
]
