"""Converts sessions written by Strands' own ``S3SessionManager`` into s3sessions sessions (no Strands import).

Strands' layout, under a prefix ``P`` (``P/`` omitted when empty)::

    P/session_<id>/session.json
    P/session_<id>/agents/agent_<agent id>/agent.json
    P/session_<id>/agents/agent_<agent id>/messages/message_<n>.json      n = 0, 1, ... 10 (not zero-padded)

Each agent becomes one s3sessions session in the shape `s3sessions.integrations.strands` reads and writes
(see `_strands_format`): its messages in numeric order of ``n``, every field of every file kept (timestamps,
message ids, the original of a redacted message, state, conversation-manager and internal state), raw bytes
decoded from Strands' base64 convention and re-encoded explicitly. Migrating again is idempotent: an identical
session is left alone (no write); one whose messages are a prefix of the source (Strands kept writing) is
brought up to date; one that diverged (written since by s3sessions) is a conflict unless ``overwrite``.

S3 requests per session: one LIST of its prefix (per 1,000 objects), one GET per object (in parallel, bounded),
then per agent one GET of the target head and, unless unchanged, one PUT of the head and one of an index shard.
Multi-agent (``multi_agents/``) state is not converted; it is reported in `MigrationResult.skipped`.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from ..base import SessionManager
from ..errors import ConflictError, CorruptObject, InvalidInput, SessionNotFound, StorageError
from ..models import Session, SessionMetadata
from . import _strands_format as fmt

__all__ = [
    "MigrationResult",
    "list_strands_sessions",
    "migrate_strands",
    "migrate_strands_session",
    "open_source_client",
    "parse_s3_url",
]

PARALLEL_GETS = 32
_AGENT_FILE = re.compile(r"agents/agent_(?P<agent>[^/]+)/agent\.json")
_MESSAGE_FILE = re.compile(r"agents/agent_(?P<agent>[^/]+)/messages/message_(?P<n>-?[0-9]+)\.json")

Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class MigrationResult:
    """What became of one Strands agent.

    Attributes:
        session_id: The Strands session id.
        agent_id: The Strands agent id.
        storage_id: The s3sessions session id it was written to.
        messages: How many messages it holds.
        outcome: ``created``, ``updated`` (the target was a prefix of the source) or ``unchanged``.
        skipped: Keys of the Strands session that were not converted (multi-agent state, unknown files).
    """

    session_id: str
    agent_id: str
    storage_id: str
    messages: int
    outcome: Outcome
    skipped: list[str] = field(default_factory=list)


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


@asynccontextmanager
async def open_source_client(
    endpoint_url: str | None = None, region_name: str | None = None, profile_name: str | None = None
) -> AsyncIterator[Any]:
    """Opens an aiobotocore S3 client for reading the Strands objects."""
    import aioboto3

    session = aioboto3.Session(profile_name=profile_name, region_name=region_name)
    async with session.client("s3", endpoint_url=endpoint_url) as client:
        yield client


async def _call(description: str, operation: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return await operation
    except ClientError as exc:
        raise StorageError(f"{description} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{description} failed: {exc}") from exc


async def list_strands_sessions(client: Any, bucket: str, prefix: str) -> list[str]:
    """Returns the ids of every Strands session under the prefix, sorted.

    S3 requests: one LIST (with a delimiter) per 1,000 sessions.
    """
    root = f"{_session_root(prefix)}session_"
    ids: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": root, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        page = await _call(f"listing s3://{bucket}/{root}", client.list_objects_v2(**kwargs))
        ids += [entry["Prefix"][len(root) : -1] for entry in page.get("CommonPrefixes", [])]
        if not page.get("IsTruncated"):
            return sorted(ids)
        token = page.get("NextContinuationToken")


async def _list_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = await _call(f"listing s3://{bucket}/{prefix}", client.list_objects_v2(**kwargs))
        keys += [entry["Key"] for entry in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return keys
        token = page.get("NextContinuationToken")


async def _get_json(client: Any, bucket: str, key: str, limit: asyncio.Semaphore) -> Any:
    async with limit:
        response = await _call(f"reading s3://{bucket}/{key}", client.get_object(Bucket=bucket, Key=key))
        async with response["Body"] as body:
            data = await body.read()
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptObject(f"not JSON: {exc}", key=key) from exc


async def migrate_strands_session(
    client: Any,
    bucket: str,
    prefix: str,
    session_id: str,
    manager: SessionManager,
    *,
    overwrite: bool = False,
) -> list[MigrationResult]:
    """Converts one Strands session (every agent in it) and returns one result per agent.

    Raises:
        SessionNotFound: no object under ``session_<id>/``.
        ConflictError: a target session diverged from the source (and ``overwrite`` is False).
        CorruptObject: a Strands file is not JSON or lacks its fields.
    """
    session_prefix = f"{_session_root(prefix)}session_{session_id}/"
    keys = await _list_keys(client, bucket, session_prefix)
    if not keys:
        raise SessionNotFound(f"no Strands session under s3://{bucket}/{session_prefix}", session_id=session_id)
    session_key = f"{session_prefix}session.json"
    agent_keys: dict[str, str] = {}
    message_keys: dict[str, list[tuple[int, str]]] = {}
    skipped: list[str] = []
    for key in keys:
        relative = key[len(session_prefix) :]
        if key == session_key:
            continue
        if match := _AGENT_FILE.fullmatch(relative):
            agent_keys[match["agent"]] = key
        elif match := _MESSAGE_FILE.fullmatch(relative):
            message_keys.setdefault(match["agent"], []).append((int(match["n"]), key))
        else:
            skipped.append(key)
    limit = asyncio.Semaphore(PARALLEL_GETS)
    wanted = [session_key] if session_key in keys else []
    wanted += list(agent_keys.values()) + [key for pairs in message_keys.values() for _, key in pairs]
    documents = dict(
        zip(wanted, await asyncio.gather(*(_get_json(client, bucket, k, limit) for k in wanted)), strict=True)
    )
    session_record = fmt.decode_strands_bytes(documents.get(session_key) or {"session_id": session_id})
    results = []
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
        target = Session(
            metadata=SessionMetadata(
                id=fmt.storage_id(session_id, agent_id),
                agent_name=agent_id,
                total_tokens=fmt.total_tokens(messages),
            ),
            messages=messages,
            state=fmt.stored_state(session_record, agent_record),
        )
        outcome = await _write(manager, target, overwrite=overwrite)
        results.append(MigrationResult(session_id, agent_id, target.id, len(messages), outcome, list(skipped)))
    return results


async def _write(manager: SessionManager, target: Session, *, overwrite: bool) -> Outcome:
    # Compare in stored (JSON) form: what resume returns.
    target = Session.model_validate_json(target.model_dump_json())
    try:
        existing = await manager.resume(target.id)
    except SessionNotFound:
        await manager.save(target)
        return "created"
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
        endpoint_url, region_name, profile_name: For reading the source.
        overwrite: Replace target sessions that diverged from their source.
        parallel: Sessions converted at once.
        on_listed: Called with the number of sessions to convert, before converting.
        on_migrated: Called after each session with its id and results.

    Example:
        >>> async with S3SessionManager(bucket="my-bucket", prefix="agents/") as sessions:  # doctest: +SKIP
        ...     await migrate_strands("s3://my-bucket/agents/", sessions, "chat-42")
    """
    bucket, prefix = parse_s3_url(source)
    async with open_source_client(endpoint_url, region_name, profile_name) as client:
        ids = [session_id] if session_id is not None else await list_strands_sessions(client, bucket, prefix)
        if on_listed is not None:
            on_listed(len(ids))
        limit = asyncio.Semaphore(max(1, parallel))

        async def one(strands_id: str) -> list[MigrationResult]:
            async with limit:
                results = await migrate_strands_session(
                    client, bucket, prefix, strands_id, manager, overwrite=overwrite
                )
            if on_migrated is not None:
                on_migrated(strands_id, results)
            return results

        return [result for results in await asyncio.gather(*(one(i) for i in ids)) for result in results]
