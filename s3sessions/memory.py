"""`InMemorySessionManager`: the same semantics as `S3SessionManager`, written as plainly as possible.

It is the reference model of the tests: the stateful test drives both managers with the same random operations
and compares every result. It is deliberately a separate, simple implementation (whole sessions as JSON text in
a dict, versions as counters) so that the comparison checks two codes against each other, not one with itself.
It is also handy in users' own unit tests. It is not shared between processes and holds no locks (asyncio runs
each method without interleaving, since none of them awaits).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import SessionManager
from .errors import ConflictError, InvalidInput, SessionNotFound
from .formats.json_values import encode_messages, encode_value
from .models import Session, SessionMetadata, SessionPage, check_page_request, now_seconds, page_cursor
from .turns import rewind_cut, turn_starts
from .validation import check_name, check_session_id, check_summary, check_tags, merge_tags, new_session_id

_RECENT_VERSIONS = 16
"""How many superseded versions a stale save may still merge with (as the S3 manager's commit records)."""


@dataclass
class _Stored:
    metadata: SessionMetadata
    messages_json: str
    state_json: str
    previous: list[tuple[str, str]] = field(default_factory=list)
    """(version, content) of recently superseded versions: what a stale save may still merge with."""

    @property
    def content(self) -> str:
        return self.messages_json + "\n" + self.state_json


class InMemorySessionManager(SessionManager):
    """Sessions in a dict. Same operations, errors and ordering as `S3SessionManager`.

    Args:
        clock: Returns Unix seconds (tests share one clock between the two managers).
    """

    def __init__(self, *, clock: Callable[[], float] = now_seconds) -> None:
        self._sessions: dict[str, _Stored] = {}
        self._clock = clock
        self._versions = itertools.count(1)

    def _get(self, session_id: str) -> _Stored:
        check_session_id(session_id)
        stored = self._sessions.get(session_id)
        if stored is None:
            raise SessionNotFound("no such session", session_id=session_id)
        return stored

    def _commit(
        self, session_id: str, stored: _Stored, metadata: SessionMetadata, messages_json: str, state_json: str
    ) -> SessionMetadata:
        now_ms = round(self._clock() * 1000)
        metadata.updated_at = max(now_ms, round(stored.metadata.updated_at * 1000) + 1) / 1000
        metadata.version = f"mem-{next(self._versions)}"
        messages = json.loads(messages_json)
        metadata.turn_count = len(turn_starts(messages))
        metadata.message_bytes = sum(len(line) + 1 for line in encode_messages(messages))
        previous = [*stored.previous, (stored.metadata.version or "", stored.content)][-_RECENT_VERSIONS:]
        self._sessions[session_id] = _Stored(metadata, messages_json, state_json, previous)
        return metadata.model_copy(deep=True)

    async def list_page(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
        summaries: bool = False,
    ) -> SessionPage:
        check_page_request(limit, cursor, tag, agent_name, summaries)
        listed = sorted(
            (
                stored.metadata
                for stored in self._sessions.values()
                if (tag is None or tag in stored.metadata.tags)
                and (agent_name is None or stored.metadata.agent_name == agent_name)
            ),
            key=page_cursor,
        )
        if cursor is not None:
            listed = [metadata for metadata in listed if page_cursor(metadata) > cursor]
        page = [
            metadata.model_copy(deep=True, update=None if summaries else {"summary": None})
            for metadata in listed[:limit]
        ]
        more = len(listed) > limit
        return SessionPage(sessions=page, next_cursor=page_cursor(page[-1]) if more else None)

    async def resume(self, session_id: str, *, last_turns: int | None = None) -> Session:
        stored = self._get(session_id)
        if last_turns is not None and (
            isinstance(last_turns, bool) or not isinstance(last_turns, int) or last_turns < 0
        ):
            raise InvalidInput(
                f"invalid last_turns {last_turns!r}: use an int >= 0 (or None for all)", session_id=session_id
            )
        messages = json.loads(stored.messages_json)
        starts = turn_starts(messages)
        omitted = 0
        if last_turns is not None and last_turns < len(starts):
            omitted = starts[len(starts) - last_turns] if last_turns else len(messages)
        session = Session(
            metadata=stored.metadata.model_copy(deep=True),
            messages=messages[omitted:],
            state=json.loads(stored.state_json),
        )
        session._omitted = omitted
        return session

    async def save(self, session: Session) -> SessionMetadata:
        if not isinstance(session, Session):
            raise InvalidInput(f"save() takes a Session, not {type(session).__name__}")
        session_id = check_session_id(session.metadata.id)
        try:
            encode_messages(session.messages)
            encode_value(session.state, label="state")
            summary = check_summary(session.metadata.summary)
        except InvalidInput as exc:
            raise InvalidInput(str(exc), session_id=session_id) from exc
        omitted = session.omitted_messages
        if omitted and session.metadata.version is None:
            raise InvalidInput("a partial session (resumed with last_turns) cannot be created", session_id=session_id)
        existing_messages = (
            json.loads(self._sessions[session_id].messages_json) if omitted and session_id in self._sessions else []
        )
        messages_json = json.dumps(existing_messages[:omitted] + session.messages)
        state_json = json.dumps(session.state)
        incoming = session.metadata
        metadata = incoming.model_copy(deep=True, update={"summary": summary})
        existing = self._sessions.get(session_id)
        now = self._clock()
        if incoming.version is None:
            if existing is not None:
                raise ConflictError("a session with this id already exists", session_id=session_id)
            stored = _Stored(metadata.model_copy(update={"updated_at": now - 1}), "[]", "null")
        else:
            if existing is None:
                raise SessionNotFound("no such session", session_id=session_id)
            stored = existing
            if incoming.version != existing.metadata.version:
                read_content = dict(existing.previous).get(incoming.version)
                if read_content is None or read_content != existing.content:
                    raise ConflictError("another writer changed this session since it was read", session_id=session_id)
                metadata.name = existing.metadata.name
                metadata.tags = list(existing.metadata.tags)
            metadata.created_at = existing.metadata.created_at
            metadata.parent_id = existing.metadata.parent_id
            metadata.forked_at_turn = existing.metadata.forked_at_turn
        committed = self._commit(session_id, stored, metadata, messages_json, state_json)
        for name in SessionMetadata.model_fields:  # refresh the caller's copy in place
            object.__setattr__(incoming, name, copy.deepcopy(getattr(committed, name)))
        return committed

    async def delete(self, session_id: str) -> None:
        self._get(session_id)
        del self._sessions[session_id]

    async def fork(self, session_id: str, new_name: str | None = None) -> SessionMetadata:
        if new_name is not None:
            check_name(new_name)
        source = self._get(session_id)
        now = round(self._clock(), 3)
        if new_name is None and source.metadata.name is not None:
            new_name = source.metadata.name[: 256 - len(" (fork)")] + " (fork)"
        new_id = new_session_id()
        metadata = source.metadata.model_copy(
            update={
                "id": new_id,
                "name": new_name,
                "tags": list(source.metadata.tags),
                "created_at": now,
                "updated_at": now,
                "parent_id": session_id,
                "forked_at_turn": source.metadata.turn_count,
                "version": f"mem-{next(self._versions)}",
            }
        )
        self._sessions[new_id] = _Stored(metadata, source.messages_json, source.state_json)
        return metadata.model_copy(deep=True)

    async def rewind(self, session_id: str, turn_index: int) -> Session:
        check_session_id(session_id)
        if isinstance(turn_index, bool) or not isinstance(turn_index, int):
            raise InvalidInput(f"invalid turn index {turn_index!r}: must be an int", session_id=session_id)
        stored = self._get(session_id)
        messages: list[Any] = json.loads(stored.messages_json)
        starts = turn_starts(messages)
        if not 0 <= turn_index < len(starts):
            problem = "no turns yet" if not starts else f"{len(starts)} turn(s)"
            raise InvalidInput(f"invalid turn index {turn_index}: the session has {problem}", session_id=session_id)
        kept = messages[: rewind_cut(starts, len(messages), turn_index)]
        self._commit(session_id, stored, stored.metadata.model_copy(deep=True), json.dumps(kept), stored.state_json)
        return await self.resume(session_id)

    async def tag(self, session_id: str, tags: Sequence[str]) -> SessionMetadata:
        added = check_tags(tags)
        stored = self._get(session_id)
        metadata = stored.metadata.model_copy(deep=True)
        metadata.tags = merge_tags(metadata.tags, added)
        return self._commit(session_id, stored, metadata, stored.messages_json, stored.state_json)

    async def rename(self, session_id: str, new_name: str) -> SessionMetadata:
        name = check_name(new_name)
        stored = self._get(session_id)
        metadata = stored.metadata.model_copy(deep=True)
        metadata.name = name
        return self._commit(session_id, stored, metadata, stored.messages_json, stored.state_json)
