"""Converts sessions written by Strands' own ``S3SessionManager`` into s3sessions sessions (no Strands import).

Strands' layout, under a prefix ``P`` (``P/`` omitted when empty)::

    P/session_<id>/session.json
    P/session_<id>/agents/agent_<agent id>/agent.json
    P/session_<id>/agents/agent_<agent id>/messages/message_<n>.json      n = 0, 1, ... 10 (not zero-padded)
    P/session_<id>/multi_agents/multi_agent_<id>/multi_agent.json       a Swarm's or Graph's state

Each agent becomes one s3sessions session in the shape `s3sessions.integrations.strands` reads and writes
(see `_strands_format`): its messages in numeric order of ``n``, every field of every file kept (timestamps,
message ids, the original of a redacted message, state, conversation-manager and internal state), raw bytes
decoded from Strands' base64 convention and re-encoded explicitly. A multi-agent state becomes the session
``<id>.multi_agent_<multi agent id>``; a session without a default agent also gets its record at ``<id>``.
Migrating again is idempotent: an identical session is left alone (no write); one whose messages are a prefix of
the source (Strands kept writing) is brought up to date; one that diverged (written since by s3sessions) is a
conflict unless ``overwrite``.

Every S3 request goes through an s3sessions manager's object store (`ObjectStore`: ``list_objects``, ``get``):
the destination manager's when the source is in its bucket, else one opened for the source bucket.
S3 requests: one LIST of the sessions' prefix (per 1,000 objects: every Strands object under it is listed),
then per session one LIST of its prefix, one GET per object (in parallel, bounded), then per target one GET of
its head and, unless unchanged, one PUT of the head and one of its index entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..base import SessionManager
from ..errors import ConflictError, CorruptObject, InvalidInput, SessionNotFound
from ..models import Session, SessionMetadata
from ..storage.protocol import ObjectStore
from ..waves import gather
from . import _strands_format as fmt

__all__ = [
    "MigrationResult",
    "list_strands_sessions",
    "migrate_strands",
    "migrate_strands_session",
    "parse_s3_url",
]

PARALLEL_GETS = 32
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest Strands JSON file read."""
_AGENT_FILE = re.compile(r"agents/agent_(?P<agent>[^/]+)/agent\.json")
_MESSAGE_FILE = re.compile(r"agents/agent_(?P<agent>[^/]+)/messages/message_(?P<n>-?[0-9]+)\.json")
_MULTI_AGENT_FILE = re.compile(r"multi_agents/multi_agent_(?P<id>[^/]+)/multi_agent\.json")

Outcome = Literal["created", "updated", "unchanged"]
Kind = Literal["agent", "multi_agent", "session"]


@dataclass
class MigrationResult:
    """What became of one Strands agent, multi-agent state or session record.

    Attributes:
        session_id: The Strands session id.
        agent_id: The Strands agent id, or the multi-agent id ("" for a session record).
        storage_id: The s3sessions session id it was written to.
        messages: How many messages it holds.
        outcome: ``created``, ``updated`` (the target was a prefix of the source) or ``unchanged``.
        skipped: Keys of the Strands session that were not converted (unknown files).
        kind: ``agent``, ``multi_agent``, or ``session`` (the record of a session without a default agent).
    """

    session_id: str
    agent_id: str
    storage_id: str
    messages: int
    outcome: Outcome
    skipped: list[str] = field(default_factory=list)
    kind: Kind = "agent"


def parse_s3_url(url: str) -> tuple[str, str]:
    """Splits ``s3://bucket/prefix`` into (bucket, prefix).

    Raises:
        InvalidInput: not an ``s3://`` URL with a bucket.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"invalid S3 URL {url!r}: use s3://BUCKET/PREFIX")
    return parsed.netloc, parsed.path.lstrip("/")


def _session_root(prefix: str) -> str:
    """Strands' rule: the prefix stripped of slashes, then ``/`` if non-empty."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


async def list_strands_sessions(store: ObjectStore, prefix: str) -> list[str]:
    """Returns the ids of every Strands session under the prefix, sorted.

    S3 requests: one LIST per 1,000 Strands objects under the prefix.
    """
    root = f"{_session_root(prefix)}session_"
    return sorted({info.key[len(root) :].split("/", 1)[0] for info in await store.list_objects(root)} - {""})


