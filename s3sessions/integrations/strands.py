"""Strands Agents sessions on s3sessions: ``Agent(session_manager=StrandsSessionManager("chat-42", bucket=...))``.

`StrandsSessionManager` is Strands' own ``RepositorySessionManager`` (restore logic, conversation-manager
offsets, broken tool-use repair, redaction: all unchanged) over `S3SessionsRepository`, a Strands
``SessionRepository`` that keeps each agent in one s3sessions `Session` (layout: `_strands_format`).

What it costs: resuming an agent is one GET (two once the history outgrows the 64 KiB inline tail), whatever the
length; each message Strands persists is one conditional PUT of the head plus one PUT of an index shard, and
uploads only the new message and the inline tail, never the history. Strands' ``S3SessionManager`` pays a LIST
plus one GET per message to resume, and writes without conditions, so two processes on one session silently
interleave; here the second writer gets `ConflictError` and nothing it wrote is half-applied.

Strands calls its session manager synchronously (from hooks, possibly inside a running event loop), so the
async s3sessions manager runs on a private loop in a daemon thread. Close the manager (``close()`` or ``with``)
to release its connections.

Requires ``pip install 's3sessions[strands]'``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from strands.session.repository_session_manager import RepositorySessionManager
from strands.session.session_repository import SessionRepository
from strands.types.agent import LocalAgent
from strands.types.content import Message
from strands.types.session import Session as StrandsSession
from strands.types.session import SessionAgent, SessionMessage, SessionType

from ..base import SessionManager
from ..errors import InvalidInput, SessionNotFound
from ..loop_thread import LoopThread
from ..models import Session, SessionMetadata
from . import _strands_format as fmt

__all__ = ["S3SessionsRepository", "StrandsSessionManager"]


def _fields(cls: type[Any]) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(cls))


def _agent_from_record(record: dict[str, Any]) -> SessionAgent:
    return SessionAgent(**{key: value for key, value in record.items() if key in _fields(SessionAgent)})


def _message_from_stored(stored: Any, position: int) -> SessionMessage:
    record = fmt.message_record(stored, position)
    return SessionMessage(**{key: value for key, value in record.items() if key in _fields(SessionMessage)})


def _session_record(session: StrandsSession) -> dict[str, Any]:
    record = dataclasses.asdict(session)
    record["session_type"] = session.session_type.value
    return record


class S3SessionsRepository(SessionRepository):
    """A Strands ``SessionRepository`` over an s3sessions manager; each agent is one s3sessions session.

    Every write is one `SessionManager.save` of the cached session (so it uploads only what changed and is
    conditional on the version this repository read); every read after the first is served from that cache.

    Args:
        manager: The s3sessions manager (async); its coroutines run through ``run``.
        run: Runs a coroutine to completion from synchronous code.
    """

    def __init__(self, manager: SessionManager, run: Callable[[Any], Any]) -> None:
        self._manager = manager
        self._run = run
        self._sessions: dict[str, StrandsSession] = {}
        self._agents: dict[str, Session] = {}
        self._batch: dict[str, tuple[list[Any], Any, int]] | None = None

    # ------------------------------------------------------------------------------------------- sessions

    def create_session(self, session: StrandsSession, **kwargs: Any) -> StrandsSession:
        """Records the Strands session; it is stored with its first agent (no request)."""
        self._sessions[session.session_id] = session
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> StrandsSession | None:
        """Returns the Strands session record (no request).

        Never None: a Strands session is stored only inside its agents, so whether it exists is decided per
        agent by `read_agent` (one GET, which also returns the agent's messages).
        """
        if session_id not in self._sessions:
            self._sessions[session_id] = StrandsSession(session_id=session_id, session_type=SessionType.AGENT)
        return self._sessions[session_id]

    # --------------------------------------------------------------------------------------------- agents

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Creates the agent's s3sessions session (PUT head ``If-None-Match: *``, PUT index shard)."""
        key = fmt.storage_id(session_id, session_agent.agent_id)
        strands_session = self.read_session(session_id)
        assert strands_session is not None
        session = Session(
            metadata=SessionMetadata(id=key, agent_name=session_agent.agent_id),
            state=fmt.stored_state(_session_record(strands_session), dataclasses.asdict(session_agent)),
        )
        self._run(self._manager.save(session))
        self._agents[key] = session

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """Reads the agent's session (GET head, plus segments for a long history) and caches it."""
        key = fmt.storage_id(session_id, agent_id)
        try:
            session = self._run(self._manager.resume(key))
        except SessionNotFound:
            self._agents.pop(key, None)
            return None
        session_record, agent_record = fmt.state_records(session.state, key)
        if session_record:
            self._sessions[session_id] = StrandsSession(
                session_id=session_record.get("session_id", session_id),
                session_type=SessionType(session_record.get("session_type", SessionType.AGENT.value)),
                created_at=session_record.get("created_at", ""),
                updated_at=session_record.get("updated_at", ""),
            )
        self._agents[key] = session
        return _agent_from_record(agent_record)

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Stores the agent's state (PUT head ``If-Match``, PUT index shard), keeping its ``created_at``."""
        key = fmt.storage_id(session_id, session_agent.agent_id)
        session = self._cached(key)
        session_record, previous = fmt.state_records(session.state, key)
        session_agent.created_at = previous.get("created_at", session_agent.created_at)
        record = {**previous, **dataclasses.asdict(session_agent)}
        self._commit(session, lambda: setattr(session, "state", fmt.stored_state(session_record, record)))

    # ------------------------------------------------------------------------------------------- messages

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Appends the message (PUT head ``If-Match``, PUT index shard; uploads the new message and the tail)."""
        key = fmt.storage_id(session_id, agent_id)
        session = self._cached(key)
        stored = fmt.stored_message(dataclasses.asdict(session_message))
        position = self._position(session, session_message.message_id)
        if position is None:
            if session.messages and session_message.message_id <= fmt.message_id_of(
                session.messages[-1], len(session.messages) - 1
            ):
                raise InvalidInput(
                    f"message id {session_message.message_id} is out of order in Strands agent {agent_id!r}",
                    session_id=key,
                )
            self._commit(session, lambda: session.messages.append(stored))
        else:
            self._commit(session, lambda: session.messages.__setitem__(position, stored))

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        """Returns one message from the cached session (no request once the agent was read)."""
        session = self._cached(fmt.storage_id(session_id, agent_id))
        position = self._position(session, message_id)
        return None if position is None else _message_from_stored(session.messages[position], position)

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Replaces a message, e.g. a guardrail redaction (PUT head ``If-Match``, PUT index shard)."""
        key = fmt.storage_id(session_id, agent_id)
        session = self._cached(key)
        position = self._position(session, session_message.message_id)
        if position is None:
            raise SessionNotFound(f"Strands message {session_message.message_id} does not exist", session_id=key)
        previous = fmt.message_record(session.messages[position], position)
        session_message.created_at = previous.get("created_at", session_message.created_at)
        stored = fmt.stored_message(dataclasses.asdict(session_message))
        self._commit(session, lambda: session.messages.__setitem__(position, stored))

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        """Returns messages ``offset .. offset+limit`` in order (no request once the agent was read)."""
        session = self._cached(fmt.storage_id(session_id, agent_id))
        end = None if limit is None else offset + limit
        return [
            _message_from_stored(stored, offset + index) for index, stored in enumerate(session.messages[offset:end])
        ]

    # -------------------------------------------------------------------------------------------- helpers

    def _cached(self, key: str) -> Session:
        session = self._agents.get(key)
        if session is None:
            session = self._run(self._manager.resume(key))
            self._agents[key] = session
        return session

    @staticmethod
    def _position(session: Session, message_id: int) -> int | None:
        messages = session.messages
        if 0 <= message_id < len(messages) and fmt.message_id_of(messages[message_id], message_id) == message_id:
            return message_id
        for position, stored in enumerate(messages):
            if fmt.message_id_of(stored, position) == message_id:
                return position
        return None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Defers the saves of the writes made inside to one save per session at the end (or none on error).

        On any failure every session changed inside is restored to what it was before.
        """
        if self._batch is not None:
            yield
            return
        self._batch = {}
        try:
            yield
            for key in list(self._batch):
                self._run(self._manager.save(self._agents[key]))
                del self._batch[key]
        except BaseException:
            for key, snapshot in self._batch.items():
                self._restore(self._agents[key], snapshot)
            raise
        finally:
            self._batch = None

    def _commit(self, session: Session, change: Callable[[], Any]) -> None:
        """Applies ``change`` to the cached session and saves it; on any failure the cache is restored."""
        snapshot = (list(session.messages), copy.deepcopy(session.state), session.metadata.total_tokens)
        if self._batch is not None:
            self._batch.setdefault(session.id, snapshot)
        change()
        session.metadata.total_tokens = fmt.total_tokens(session.messages)
        if self._batch is not None:
            return
        try:
            self._run(self._manager.save(session))
        except BaseException:
            self._restore(session, snapshot)
            raise

    @staticmethod
    def _restore(session: Session, snapshot: tuple[list[Any], Any, int]) -> None:
        session.messages, session.state, session.metadata.total_tokens = snapshot


class StrandsSessionManager(RepositorySessionManager):
    """A Strands session manager that stores each agent in one s3sessions session.

    Args:
        session_id: The Strands session id. The agent ``"default"`` is stored under this s3sessions id,
            another agent under ``"<session_id>.<agent_id>"`` (both limited to ``[A-Za-z0-9._-]``).
        bucket, prefix, endpoint_url, region_name: Where to store, as for `S3SessionManager`.
        manager: An s3sessions manager to use instead (it must not have been used on another event loop);
            the caller keeps ownership and closes it.
        **kwargs: Passed to Strands' ``RepositorySessionManager``.

    Example:
        >>> from strands import Agent  # doctest: +SKIP
        >>> with StrandsSessionManager("chat-42", bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     Agent(session_manager=sessions)("Hello!")
    """

    def __init__(
        self,
        session_id: str,
        *,
        bucket: str | None = None,
        prefix: str = "",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        manager: SessionManager | None = None,
        **kwargs: Any,
    ) -> None:
        self._loop = LoopThread(name=f"s3sessions-strands-{session_id}")
        self._owns_manager = manager is None
        if manager is None:
            from ..manager import S3SessionManager

            manager = S3SessionManager(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, region_name=region_name)
        self.manager = manager
        self._repository = S3SessionsRepository(manager, self._loop.run)
        try:
            super().__init__(session_id=session_id, session_repository=self._repository, **kwargs)
        except BaseException:
            self.close()
            raise

    def append_message(self, message: Message, agent: LocalAgent, **kwargs: Any) -> None:
        """Stores the message and, in the same save, the agent's state if it changed.

        Strands calls ``sync_agent`` right after each appended message; folding it in here makes a message cost
        one commit instead of two (the ``sync_agent`` that follows then finds nothing to write).
        """
        with self._repository.batch():
            super().append_message(message, agent, **kwargs)
            self.sync_agent(agent)

    def close(self) -> None:
        """Closes the manager if this object created it, and stops the private loop; idempotent."""
        loop = getattr(self, "_loop", None)
        if loop is None:
            return
        self._loop = None  # type: ignore[assignment]
        loop.close(self.manager.close() if self._owns_manager else None)

    def __enter__(self) -> StrandsSessionManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
