"""OpenAI Agents SDK sessions on s3sessions: ``Runner.run(agent, "Hi", session=OpenAIAgentsSession("chat", sessions))``.

`OpenAIAgentsSession` implements the SDK's ``Session`` protocol (``get_items``, ``add_items``, ``pop_item``,
``clear_session``) over one s3sessions `Session` whose ``messages`` are the SDK's input items, verbatim.

What it costs per ``Runner.run`` turn: ``get_items`` is one GET of the head (two round trips once the history
outgrows the 64 KiB inline tail); ``add_items`` is a conditional PUT of the head plus a PUT of an index shard,
uploading the new items and the inline tail, never the history. The SDK ships no S3 session of its own.

Concurrency: ``add_items`` and ``pop_item`` are conditional on the version this object last read. When another
writer committed first, they re-read and apply again on top (as SQLiteSession's inserts and deletes do), a
bounded number of times, then raise `ConflictError`; no item is lost or duplicated.

Requires ``pip install 's3sessions[openai-agents]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..base import AsyncClosing, SessionManager
from ..errors import ConflictError, SessionNotFound
from ..models import Session, SessionMetadata

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory.session_settings import SessionSettings

__all__ = ["OpenAIAgentsSession"]

REBASE_ATTEMPTS = 8
"""How often a write re-reads the session and re-applies itself after another writer committed first."""


class OpenAIAgentsSession(AsyncClosing):
    """An OpenAI Agents SDK ``Session`` stored as one s3sessions session.

    Args:
        session_id: The session id (1-200 characters of ``[A-Za-z0-9._-]``), also the s3sessions id.
        manager: The s3sessions manager (e.g. an open `S3SessionManager`); the caller keeps ownership.
        bucket, prefix, endpoint_url, region_name: Without ``manager``: where to store; this object then owns
            its manager (close it with ``await session.close()`` or ``async with``).
        agent_name: Recorded in the session's metadata when it is created.
        session_settings: The SDK's ``SessionSettings`` (``limit`` is the default for ``get_items``).

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     result = await Runner.run(agent, "Hi", session=OpenAIAgentsSession("chat-42", sessions))
    """

    def __init__(
        self,
        session_id: str,
        manager: SessionManager | None = None,
        *,
        bucket: str | None = None,
        prefix: str = "",
        endpoint_url: str | None = None,
        region_name: str | None = None,
        agent_name: str = "openai-agents",
        session_settings: SessionSettings | None = None,
    ) -> None:
        from ..validation import check_session_id

        self.session_id = check_session_id(session_id)
        self.session_settings = session_settings
        self._owns_manager = manager is None
        if manager is None:
            from ..manager import S3SessionManager

            manager = S3SessionManager(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, region_name=region_name)
        self.manager = manager
        self._agent_name = agent_name
        self._session: Session | None = None

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Returns the history, or its latest ``limit`` items, oldest first.

        S3 requests: GET head (plus one parallel wave of segment GETs for a long history). Always reads, so a
        session written by another process is seen at once.
        """
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        session = await self._read()
        items: list[Any] = list(session.messages) if session is not None else []
        if limit is None or limit < 0:
            return items
        return items[-limit:] if limit > 0 else []

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Appends items to the history.

        S3 requests: PUT head (``If-Match`` the version last read; ``If-None-Match: *`` when new), PUT index
        shard; plus a GET when this object holds no copy yet or lost a race.
        """
        if not items:
            return
        new_items = list(items)
        await self._update(lambda messages: [*messages, *new_items], create=True)

    async def pop_item(self) -> TResponseInputItem | None:
        """Removes and returns the latest item, or returns None if the history is empty.

        S3 requests: as `add_items` (nothing is written when the history is empty).
        """
        popped: list[Any] = []

        def pop(messages: list[Any]) -> list[Any] | None:
            popped.clear()
            if not messages:
                return None
            popped.append(messages[-1])
            return messages[:-1]

        await self._update(pop, create=False)
        return popped[0] if popped else None

    async def clear_session(self) -> None:
        """Deletes the session and everything stored for it; a no-op when it does not exist.

        S3 requests: those of `SessionManager.delete` (GET head, DELETE head, PUT index shard, LIST, DELETE).
        """
        self._session = None
        with contextlib.suppress(SessionNotFound):
            await self.manager.delete(self.session_id)

    async def close(self) -> None:
        """Closes the manager if this object created it."""
        if self._owns_manager:
            await self.manager.close()

    # -------------------------------------------------------------------------------------------- helpers

    async def _read(self) -> Session | None:
        try:
            self._session = await self.manager.resume(self.session_id)
        except SessionNotFound:
            self._session = None
        return self._session

    async def _update(self, change: Callable[[list[Any]], list[Any] | None], *, create: bool) -> None:
        """Applies ``change`` to the messages and saves; after a lost race, re-reads and applies it again."""
        session = self._session
        if session is None:
            session = await self._read()
        for _ in range(REBASE_ATTEMPTS):
            if session is None:
                if not create:
                    change([])
                    return
                session = Session(metadata=SessionMetadata(id=self.session_id, agent_name=self._agent_name))
            messages = change(list(session.messages))
            if messages is None:
                return
            candidate = session.model_copy(update={"messages": messages, "metadata": session.metadata.model_copy()})
            try:
                await self.manager.save(candidate)
            except (ConflictError, SessionNotFound):
                session = await self._read()
                continue
            self._session = candidate
            return
        raise ConflictError("the session kept changing while writing to it", session_id=self.session_id)
