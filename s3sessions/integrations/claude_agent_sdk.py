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
number of times with jittered back-off (`SessionManager.update`), then raises `ConflictError` (the SDK retries
the batch, then reports it).

Summaries: each append to a main transcript folds its entries into the SDK's summary
(``fold_session_summary``) and stores it in the same commit as the session's ``summary``, which the index
carries (`SessionMetadata.summary`), so ``list_session_summaries`` reads no transcript, never re-folds one,
and its ``mtime`` is the commit's own time, the clock ``list_sessions`` reports (Unix milliseconds of
``updated_at``). A summary over the index's 8 KiB (a pasted prompt of that size) stays in
``state["claude_agent_sdk_summary"]`` instead, as every summary did before the index carried them.

What it costs per flushed batch (once per turn in the SDK's default ``batched`` mode): a conditional PUT of the
head plus a PUT of its index entry, uploading the new entries and the inline tail, never the history; ``load`` is
one GET (two round trips for a long history); ``list_sessions`` and ``list_subkeys`` one listing of the index;
``list_session_summaries`` that listing, plus a GET of a small index entry body for each summary too long to
ride in its entry's key (about 500 bytes of JSON), and of the transcript's head for one kept in its state.

Requires ``pip install 's3sessions[claude-agent-sdk]'`` (its protocol types and ``fold_session_summary``; the
SDK is imported when a main transcript is first appended to).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from typing import TYPE_CHECKING, Any

from ..base import AsyncClosing, SessionManager
from ..errors import InvalidInput, SessionNotFound
from ..models import Session, SessionMetadata
from ..validation import check_session_id
from ..waves import gather
from ._manager import NoChange, Writer, open_manager

if TYPE_CHECKING:
    from claude_agent_sdk.types import (
        SessionKey,
        SessionListSubkeysKey,
        SessionStoreEntry,
        SessionStoreListEntry,
        SessionSummaryEntry,
    )

__all__ = ["ClaudeSessionStore", "storage_id"]

PROJECT_HASH_CHARS = 16
AGENT_NAME = "claude-agent-sdk"
KEY_STATE = "claude_agent_sdk"
SUMMARY_STATE = "claude_agent_sdk_summary"
PARALLEL_READS = 16
"""Transcripts `ClaudeSessionStore.list_session_summaries` reads at once."""
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
        **manager_options: Without ``manager``: `S3SessionManager` options (``bucket``, ``prefix``,
            ``endpoint_url``, ``region_name``, ``profile_name``, ``kms_key_id``, ``client_config``, ...), passed
            verbatim; this object then owns its manager (close it with ``await store.close()`` or ``async with``).

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="claude/") as sessions:  # doctest: +SKIP
        ...     options = ClaudeAgentOptions(session_store=ClaudeSessionStore(sessions))
    """

    def __init__(self, manager: SessionManager | None = None, **manager_options: Any) -> None:
        self.manager, self._owns_manager = open_manager(manager, manager_options)
        self._writers: dict[str, Writer] = {}

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        """Appends entries, skipping those whose ``uuid`` the transcript already holds.

        S3 requests: PUT head (conditional), PUT index entry; plus a GET when this store holds no copy of
        the transcript yet or lost a race. Nothing when every entry is a duplicate.
        """
        if not entries:
            return
        session_id = storage_id(key["project_key"], key["session_id"], key.get("subpath"))
        main = key.get("subpath") is None

        def append(session: Session) -> None:
            new = _unseen(session.messages, entries)
            if not new:
                raise NoChange
            state = session.state if isinstance(session.state, dict) else {}
            state.setdefault(KEY_STATE, {name: str(value) for name, value in key.items()})
            if main:
                folded = _fold(state.pop(SUMMARY_STATE, None) or session.metadata.summary, key, new)
                try:
                    session.metadata.summary = folded
                except InvalidInput:  # over the index's bound: kept with the transcript instead
                    session.metadata.summary = None
                    state[SUMMARY_STATE] = folded
            session.state = state
            session.messages.extend(new)

        await self._writer(session_id).write(append)

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

        S3 requests: one listing of the index.
        """
        return [
            {"session_id": _unescape(session_id), "mtime": _mtime(metadata)}
            for session_id, metadata in await self._main_transcripts(project_key)
        ]

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        """Returns the summaries `append` folded for the project's main transcripts (the SDK's fast path).

        Each summary's ``mtime`` is its transcript's commit time (the clock of `list_sessions`); transcripts
        written before summaries were kept have none (the SDK then derives theirs with ``load``).

        S3 requests: one listing of the index with summaries (see `SessionManager.list`: a GET of the entry's
        body for each summary too long for its key), plus a GET of the head for each summary kept in the
        transcript's state (over 8 KiB, or written before the index carried summaries), `PARALLEL_READS` at once.
        """
        limit = asyncio.Semaphore(PARALLEL_READS)

        async def from_state(session_id: str) -> SessionSummaryEntry | None:
            async with limit:
                try:
                    session = await self.manager.resume(session_id)  # not kept: a listing may read thousands
                except SessionNotFound:
                    return None
            stored = session.state.get(SUMMARY_STATE) if isinstance(session.state, dict) else None
            return _summary_entry(stored or session.metadata.summary, session.metadata)

        async def summary(metadata: SessionMetadata) -> SessionSummaryEntry | None:
            if metadata.summary is not None:
                return _summary_entry(metadata.summary, metadata)
            return await from_state(metadata.id)

        listed = await self._main_transcripts(project_key, summaries=True)
        return [entry for entry in await gather(summary(metadata) for _, metadata in listed) if entry is not None]

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        """Lists the subpaths (subagent transcripts) stored under a session.

        S3 requests: one listing of the index.
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
            self._writer(target).held = None
            with contextlib.suppress(SessionNotFound):
                await self.manager.delete(target)

    async def close(self) -> None:
        """Closes the manager if this object created it."""
        if self._owns_manager:
            await self.manager.close()

    # -------------------------------------------------------------------------------------------- helpers

    def _writer(self, session_id: str) -> Writer:
        if session_id not in self._writers:
            self._writers[session_id] = Writer(self.manager, session_id, AGENT_NAME)
        return self._writers[session_id]

    async def _read(self, session_id: str) -> Session | None:
        writer = self._writer(session_id)
        try:
            writer.held = await self.manager.resume(session_id)
        except SessionNotFound:
            writer.held = None
        return writer.held

    async def _main_transcripts(
        self, project_key: str, *, summaries: bool = False
    ) -> list[tuple[str, SessionMetadata]]:
        """(escaped session id, metadata) of the project's main transcripts."""
        project = _project_hash(project_key)
        listed = []
        for metadata in await self.manager.list(summaries=summaries):
            parts = metadata.id.split(".")
            if len(parts) == 2 and parts[0] == project:
                listed.append((parts[1], metadata))
        return listed

    async def _subkey_parts(self, project_key: str, session_id: str) -> list[str]:
        main = storage_id(project_key, session_id)
        parts = []
        for metadata in await self.manager.list():
            if metadata.id.startswith(main + ".") and metadata.id.count(".") == 2:
                parts.append(metadata.id[len(main) + 1 :])
        return sorted(parts)


