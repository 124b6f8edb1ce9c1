"""The abstract `SessionManager`: the eight operations every backend provides, with fixed names and meanings."""

from __future__ import annotations

import abc
import builtins
import inspect
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Self

from .errors import ConflictError, InvalidInput, SessionNotFound
from .models import Session, SessionMetadata, SessionPage
from .retry import backoff
from .validation import check_session_id

UPDATE_ATTEMPTS = 8
"""How often `SessionManager.update` re-reads and re-applies after losing to another writer."""


class AsyncClosing:
    """``async with`` support for anything with an async ``close()`` (managers and framework adapters)."""

    async def close(self) -> None:
        """Releases what the object holds; it must not be used afterwards."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class SessionManager(AsyncClosing, abc.ABC):
    """Persists agent sessions. Every method is a coroutine; errors derive from `AgentError`.

    Use as an async context manager so that connections are closed::

        async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:
            session = Session(metadata=SessionMetadata(agent_name="coder"))
            session.messages.append({"role": "user", "content": "hi"})
            await sessions.save(session)
    """

    async def list(
        self, *, tag: str | None = None, agent_name: str | None = None, summaries: bool = False
    ) -> list[SessionMetadata]:
        """Returns every session's metadata, most recently updated first (ties by id).

        Args:
            tag: Only sessions carrying this tag.
            agent_name: Only sessions of this agent.
            summaries: Also return each session's ``summary`` (else it is None in every listed metadata).
        """
        listed: builtins.list[SessionMetadata] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self.list_page(1000, cursor, tag=tag, agent_name=agent_name, summaries=summaries)
            for metadata in page.sessions:
                if metadata.id not in seen:
                    seen.add(metadata.id)
                    listed.append(metadata)
            if page.next_cursor is None:
                return listed
            cursor = page.next_cursor

    @abc.abstractmethod
    async def list_page(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
        summaries: bool = False,
    ) -> SessionPage:
        """Returns up to ``limit`` sessions, most recently updated first, and a cursor to the next page.

        Args:
            limit: 1-1000 sessions per page.
            cursor: ``next_cursor`` of the previous page (None: the first page).
            tag: Only sessions carrying this tag.
            agent_name: Only sessions of this agent.
            summaries: Also return each session's ``summary`` (else it is None in every listed metadata).
        """

    @abc.abstractmethod
    async def resume(self, session_id: str, *, last_turns: int | None = None) -> Session:
        """Returns the stored session, or only its last ``last_turns`` turns.

        A partial session holds the messages from the start of the K-th last turn on (with the metadata and
        state); ``session.omitted_messages`` says how many earlier ones were left out, and a save of it keeps
        them as stored.

        Raises:
            SessionNotFound: no such session.
            InvalidInput: ``last_turns`` is not an int >= 0.
        """

    @abc.abstractmethod
    async def save(self, session: Session) -> SessionMetadata:
        """Creates or updates the session and refreshes ``session.metadata`` in place.

        A session whose ``metadata.version`` is None is created; otherwise it must be the version last read or
        saved, or `ConflictError` is raised and nothing changes (unless only name/tags changed meanwhile,
        which is merged).
        """

    @abc.abstractmethod
    async def delete(self, session_id: str) -> None:
        """Deletes the session and all associated data.

        Raises:
            SessionNotFound: no such session.
        """

    @abc.abstractmethod
    async def fork(self, session_id: str, new_name: str | None = None) -> SessionMetadata:
        """Copies the session under a new id and returns the copy's metadata; both then diverge independently.

        The fork's name is ``new_name``, else the source's name + " (fork)", else None; tags are copied;
        ``parent_id`` and ``forked_at_turn`` record its lineage.
        """

    @abc.abstractmethod
    async def rewind(self, session_id: str, turn_index: int) -> Session:
        """Keeps turns ``0..turn_index`` (zero-based, inclusive), discards every later message, returns the result.

        Raises:
            InvalidInput: ``turn_index`` is negative or not below ``turn_count``.
        """

    @abc.abstractmethod
    async def tag(self, session_id: str, tags: Sequence[str]) -> SessionMetadata:
        """Adds tags (set union, first-added order kept) and returns the new metadata."""

    @abc.abstractmethod
    async def rename(self, session_id: str, new_name: str) -> SessionMetadata:
        """Sets the session's name and returns the new metadata."""

    async def update(
        self,
        session_id: str,
        apply: Callable[[Session], Any],
        *,
        attempts: int = UPDATE_ATTEMPTS,
        agent_name: str = "agent",
    ) -> Session:
        """Resumes the session (or starts it when absent), applies ``apply`` and saves, retrying lost races.

        The read-apply-save loop every concurrent caller needs: when another writer committed first, the session
        is read again and ``apply`` runs again on the newer copy, after a jittered back-off, at most
        ``attempts`` times. ``apply`` may be a coroutine function; it must be safe to run more than once.

        Example:
            >>> await sessions.update(session_id, lambda s: s.messages.append(reply))  # doctest: +SKIP

        Returns:
            The saved session.

        Raises:
            ConflictError: every attempt lost to another writer.
        """
        check_session_id(session_id)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise InvalidInput(f"invalid attempts {attempts!r}: must be a positive int", session_id=session_id)
        for attempt in range(attempts):
            try:
                session = await self.resume(session_id)
            except SessionNotFound:
                session = Session(metadata=SessionMetadata(id=session_id, agent_name=agent_name))
            result = apply(session)
            if inspect.isawaitable(result):
                await result
            try:
                await self.save(session)
            except (ConflictError, SessionNotFound):
                if attempt + 1 == attempts:
                    raise
                await backoff(attempt)
                continue
            return session
        raise ConflictError(f"update gave up after {attempts} attempts", session_id=session_id)
