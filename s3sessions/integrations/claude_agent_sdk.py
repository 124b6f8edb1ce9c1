"""Claude Agent SDK transcripts on s3sessions: ``ClaudeAgentOptions(session_store=ClaudeSessionStore(sessions))``.

`ClaudeSessionStore` implements the SDK's ``SessionStore`` protocol: ``append`` and ``load``, plus the optional
``list_sessions``, ``delete`` and ``list_subkeys``. Each transcript (a main session or one subagent ``subpath``)
is one s3sessions `Session` whose ``messages`` are the transcript entries, verbatim. Its id is
``<project hash>.<session id>[.<subpath>]``: the first 16 hex digits of SHA-256 of the ``project_key`` (any
string, any length), then the session id and subpath with every character outside ``[A-Za-z0-9-]`` written as
``_XX`` (UTF-8 bytes in hex), so the mapping is reversible and listing a project is a filter on the index.

Idempotency: an entry's ``uuid`` is its key. An append skips every entry whose uuid the transcript already
holds (and duplicates within the batch), so the SDK's retry of a batch that had landed adds nothing. Entries
without a uuid are appended as they come, as the protocol asks.

Concurrency: each append is a conditional PUT on the version this store last read; when another process
appended first, it re-reads and appends on top (order is commit order, as the protocol allows), a bounded
number of times, then raises `ConflictError` (the SDK retries the batch, then reports it).

What it costs per flushed batch (once per turn in the SDK's default ``batched`` mode): a conditional PUT of the
head plus a PUT of an index shard, uploading the new entries and the inline tail, never the history; ``load`` is
one GET (two round trips for a long history).

Not implemented: ``list_session_summaries`` (optional; the SDK then lists with ``list_sessions`` and ``load``).

Requires ``pip install 's3sessions[claude-agent-sdk]'`` (only for the protocol's types; this module runs
without it).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import TYPE_CHECKING, Any

from ..base import AsyncClosing, SessionManager
from ..errors import ConflictError, InvalidInput, SessionNotFound
from ..models import Session, SessionMetadata
from ..validation import check_session_id

if TYPE_CHECKING:
    from claude_agent_sdk.types import SessionKey, SessionListSubkeysKey, SessionStoreEntry, SessionStoreListEntry

__all__ = ["ClaudeSessionStore", "storage_id"]

REBASE_ATTEMPTS = 8
"""How often an append re-reads the transcript and appends again after another writer committed first."""
PROJECT_HASH_CHARS = 16
_PLAIN = re.compile(r"[A-Za-z0-9-]")
_ESCAPE = re.compile(r"_([0-9A-F]{2})")


def _escape(text: str) -> str:
    return "".join(
        char if _PLAIN.fullmatch(char) else "".join(f"_{byte:02X}" for byte in char.encode("utf-8")) for char in text
    )


def _unescape(text: str) -> str:
    raw = bytearray()
    position = 0
    while position < len(text):
        match = _ESCAPE.match(text, position)
        if match:
            raw.append(int(match.group(1), 16))
            position = match.end()
        else:
            raw.extend(text[position].encode("ascii"))
            position += 1
    return raw.decode("utf-8")


def _project_hash(project_key: str) -> str:
    return hashlib.sha256(project_key.encode("utf-8")).hexdigest()[:PROJECT_HASH_CHARS]


def storage_id(project_key: str, session_id: str, subpath: str | None = None) -> str:
    """Returns the s3sessions id of a transcript.

    Raises:
        InvalidInput: the escaped ids exceed 200 characters, or ``subpath`` is empty.
    """
    if subpath == "":
        raise InvalidInput("an empty subpath is invalid: omit it for the main transcript")
    parts = [_project_hash(project_key), _escape(session_id)]
    if subpath is not None:
        parts.append(_escape(subpath))
    try:
        return check_session_id(".".join(parts))
    except InvalidInput as exc:
        raise InvalidInput(f"Claude session {session_id!r} (subpath {subpath!r}) is too long to store: {exc}") from exc


class ClaudeSessionStore(AsyncClosing):
    """A Claude Agent SDK ``SessionStore`` over an s3sessions manager.

    Args:
        manager: The s3sessions manager (e.g. an open `S3SessionManager`); the caller keeps ownership.
        bucket, prefix, endpoint_url, region_name: Without ``manager``: where to store; this object then owns
            its manager (close it with ``await store.close()`` or ``async with``).

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="claude/") as sessions:  # doctest: +SKIP
        ...     options = ClaudeAgentOptions(session_store=ClaudeSessionStore(sessions))
    """

    def __init__(
        self,
        manager: SessionManager | None = None,
        *,
        bucket: str | None = None,
        prefix: str = "",
        endpoint_url: str | None = None,
        region_name: str | None = None,
    ) -> None:
        self._owns_manager = manager is None
        if manager is None:
            from ..manager import S3SessionManager

            manager = S3SessionManager(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, region_name=region_name)
        self.manager = manager
        self._cache: dict[str, Session] = {}

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        """Appends entries, skipping those whose ``uuid`` the transcript already holds.

        S3 requests: PUT head (conditional), PUT index shard; plus a GET when this store holds no copy of
        the transcript yet or lost a race. Nothing when every entry is a duplicate.
        """
        if not entries:
            return
        session_id = storage_id(key["project_key"], key["session_id"], key.get("subpath"))
        session = self._cache.get(session_id)
        if session is None:
            session = await self._read(session_id)
        for _ in range(REBASE_ATTEMPTS):
            if session is None:
                session = Session(
                    metadata=SessionMetadata(id=session_id, agent_name="claude-agent-sdk"),
                    state={"claude_agent_sdk": {name: str(value) for name, value in key.items()}},
                )
            new = _unseen(session.messages, entries)
            if not new:
                return
            candidate = session.model_copy(
                update={"messages": [*session.messages, *new], "metadata": session.metadata.model_copy()}
            )
            try:
                await self.manager.save(candidate)
            except (ConflictError, SessionNotFound):
                session = await self._read(session_id)
                continue
            self._cache[session_id] = candidate
            return
        raise ConflictError("the transcript kept changing while appending to it", session_id=session_id)

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        """Returns the transcript's entries in order, or None if it was never written (or was deleted).

        S3 requests: GET head (plus one parallel wave of segment GETs for a long transcript).
        """
        session = await self._read(storage_id(key["project_key"], key["session_id"], key.get("subpath")))
        if session is None:
            return None
        entries: list[Any] = list(session.messages)  # stored verbatim: exactly what was appended
        return entries

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        """Lists the project's main transcripts with their last commit time (Unix milliseconds).

        S3 requests: one parallel wave of GETs of the index shards.
        """
        project = _project_hash(project_key)
        listed: list[SessionStoreListEntry] = []
        for metadata in await self.manager.list():
            parts = metadata.id.split(".")
            if len(parts) == 2 and parts[0] == project:
                listed.append({"session_id": _unescape(parts[1]), "mtime": metadata.updated_at * 1000})
        return listed

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        """Lists the subpaths (subagent transcripts) stored under a session.

        S3 requests: one parallel wave of GETs of the index shards.
        """
        return [_unescape(part) for part in await self._subkey_parts(key["project_key"], key["session_id"])]

    async def delete(self, key: SessionKey) -> None:
        """Deletes a transcript; deleting a main transcript also deletes its subagent transcripts.

        A transcript that does not exist is skipped. S3 requests: those of `SessionManager.delete` per
        transcript, plus a listing of the index when cascading.
        """
        subpath = key.get("subpath")
        session_id = storage_id(key["project_key"], key["session_id"], subpath)
        targets = [session_id]
        if subpath is None:
            targets += [
                f"{session_id}.{part}" for part in await self._subkey_parts(key["project_key"], key["session_id"])
            ]
        for target in targets:
            self._cache.pop(target, None)
            with contextlib.suppress(SessionNotFound):
                await self.manager.delete(target)

    async def close(self) -> None:
        """Closes the manager if this object created it."""
        if self._owns_manager:
            await self.manager.close()

    # -------------------------------------------------------------------------------------------- helpers

    async def _read(self, session_id: str) -> Session | None:
        try:
            session = await self.manager.resume(session_id)
        except SessionNotFound:
            self._cache.pop(session_id, None)
            return None
        self._cache[session_id] = session
        return session

    async def _subkey_parts(self, project_key: str, session_id: str) -> list[str]:
        main = storage_id(project_key, session_id)
        parts = []
        for metadata in await self.manager.list():
            if metadata.id.startswith(main + ".") and metadata.id.count(".") == 2:
                parts.append(metadata.id[len(main) + 1 :])
        return sorted(parts)


def _unseen(messages: list[Any], entries: list[Any]) -> list[Any]:
    """Returns the entries whose ``uuid`` is neither in ``messages`` nor earlier in ``entries`` (kept in order);
    entries without a uuid are always kept."""
    seen = {message.get("uuid") for message in messages if isinstance(message, dict)}
    seen.discard(None)
    new = []
    for entry in entries:
        uuid = entry.get("uuid") if isinstance(entry, dict) else None
        if isinstance(uuid, str):
            if uuid in seen:
                continue
            seen.add(uuid)
        new.append(entry)
    return new