def _mtime(metadata: SessionMetadata) -> int:
    """The transcript's storage time in Unix milliseconds: its last commit (``updated_at``)."""
    return int(metadata.updated_at * 1000)


def _summary_entry(stored: Any, metadata: SessionMetadata) -> SessionSummaryEntry | None:
    """The SDK's summary entry from a stored fold (None when there is none, or it is not one)."""
    data = stored.get("data") if isinstance(stored, dict) else None
    if not isinstance(stored, dict) or not isinstance(data, dict):
        return None
    entry: SessionSummaryEntry = {
        "session_id": str(stored.get("session_id", "")),
        "mtime": _mtime(metadata),
        "data": dict(data),
    }
    return entry


def _fold(previous: Any, key: SessionKey, entries: list[Any]) -> dict[str, Any]:
    """Folds appended entries into the stored summary (``session_id`` and the SDK's opaque ``data``)."""
    from claude_agent_sdk import fold_session_summary

    prev: Any = None
    if isinstance(previous, dict) and isinstance(previous.get("data"), dict):
        prev = {"session_id": previous.get("session_id", key["session_id"]), "mtime": 0, "data": previous["data"]}
    folded = fold_session_summary(prev, key, entries)
    return {"session_id": folded["session_id"], "data": folded["data"]}


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
