"""s3sessions: AI-agent conversation sessions in Amazon S3.

Heads written with conditional puts, immutable zstd segments, a sharded metadata index: correct under
concurrency, cheap in requests. ``import s3sessions`` loads no AWS SDK; the first manager call does.
"""

from .base import SessionManager
from .errors import (
    AgentError,
    ConflictError,
    CorruptObject,
    InvalidInput,
    SessionNotFound,
    StorageError,
)
from .manager import S3SessionManager
from .memory import InMemorySessionManager
from .models import Session, SessionMetadata, SessionPage
from .sync import SyncSessionManager
from .turns import turn_starts

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
