"""OpenAI Agents SDK sessions on s3sessions: ``Runner.run(agent, "Hi", session=OpenAIAgentsSession("chat", sessions))``.

`OpenAIAgentsSession` implements the SDK's ``Session`` protocol (``get_items``, ``add_items``, ``pop_item``,
``clear_session``) over one s3sessions `Session` whose ``messages`` are the SDK's input items, verbatim.

What it costs per ``Runner.run`` turn: ``get_items`` is one GET of the head (two round trips once the history
outgrows the 64 KiB inline tail); ``add_items`` is a conditional PUT of the head plus a PUT of its index entry,
uploading the new items and the inline tail, never the history. The SDK ships no S3 session of its own.

Concurrency: ``add_items`` and ``pop_item`` are conditional on the version this object last read. When another
writer committed first, they re-read and apply again on top (as SQLiteSession's inserts and deletes do), a
bounded number of times with jittered back-off (`SessionManager.update`), then raise `ConflictError`; no item is
lost or duplicated. Concurrent writes through one object are applied together in one save (``_manager.Writer``).
One object may be used from any event loop or thread (``Runner.run_sync`` makes its own).

Requires ``pip install 's3sessions[openai-agents]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..base import AsyncClosing, SessionManager
from ..errors import SessionNotFound
from ..models import Session
from ..validation import check_session_id
from ._manager import NoChange, Writer, open_manager

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory.session_settings import SessionSettings

__all__ = ["OpenAIAgentsSession"]


class OpenAIAgentsSession(AsyncClosing):
    """An OpenAI Agents SDK ``Session`` stored as one s3sessions session.

    Args:
        session_id: The session id (1-200 characters of ``[A-Za-z0-9._-]``), also the s3sessions id.
        manager: The s3sessions manager (e.g. an open `S3SessionManager`); the caller keeps ownership.
        agent_name: Recorded in the session's metadata when it is created.
        session_settings: The SDK's ``SessionSettings``, or a dict of its fields (normalised by the SDK's own
            coercion, which rejects unknown keys); ``limit`` is the default for ``get_items``. Default:
            ``SessionSettings()``, as the SDK's own sessions.
        **manager_options: Without ``manager``: `S3SessionManager` options (``bucket``, ``prefix``,
            ``endpoint_url``, ``region_name``, ``profile_name``, ``kms_key_id``, ``client_config``, ...), passed
            verbatim; this object then owns its manager (close it with ``await session.close()`` or
            ``async with``).

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     result = await Runner.run(agent, "Hi", session=OpenAIAgentsSession("chat-42", sessions))
    """

    session_settings: SessionSettings

    def __init__(
        self,
        session_id: str,
        manager: SessionManager | None = None,
        *,
        agent_name: str = "openai-agents",
        session_settings: SessionSettings | dict[str, Any] | None = None,
        **manager_options: Any,
    ) -> None:
        from agents.memory.session_settings import SessionSettings, coerce_session_settings

        self.session_id = check_session_id(session_id)
        self.session_settings = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings()
        )
        self.manager, self._owns_manager = open_manager(manager, manager_options)
        self._writer = Writer(self.manager, self.session_id, agent_name)

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Returns the history, or its latest ``limit`` items (default: ``session_settings.limit``), oldest first.

        S3 requests: GET head (plus one parallel wave of segment GETs for a long history). Always reads, so a
        session written by another process is seen at once.
        """
        from agents.memory.session_settings import resolve_session_limit

        limit = resolve_session_limit(limit, self.session_settings)
        session = await self._read()
        items: list[Any] = list(session.messages) if session is not None else []
        if limit is None or limit < 0:
            return items
        return items[-limit:] if limit > 0 else []

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Appends items to the history.

        S3 requests: PUT head (``If-Match`` the version last read; ``If-None-Match: *`` when new), PUT index
        entry; plus a GET when this object holds no copy yet or lost a race.
        """
        if not items:
            return
        new_items: list[Any] = list(items)

        def append(session: Session) -> None:
            session.messages.extend(new_items)

        await self._commit(append)

    async def pop_item(self) -> TResponseInputItem | None:
        """Removes and returns the latest item, or returns None if the history is empty.

        S3 requests: as `add_items` (nothing is written when the history is empty).
        """
        popped: list[Any] = []

        def pop(session: Session) -> None:
            popped.clear()
            if not session.messages:
                raise NoChange
            popped.append(session.messages.pop())

        await self._commit(pop)
        return popped[0] if popped else None

    async def clear_session(self) -> None:
        """Deletes the session and everything stored for it; a no-op when it does not exist.

        S3 requests: those of `SessionManager.delete`.
        """
        self._writer.held = None
        with contextlib.suppress(SessionNotFound):
            await self.manager.delete(self.session_id)

    async def close(self) -> None:
        """Closes the manager if this object created it."""
        if self._owns_manager:
            await self.manager.close()

    # -------------------------------------------------------------------------------------------- helpers

    async def _read(self) -> Session | None:
        try:
            self._writer.held = await self.manager.resume(self.session_id)
        except SessionNotFound:
            self._writer.held = None
        return self._writer.held

    async def _commit(self, change: Callable[[Session], None]) -> None:
        await self._writer.write(change)