async def _get_json(store: ObjectStore, key: str, limit: asyncio.Semaphore) -> Any:
    async with limit:
        stored = await store.get(key, max_bytes=MAX_FILE_BYTES)
    try:
        return json.loads(stored.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptObject(f"not JSON: {exc}", key=key) from exc


async def migrate_strands_session(
    store: ObjectStore,
    prefix: str,
    session_id: str,
    manager: SessionManager,
    *,
    overwrite: bool = False,
) -> list[MigrationResult]:
    """Converts one Strands session (every agent and multi-agent in it) and returns one result per target.

    Args:
        store: The object store of the source bucket (a manager's ``store``).
        prefix: The prefix Strands wrote under.
        session_id: The Strands session.
        manager: Where to write.
        overwrite: Replace target sessions that diverged from their source.

    Raises:
        SessionNotFound: no object under ``session_<id>/``.
        ConflictError: a target session diverged from the source (and ``overwrite`` is False).
        CorruptObject: a Strands file is not JSON or lacks its fields.
    """
    session_prefix = f"{_session_root(prefix)}session_{session_id}/"
    keys = [info.key for info in await store.list_objects(session_prefix)]
    if not keys:
        raise SessionNotFound(f"no Strands session under {session_prefix}", session_id=session_id)
    session_key = f"{session_prefix}session.json"
    agent_keys: dict[str, str] = {}
    message_keys: dict[str, list[tuple[int, str]]] = {}
    multi_agent_keys: dict[str, str] = {}
    skipped: list[str] = []
    for key in keys:
        relative = key[len(session_prefix) :]
        if key == session_key:
            continue
        if match := _AGENT_FILE.fullmatch(relative):
            agent_keys[match["agent"]] = key
        elif match := _MESSAGE_FILE.fullmatch(relative):
            message_keys.setdefault(match["agent"], []).append((int(match["n"]), key))
        elif match := _MULTI_AGENT_FILE.fullmatch(relative):
            multi_agent_keys[match["id"]] = key
        else:
            skipped.append(key)
    limit = asyncio.Semaphore(PARALLEL_GETS)
    wanted = [session_key] if session_key in keys else []
    wanted += list(agent_keys.values()) + list(multi_agent_keys.values())
    wanted += [key for pairs in message_keys.values() for _, key in pairs]
    documents = dict(zip(wanted, await gather(_get_json(store, k, limit) for k in wanted), strict=True))
    session_record = fmt.decode_strands_bytes(documents.get(session_key) or {"session_id": session_id})
    targets: list[tuple[Kind, str, Session]] = []
    for agent_id in sorted(set(agent_keys) | set(message_keys)):
        if agent_id not in agent_keys:
            raise CorruptObject(f"Strands agent {agent_id!r} has messages but no agent.json", key=session_prefix)
        agent_record = fmt.decode_strands_bytes(documents[agent_keys[agent_id]])
        messages: list[Any] = []
        for _, key in sorted(message_keys.get(agent_id, [])):
            record = fmt.decode_strands_bytes(documents[key])
            if not isinstance(record, dict) or "message" not in record:
                raise CorruptObject("a Strands message file without a 'message' field", key=key)
            messages.append(fmt.stored_message(record))
        state = fmt.stored_state(session_record, agent_record)
        targets.append(("agent", agent_id, _target(session_id, agent_id, state, messages)))
    for multi_agent_id in sorted(multi_agent_keys):
        multi_agent = fmt.decode_strands_bytes(documents[multi_agent_keys[multi_agent_id]])
        state = fmt.stored_state(session_record, multi_agent=multi_agent)
        targets.append(
            ("multi_agent", multi_agent_id, _target(session_id, fmt.multi_agent_slot(multi_agent_id), state))
        )
    if fmt.DEFAULT_AGENT_ID not in agent_keys:
        targets.append(("session", "", _target(session_id, fmt.DEFAULT_AGENT_ID, fmt.stored_state(session_record))))
    results = []
    for kind, agent_id, target in targets:
        outcome = await _write(manager, target, overwrite=overwrite, record_only=kind == "session")
        results.append(
            MigrationResult(session_id, agent_id, target.id, len(target.messages), outcome, list(skipped), kind)
        )
    return results


def _target(session_id: str, slot: str, state: dict[str, Any], messages: list[Any] | None = None) -> Session:
    messages = messages or []
    return Session(
        metadata=SessionMetadata(
            id=fmt.storage_id(session_id, slot), agent_name=slot, total_tokens=fmt.total_tokens(messages)
        ),
        messages=messages,
        state=state,
    )


async def _write(manager: SessionManager, target: Session, *, overwrite: bool, record_only: bool = False) -> Outcome:
    """Creates, updates or leaves the target; ``record_only``: a session record, left alone once ``<id>`` exists."""
    # Compare in stored (JSON) form: what resume returns.
    target = Session.model_validate_json(target.model_dump_json())
    try:
        existing = await manager.resume(target.id)
    except SessionNotFound:
        await manager.save(target)
        return "created"
    if record_only:
        return "unchanged"
    if existing.messages == target.messages and existing.state == target.state:
        return "unchanged"
    grew = existing.messages == target.messages[: len(existing.messages)]
    if not (grew or overwrite):
        raise ConflictError(
            "the s3sessions session has diverged from the Strands session (written since the last migration);"
            " pass overwrite=True (--overwrite) to replace it",
            session_id=target.id,
        )
    existing.messages = target.messages
    existing.state = target.state
    existing.metadata.total_tokens = target.metadata.total_tokens
    await manager.save(existing)
    return "updated"


async def migrate_strands(
    source: str,
    manager: SessionManager,
    session_id: str | None = None,
    *,
    source_manager: SessionManager | None = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
    overwrite: bool = False,
    parallel: int = 4,
    on_listed: Callable[[int], None] | None = None,
    on_migrated: Callable[[str, list[MigrationResult]], None] | None = None,
) -> list[MigrationResult]:
    """Converts one Strands session, or every session under the source prefix, and returns the results.

    Args:
        source: ``s3://BUCKET/PREFIX`` where Strands' ``S3SessionManager`` wrote (its ``bucket``, ``prefix``).
        manager: Where to write (may be the same bucket and prefix: the layouts do not overlap).
        session_id: One Strands session; None for all of them.
        source_manager: A manager of the source bucket to read through (its ``store``); default: ``manager``
            when the source is in its bucket, else an `S3SessionManager` opened (and closed) here.
        endpoint_url, region_name, profile_name: For the source manager opened here.
        overwrite: Replace target sessions that diverged from their source.
        parallel: Sessions converted at once.
        on_listed: Called with the number of sessions to convert, before converting.
        on_migrated: Called after each session with its id and results.

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     await migrate_strands("s3://my-bucket/agents/", sessions, "chat-42")
    """
    bucket, prefix = parse_s3_url(source)
    async with contextlib.AsyncExitStack() as stack:
        if source_manager is None and getattr(getattr(manager, "store", None), "bucket", None) == bucket:
            source_manager = manager
        if source_manager is None:
            from ..manager import S3SessionManager

            source_manager = S3SessionManager(
                bucket=bucket, prefix="", endpoint_url=endpoint_url, region_name=region_name, profile_name=profile_name
            )
            stack.push_async_callback(source_manager.close)
        store: ObjectStore | None = getattr(source_manager, "store", None)
        if store is None:
            raise InvalidInput(f"{type(source_manager).__name__} has no object store to read {source} through")
        ids = [session_id] if session_id is not None else await list_strands_sessions(store, prefix)
        if on_listed is not None:
            on_listed(len(ids))
        limit = asyncio.Semaphore(max(1, parallel))

        async def one(strands_id: str) -> list[MigrationResult]:
            async with limit:
                results = await migrate_strands_session(store, prefix, strands_id, manager, overwrite=overwrite)
            if on_migrated is not None:
                on_migrated(strands_id, results)
            return results

        return [result for results in await gather(one(i) for i in ids) for result in results]
