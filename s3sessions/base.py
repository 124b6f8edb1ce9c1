"""The abstract `SessionManager`: the eight operations every backend provides, with fixed names and meanings."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from types import TracebackType

from typing_extensions import Self

from .models import Session, SessionMetadata


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

    @abc.abstractmethod
    async def list(self) -> list[SessionMetadata]:
        """Returns every session's metadata, most recently updated first (ties by id)."""

    @abc.abstractmethod
    async def resume(self, session_id: str) -> Session:
        """Returns the stored session.

        Raises:
            SessionNotFound: no such session.
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
