"""`S3SessionsRepository`: Strands' ``SessionRepository`` contract over an s3sessions manager (see `_strands_format`).

Contract, as Strands' own repositories keep it: ``read_session``, ``read_agent``, ``read_message`` and
``read_multi_agent`` return None for what does not exist; creating what exists, and updating what does not,
raise ``strands.types.exceptions.SessionException``. The errors raised here are both Strands' and ours:
`SessionMissing` is a ``SessionException`` and a `SessionNotFound`; `SessionConflict` (another writer
committed first, or a create found the session already stored) is a ``SessionException`` and a `ConflictError`.

Writes: each one is a `SessionManager.save` of the cached s3sessions session (it uploads only what changed and is
conditional on the version this repository read). A storage id that is *held* (`hold` ... `release`, or
`deferred`) collects its writes in the cache and saves them once, at `release`. Reads after the first are
served from the cache. A Strands session created here is stored with its first agent or multi-agent.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from strands.session.session_repository import SessionRepository
from strands.types.exceptions import SessionException
from strands.types.session import Session as StrandsSession
from strands.types.session import SessionAgent, SessionMessage, SessionType

from ..base import SessionManager
from ..errors import ConflictError, InvalidInput, SessionNotFound
from ..models import Session, SessionMetadata
from . import _strands_format as fmt

__all__ = ["S3SessionsRepository", "SessionConflict", "SessionMissing"]

_Snapshot = tuple[list[Any], Any, int]


class SessionMissing(SessionNotFound, SessionException):
    """The Strands session, agent, message or multi-agent does not exist."""


class SessionConflict(ConflictError, SessionException):
    """It already exists (a create), or another writer committed first (an update)."""


class _OutOfOrder(InvalidInput, SessionException):
    """A new message's id is not above the agent's latest."""


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


def _session_from_record(record: dict[str, Any], session_id: str) -> StrandsSession:
    return StrandsSession(
        session_id=record.get("session_id", session_id),
        session_type=SessionType(record.get("session_type", SessionType.AGENT.value)),
        created_at=record.get("created_at", ""),
        updated_at=record.get("updated_at", ""),
    )


class S3SessionsRepository(SessionRepository):
    """A Strands ``SessionRepository`` over an s3sessions manager; each agent is one s3sessions session.

    Args:
        manager: The s3sessions manager (async); its coroutines run through ``run``.
        run: Runs a coroutine to completion from synchronous code.
    """

    def __init__(self, manager: SessionManager, run: Callable[[Any], Any]) -> None:
        self._manager = manager
        self._run = run
        self._sessions: dict[str, StrandsSession] = {}
        self._unstored: set[str] = set()
        self._records: dict[str, Session] = {}
        self._held: dict[str, _Snapshot | None] = {}

    # ------------------------------------------------------------------------------------------- sessions

    def create_session(self, session: StrandsSession, **kwargs: Any) -> StrandsSession:
        """Records the Strands session; it is stored with its first agent or multi-agent (no request here)."""
        fmt.storage_id(session.session_id, fmt.DEFAULT_AGENT_ID)
        if session.session_id in self._sessions:
            raise SessionConflict(f"Session {session.session_id} already exists", session_id=session.session_id)
        self._sessions[session.session_id] = session
        self._unstored.add(session.session_id)
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> StrandsSession | None:
        """Returns the Strands session, or None (GET of ``<session_id>``, which also holds the default agent)."""
        if session_id not in self._sessions:
            record = self._load(fmt.storage_id(session_id, fmt.DEFAULT_AGENT_ID))
            if record is None:
                return None
            self._sessions[session_id] = _session_from_record(self._strands(record)["session"], session_id)
        return self._sessions[session_id]

    def delete_session(self, session_id: str, **kwargs: Any) -> None:
        """Deletes the Strands session: every agent and multi-agent in it.

        S3 requests: a listing of the index, then those of `SessionManager.delete` per stored agent.

        Raises:
            SessionMissing: the session does not exist.
        """
        targets = [
            metadata.id
            for metadata in self._run(self._manager.list())
            if fmt.belongs_to(metadata.id, metadata.agent_name, session_id)
        ]
        if not targets and session_id not in self._unstored:
            raise SessionMissing(f"Session {session_id} does not exist", session_id=session_id)
        for target in targets:
            self._records.pop(target, None)
            with contextlib.suppress(SessionNotFound):
                self._run(self._manager.delete(target))
        self._sessions.pop(session_id, None)
        self._unstored.discard(session_id)

    # --------------------------------------------------------------------------------------------- agents

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Creates the agent's s3sessions session (PUT head ``If-None-Match: *``, PUT index entry).

        The default agent goes into ``<session_id>``, next to the session's record.
        """
        key = fmt.storage_id(session_id, session_agent.agent_id)
        default_key = fmt.storage_id(session_id, fmt.DEFAULT_AGENT_ID)
        state = fmt.stored_state(self._session_record(session_id), dataclasses.asdict(session_agent))
        if key == default_key and session_id not in self._unstored:
            record = self._existing(key)
            if record is not None:
                if "agent" in self._strands(record):
                    raise SessionConflict(f"Agent {session_agent.agent_id} already exists", session_id=key)
                self._commit(record, lambda: setattr(record, "state", state))
                return
        elif key != default_key:
            self._store_session(session_id)
        self._create(key, session_agent.agent_id, state)
        self._unstored.discard(session_id)

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        """Returns the agent, or None (GET head, plus segments for a long history, unless already read)."""
        record = self._existing(fmt.storage_id(session_id, agent_id))
        agent = self._strands(record).get("agent") if record is not None else None
        return None if agent is None else _agent_from_record(agent)

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        """Stores the agent's state (PUT head ``If-Match``, PUT index entry), keeping its ``created_at``."""
        record = self._agent(session_id, session_agent.agent_id)
        records = self._strands(record)
        previous = records["agent"]
        session_agent.created_at = previous.get("created_at", session_agent.created_at)
        new = {**previous, **dataclasses.asdict(session_agent)}
        self._commit(record, lambda: setattr(record, "state", fmt.stored_state(records["session"], new)))

    # ------------------------------------------------------------------------------------------- messages

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Appends the message (PUT head ``If-Match``, PUT index entry; uploads the new message and the tail).

        A message whose id is stored already replaces it, as Strands' file and S3 repositories overwrite.
        """
        record = self._agent(session_id, agent_id)
        stored = fmt.stored_message(dataclasses.asdict(session_message))
        position = _position(record, session_message.message_id)
        if position is not None:
            self._commit(record, lambda: record.messages.__setitem__(position, stored))
            return
        messages = record.messages
        if messages and session_message.message_id <= fmt.message_id_of(messages[-1], len(messages) - 1):
            raise _OutOfOrder(
                f"message id {session_message.message_id} is out of order in Strands agent {agent_id!r}",
                session_id=record.id,
            )
        self._commit(record, lambda: record.messages.append(stored))

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        """Returns one message, or None (no request once the agent was read)."""
        record = self._existing(fmt.storage_id(session_id, agent_id))
        position = None if record is None else _position(record, message_id)
        return None if record is None or position is None else _message_from_stored(record.messages[position], position)

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        """Replaces a message, e.g. a guardrail redaction (PUT head ``If-Match``, PUT index entry)."""
        record = self._agent(session_id, agent_id)
        position = _position(record, session_message.message_id)
        if position is None:
            raise SessionMissing(f"Message {session_message.message_id} does not exist", session_id=record.id)
        previous = fmt.message_record(record.messages[position], position)
        session_message.created_at = previous.get("created_at", session_message.created_at)
        stored = fmt.stored_message(dataclasses.asdict(session_message))
        self._commit(record, lambda: record.messages.__setitem__(position, stored))

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        """Returns messages ``offset .. offset+limit`` in order, [] for an unknown agent (no request once read)."""
        record = self._existing(fmt.storage_id(session_id, agent_id))
        if record is None:
            return []
        end = None if limit is None else offset + limit
        return [_message_from_stored(stored, offset + n) for n, stored in enumerate(record.messages[offset:end])]

    # ---------------------------------------------------------------------------------------- multi-agent

    def create_multi_agent(self, session_id: str, multi_agent: Any, **kwargs: Any) -> None:
        """Stores a multi-agent's (Swarm, Graph) state as the s3sessions session ``<session_id>.multi_agent_<id>``."""
        slot = fmt.multi_agent_slot(multi_agent.id)
        session_record = self._session_record(session_id)
        self._store_session(session_id)
        state = fmt.stored_state(session_record, multi_agent=multi_agent.serialize_state())
        self._create(fmt.storage_id(session_id, slot), slot, state)

    def read_multi_agent(self, session_id: str, multi_agent_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """Returns the multi-agent's serialized state, or None."""
        record = self._existing(fmt.storage_id(session_id, fmt.multi_agent_slot(multi_agent_id)))
        state: dict[str, Any] | None = self._strands(record).get("multi_agent") if record is not None else None
        return state

    def update_multi_agent(self, session_id: str, multi_agent: Any, **kwargs: Any) -> None:
        """Stores the multi-agent's current state (PUT head ``If-Match``, PUT index entry)."""
        key = fmt.storage_id(session_id, fmt.multi_agent_slot(multi_agent.id))
        record = self._existing(key)
        if record is None or "multi_agent" not in self._strands(record):
            raise SessionMissing(f"MultiAgent state {multi_agent.id} in session {session_id} does not exist")
        session_record = self._strands(record)["session"]
        state = fmt.stored_state(session_record, multi_agent=multi_agent.serialize_state())
        self._commit(record, lambda: setattr(record, "state", state))

    # -------------------------------------------------------------------------------------- holding writes

    def hold(self, key: str) -> bool:
        """Collects the writes to storage id ``key`` in the cache until `release`.

        Returns:
            True if this call started holding ``key``; False if it was held already (whoever started the
            hold releases it).
        """
        if key in self._held:
            return False
        self._held[key] = None
        return True

    def release(self, key: str) -> None:
        """Saves what was written to ``key`` since `hold`, once (nothing if nothing changed); stops holding it.

        On failure the cached session is restored to what it was at `hold`, and the error is raised.
        """
        if key not in self._held:
            return
        snapshot = self._held.pop(key)
        if snapshot is not None:
            self._save(self._records[key], snapshot)

    @contextlib.contextmanager
    def deferred(self, key: str) -> Iterator[None]:
        """Holds ``key`` for the block and releases it at the end (on an error: restores it, saves nothing).

        Inside a block or hold that already holds ``key``, it does nothing: the outer one saves.
        """
        if key in self._held:
            yield
            return
        self.hold(key)
        try:
            yield
        except BaseException:
            snapshot = self._held.pop(key, None)
            if snapshot is not None:
                _restore(self._records[key], snapshot)
            raise
        self.release(key)

    # -------------------------------------------------------------------------------------------- helpers

    def _load(self, key: str) -> Session | None:
        try:
            record: Session = self._run(self._manager.resume(key))
        except SessionNotFound:
            self._records.pop(key, None)
            return None
        self._records[key] = record
        return record

    def _existing(self, key: str) -> Session | None:
        """The cached s3sessions session, else read (None if absent)."""
        return self._records[key] if key in self._records else self._load(key)

    def _agent(self, session_id: str, agent_id: str) -> Session:
        record = self._existing(fmt.storage_id(session_id, agent_id))
        if record is None or "agent" not in self._strands(record):
            raise SessionMissing(f"Agent {agent_id} in session {session_id} does not exist")
        return record

    @staticmethod
    def _strands(record: Session) -> dict[str, Any]:
        return fmt.state_records(record.state, record.id)

    def _session_record(self, session_id: str) -> dict[str, Any]:
        session = self.read_session(session_id)
        if session is None:
            raise SessionMissing(f"Session {session_id} does not exist", session_id=session_id)
        return _session_record(session)

    def _store_session(self, session_id: str) -> None:
        """Stores the record of a Strands session created here (``<session_id>``, before its first non-default
        agent or multi-agent)."""
        if session_id in self._unstored:
            record = _session_record(self._sessions[session_id])
            self._create(
                fmt.storage_id(session_id, fmt.DEFAULT_AGENT_ID), fmt.DEFAULT_AGENT_ID, fmt.stored_state(record)
            )
            self._unstored.discard(session_id)

    def _create(self, key: str, agent_name: str, state: dict[str, Any]) -> None:
        record = Session(metadata=SessionMetadata(id=key, agent_name=agent_name), state=state)
        try:
            self._run(self._manager.save(record))
        except ConflictError as exc:
            raise SessionConflict(f"{agent_name!r} already exists", session_id=key) from exc
        self._records[key] = record

    def _commit(self, record: Session, change: Callable[[], Any]) -> None:
        """Applies ``change`` to the cached session and saves it, unless held; on failure the cache is restored."""
        snapshot = (list(record.messages), copy.deepcopy(record.state), record.metadata.total_tokens)
        held = record.id in self._held
        if held and self._held[record.id] is None:
            self._held[record.id] = snapshot
        change()
        record.metadata.total_tokens = fmt.total_tokens(record.messages)
        if not held:
            self._save(record, snapshot)

    def _save(self, record: Session, snapshot: _Snapshot) -> None:
        try:
            self._run(self._manager.save(record))
        except ConflictError as exc:
            _restore(record, snapshot)
            raise SessionConflict(str(exc), session_id=record.id) from exc
        except BaseException:
            _restore(record, snapshot)
            raise


def _position(record: Session, message_id: int) -> int | None:
    messages = record.messages
    if 0 <= message_id < len(messages) and fmt.message_id_of(messages[message_id], message_id) == message_id:
        return message_id
    for position, stored in enumerate(messages):
        if fmt.message_id_of(stored, position) == message_id:
            return position
    return None


def _restore(record: Session, snapshot: _Snapshot) -> None:
    record.messages, record.state, record.metadata.total_tokens = snapshot
