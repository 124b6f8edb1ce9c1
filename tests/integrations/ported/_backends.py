"""The swapped constructors: each framework's test backend, rebuilt on an s3sessions adapter over moto (Strands':
`_backends_strands`).

Each class takes the constructor arguments of the backend it replaces and builds the s3sessions adapter on a
manager of the current test's `Backend`. What the original backend calls a separate store (another SQLite file
or in-memory database, another Redis key prefix, another ``InMemorySessionStore()`` or mock repository, another
storage directory) gets its own s3sessions prefix; what it calls the same store shares one. The backend's own
lifecycle calls are kept: ``SQLiteSession.close()`` is synchronous, so its stand-in's is too (the managers
belong to the `Backend`, which closes them after the test).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from typing import Any

from s3sessions import S3SessionManager
from s3sessions.integrations.claude_agent_sdk import ClaudeSessionStore, storage_id
from s3sessions.integrations.openai_agents import OpenAIAgentsSession
from s3sessions.sync import SyncSessionManager

BUCKET = "test-bucket"
_UNIQUE = itertools.count()


class Backend:
    """What one test's swapped constructors share: the moto endpoint and everything to close afterwards."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.test = next(_UNIQUE)
        self.managers: dict[str, S3SessionManager] = {}
        self.closers: list[Any] = []

    def prefix(self, location: str | None) -> str:
        """The s3sessions prefix of a backend location in this test (None: a new store of its own)."""
        if location is None:
            location = f"unique-{next(_UNIQUE)}"
        return f"ported/{self.test}/{hashlib.sha256(location.encode()).hexdigest()[:12]}/"

    def manager(self, location: str | None = None, *, prefix: str | None = None) -> S3SessionManager:
        """The manager of a location (or prefix), shared by every object built on it during the test."""
        prefix = prefix or self.prefix(location)
        if prefix not in self.managers:
            self.managers[prefix] = S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=self.endpoint)
        return self.managers[prefix]

    def sync_reader(self, prefix: str) -> SyncSessionManager:
        """A blocking manager on its own loop, for backends' synchronous test helpers."""
        reader = SyncSessionManager(S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=self.endpoint))
        self.closers.append(reader.close)
        return reader

    async def close(self) -> None:
        for close in reversed(self.closers):
            close()
        for manager in self.managers.values():
            await manager.close()


_current: list[Backend] = []


def current() -> Backend:
    """The backend of the running test (set by the ported suites' conftest)."""
    if not _current:
        raise RuntimeError("no ported-suite backend: the ported_backend fixture is not active")
    return _current[-1]


@contextlib.contextmanager
def active(backend: Backend) -> Any:
    _current.append(backend)
    try:
        yield backend
    finally:
        _current.remove(backend)


# ------------------------------------------------------------------------------------------ OpenAI Agents


class SQLiteSessionOnS3(OpenAIAgentsSession):
    """``agents.SQLiteSession(session_id, db_path=":memory:", ...)``: one location per database file; each
    in-memory database is its own."""

    def __init__(
        self,
        session_id: str,
        db_path: Any = ":memory:",
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: Any = None,
    ) -> None:
        location = None if str(db_path) == ":memory:" else f"sqlite:{db_path}:{sessions_table}:{messages_table}"
        super().__init__(session_id, current().manager(location), session_settings=session_settings)

    def close(self) -> None:  # type: ignore[override]
        """SQLiteSession.close() is synchronous; the manager belongs to the test's Backend."""


class RedisSessionOnS3(OpenAIAgentsSession):
    """``RedisSession(session_id, *, redis_client, key_prefix, ttl, session_settings)``: one location per key
    prefix (the isolation unit Redis sessions offer)."""

    def __init__(
        self,
        session_id: str,
        *,
        redis_client: Any = None,
        key_prefix: str = "agents:session",
        ttl: int | None = None,
        session_settings: Any = None,
    ) -> None:
        super().__init__(session_id, current().manager(f"redis:{key_prefix}"), session_settings=session_settings)

    @classmethod
    def from_url(cls, session_id: str, *, url: str, redis_kwargs: Any = None, **kwargs: Any) -> RedisSessionOnS3:
        return cls(session_id, **kwargs)


class _Engine:
    """What the tests call on ``SQLAlchemySession.engine``: ``await engine.dispose()`` (the manager belongs to the
    test's Backend)."""

    async def dispose(self) -> None:
        pass


class SQLAlchemySessionOnS3(OpenAIAgentsSession):
    """``SQLAlchemySession(session_id, *, engine, ...)`` / ``.from_url(session_id, *, url, ...)``: one location
    per engine; each ``from_url`` of an in-memory SQLite URL is its own database."""

    engine = _Engine()

    def __init__(
        self, session_id: str, *, engine: Any = None, session_settings: Any = None, _url: str | None = None, **_: Any
    ) -> None:
        location = f"engine:{id(engine)}" if engine is not None else (f"url:{_url}" if _url else None)
        super().__init__(session_id, current().manager(location), session_settings=session_settings)

    @classmethod
    def from_url(cls, session_id: str, *, url: str, engine_kwargs: Any = None, **kwargs: Any) -> Any:
        return cls(session_id, _url=None if ":memory:" in url else url, **kwargs)


# ------------------------------------------------------------------------------------------ Claude Agent SDK


class InMemorySessionStoreOnS3(ClaudeSessionStore):
    """``claude_agent_sdk.InMemorySessionStore()``: each instance is a store of its own.

    Keeps the SDK store's synchronous test helpers (``get_entries(key)``, ``size``, ``clear()``), answered from
    S3 by a separate blocking manager on its own loop, so they see what was persisted, not what this object holds.
    """

    def __init__(self) -> None:
        self._prefix = current().prefix(None)
        self._reader: SyncSessionManager | None = None
        super().__init__(current().manager(prefix=self._prefix))

    def _sync(self) -> SyncSessionManager:
        if self._reader is None:
            self._reader = current().sync_reader(self._prefix)
        return self._reader

    def get_entries(self, key: Any) -> list[Any]:
        from s3sessions import SessionNotFound

        try:
            session = self._sync().resume(storage_id(key["project_key"], key["session_id"], key.get("subpath")))
        except SessionNotFound:
            return []
        return list(session.messages)

    @property
    def size(self) -> int:
        """Main transcripts stored (ids ``<project>.<session>``)."""
        return sum(metadata.id.count(".") == 1 for metadata in self._sync().list())

    def clear(self) -> None:
        reader = self._sync()
        for metadata in reader.list():
            reader.delete(metadata.id)
        self._writers.clear()
