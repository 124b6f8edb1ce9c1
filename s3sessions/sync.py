"""`SyncSessionManager`: the eight session operations as plain blocking calls, for synchronous code.

AWS Lambda's Python handlers, scripts and notebooks are synchronous. Calling ``asyncio.run(manager.save(...))``
per call would create a new event loop each time and close it under a live aiobotocore client (whose
connection pool belongs to the loop that opened it), so every call would pay for a new client and leak the
old one. The facade instead owns one private event loop, running in a daemon thread for its whole life: the
manager's client is created on that loop at the first call and reused by every later call, across warm Lambda
invocations too. `close` closes the manager on its loop before the loop is stopped and closed, never after.

Example:
    >>> from s3sessions import S3SessionManager, Session
    >>> from s3sessions.sync import SyncSessionManager
    >>> sessions = SyncSessionManager(S3SessionManager(bucket="my-sessions", prefix="agents/"))  # doctest: +SKIP
    >>> session = sessions.resume("0192f1c3a4b5")  # doctest: +SKIP
    >>> session.messages.append({"role": "user", "content": "next question"})  # doctest: +SKIP
    >>> sessions.save(session)  # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar

from typing_extensions import Self

from .base import UPDATE_ATTEMPTS, SessionManager
from .loop_thread import LoopThread
from .models import Session, SessionMetadata, SessionPage

_T = TypeVar("_T")


class SyncSessionManager:
    """Runs a `SessionManager`'s operations synchronously on a private, long-lived event loop.

    Thread-safe: calls from several threads are run on the one loop (concurrently, as the async manager
    allows). Must not be called from the facade's own loop thread. Errors are the manager's (`AgentError`
    subclasses), raised in the caller's thread.

    Args:
        manager: The async manager to drive, e.g. an `S3SessionManager`. The facade owns it from now on: use it
            only through the facade (its client lives on the facade's loop), and `close` closes it.

    Example:
        >>> with SyncSessionManager(S3SessionManager(bucket="my-sessions")) as sessions:  # doctest: +SKIP
        ...     print([metadata.id for metadata in sessions.list()])
    """

    def __init__(self, manager: SessionManager) -> None:
        if not isinstance(manager, SessionManager):
            raise TypeError(f"SyncSessionManager takes a SessionManager, not {type(manager).__name__}")
        self._manager = manager
        self._loop = LoopThread(name="s3sessions-sync-loop")
        # Closes the manager and stops the loop at close(), when the facade is collected, or at interpreter exit.
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, manager)

    @property
    def manager(self) -> SessionManager:
        """The async manager this facade drives (call its coroutines through `run` only)."""
        return self._manager

    @property
    def closed(self) -> bool:
        """True once `close` ran (or the facade was finalized)."""
        return not self._finalizer.alive

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Runs a coroutine on the facade's loop and returns its result (for the manager's other methods).

        Example:
            >>> count = sessions.run(sessions.manager.reindex())  # doctest: +SKIP
        """
        if self.closed:
            coroutine.close()
            raise RuntimeError("SyncSessionManager is closed")
        if self._loop.in_loop_thread:
            coroutine.close()
            raise RuntimeError("SyncSessionManager called from its own event loop: await the manager instead")
        return self._loop.run(coroutine)

    def list(
        self, *, tag: str | None = None, agent_name: str | None = None, summaries: bool = False
    ) -> list[SessionMetadata]:
        """Returns every session's metadata, most recently updated first (see `SessionManager.list`)."""
        return self.run(self._manager.list(tag=tag, agent_name=agent_name, summaries=summaries))

    def list_page(
        self,
        limit: int = 100,
        cursor: str | None = None,
        *,
        tag: str | None = None,
        agent_name: str | None = None,
        summaries: bool = False,
    ) -> SessionPage:
        """Returns one page of sessions, newest first, and the next page's cursor (see `SessionManager.list_page`)."""
        return self.run(self._manager.list_page(limit, cursor, tag=tag, agent_name=agent_name, summaries=summaries))

    def update(
        self,
        session_id: str,
        apply: Callable[[Session], Any],
        *,
        attempts: int = UPDATE_ATTEMPTS,
        agent_name: str = "agent",
    ) -> Session:
        """Resumes (or starts) the session, applies ``apply``, saves, and retries lost races (see
        `SessionManager.update`). ``apply`` runs on the facade's loop thread."""
        return self.run(self._manager.update(session_id, apply, attempts=attempts, agent_name=agent_name))

    def resume(self, session_id: str, *, last_turns: int | None = None) -> Session:
        """Returns the stored session, or its last ``last_turns`` turns (see `SessionManager.resume`).

        Raises:
            SessionNotFound: no such session.
        """
        return self.run(self._manager.resume(session_id, last_turns=last_turns))

    def save(self, session: Session) -> SessionMetadata:
        """Creates or updates the session and refreshes ``session.metadata`` (see `SessionManager.save`).

        Raises:
            ConflictError: another writer changed the session since it was read.
        """
        return self.run(self._manager.save(session))

    def delete(self, session_id: str) -> None:
        """Deletes the session and all its objects (see `SessionManager.delete`)."""
        self.run(self._manager.delete(session_id))

    def fork(self, session_id: str, new_name: str | None = None) -> SessionMetadata:
        """Copies the session under a new id and returns the copy's metadata (see `SessionManager.fork`)."""
        return self.run(self._manager.fork(session_id, new_name))

    def rewind(self, session_id: str, turn_index: int) -> Session:
        """Keeps turns ``0..turn_index`` and returns the result (see `SessionManager.rewind`)."""
        return self.run(self._manager.rewind(session_id, turn_index))

    def tag(self, session_id: str, tags: Sequence[str]) -> SessionMetadata:
        """Adds tags and returns the new metadata (see `SessionManager.tag`)."""
        return self.run(self._manager.tag(session_id, tags))

    def rename(self, session_id: str, new_name: str) -> SessionMetadata:
        """Sets the session's name and returns the new metadata (see `SessionManager.rename`)."""
        return self.run(self._manager.rename(session_id, new_name))

    def close(self) -> None:
        """Closes the manager on its loop, then stops and closes the loop. Idempotent."""
        if self._loop.in_loop_thread:
            raise RuntimeError("SyncSessionManager.close() called from its own event loop")
        self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<SyncSessionManager {state} manager={type(self._manager).__name__}>"


def _shutdown(loop: LoopThread, manager: SessionManager) -> None:
    """Closes the manager on its loop while the loop still runs, then stops the loop (its thread closes it)."""
    loop.close(manager.close())


__all__ = ["SyncSessionManager"]
