"""The session stores under test, each behind the same small set of operations.

- ``s3sessions``: this library.
- ``naive``: one uncompressed JSON object per session (name and tags also in ``x-amz-meta-*`` so list can
  HEAD instead of GET); every change rewrites the whole object.
- ``strands-s3``: the Strands Agents SDK's ``S3SessionManager`` (one object per message).
- ``strands-snapshot``: Strands' ``SnapshotSessionManager`` on ``S3Storage`` (one blob per snapshot).

The Strands stores are driven through a real ``strands.Agent``: messages are appended with the agent's own
``_append_messages`` (which fires ``MessageAddedEvent``) and an invocation is closed with
``AfterInvocationEvent``, exactly the hooks the agent loop fires, so their session managers do what they do in
production. No model is called. An operation a store has no API for raises `Unsupported` with the reason.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from typing import Any, cast

from .data import Message, turn_count
from .measure import RequestHook

PAGE = 50
"""Sessions in one ``list_page`` (what a UI shows)."""


class Unsupported(Exception):
    """The store has no API for this operation."""


class SameAs(Unsupported):
    """The operation costs this store exactly what another one does (``operation``), so it is not run twice."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(reason)
        self.operation = operation


class SameAsResume(SameAs):
    """The store has no warm state, so its cold resume is its resume."""

    def __init__(self, reason: str) -> None:
        super().__init__("resume", reason)


class Store:
    """One store under test, for one session length. Operations act on the session made by ``create``."""

    name = "?"
    session_id = ""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str, hook: RequestHook) -> None:
        self.bucket, self.prefix, self.endpoint_url, self.hook = bucket, prefix, endpoint_url, hook

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def warm(self, messages: list[Message]) -> None:
        """Brings the store to its steady state (not measured)."""

    async def create(self, messages: list[Message]) -> None:
        raise NotImplementedError

    async def save_turn(self, turn: list[Message]) -> None:
        raise NotImplementedError

    async def save_turn_json(self, turn: list[Message]) -> None:
        """Saves one more turn of the session as another process would: from its JSON, on a warm manager that
        never read it (a Lambda invocation handed the session)."""
        raise SameAs("save_turn", "no cache of what was read: every save is this one")

    async def resume(self) -> int:
        """Returns how many messages came back."""
        raise NotImplementedError

    async def resume_cold(self) -> int:
        raise Unsupported("no separate cold path")

    async def list(self) -> int:
        raise Unsupported("no API to list sessions")

    async def list_page(self) -> int:
        """Lists one page of (up to) `PAGE` sessions; returns how many came back."""
        raise Unsupported("no API to list sessions")

    async def fork(self) -> None:
        raise Unsupported("no fork API")

    async def rewind(self) -> int:
        raise Unsupported("no API to cut a session back to a turn")

    async def tag(self) -> None:
        raise Unsupported("sessions have no tags")

    async def rename(self) -> None:
        raise Unsupported("sessions have no name")

    async def delete(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------ s3sessions


class OursStore(Store):
    name = "s3sessions"

    def __init__(self, bucket: str, prefix: str, endpoint_url: str, hook: RequestHook) -> None:
        self.bucket, self.prefix, self.endpoint_url, self.hook = bucket, prefix, endpoint_url, hook
        self.manager: Any = None
        self.other: Any = None
        self.session: Any = None
        self.fork_id = ""

    async def _manager(self) -> Any:
        from s3sessions import S3SessionManager

        manager = S3SessionManager(bucket=self.bucket, prefix=self.prefix, endpoint_url=self.endpoint_url)
        client = await cast(Any, manager.store).client()
        client.meta.events.register("before-send.s3", self.hook)
        return manager

    async def open(self) -> None:
        self.manager = await self._manager()
        self.other = await self._manager()

    async def close(self) -> None:
        await self.manager.close()
        await self.other.close()

    async def warm(self, messages: list[Message]) -> None:
        # Warm managers (DESIGN.md targets): the prefix's manifest (fan-out, store dialect) is known. The first
        # save to a prefix creates it, probing the store; `other` then reads it with its own first save.
        from s3sessions import Session, SessionMetadata

        for manager in (self.manager, self.other):
            await manager.save(Session(metadata=SessionMetadata(agent_name="bench"), messages=cast(Any, messages[:2])))
        await self.manager.list()

    async def create(self, messages: list[Message]) -> None:
        from s3sessions import Session, SessionMetadata

        self.session = Session(
            metadata=SessionMetadata(agent_name="bench", name="benchmark session"),
            messages=cast(Any, copy.deepcopy(messages)),
        )
        await self.manager.save(self.session)
        self.session_id = self.session.id

    async def save_turn(self, turn: list[Message]) -> None:
        self.session.messages.extend(copy.deepcopy(turn))
        await self.manager.save(self.session)

    async def save_turn_json(self, turn: list[Message]) -> None:
        from s3sessions import Session

        self.session = Session.model_validate_json(self.session.model_dump_json())
        self.session.messages.extend(copy.deepcopy(turn))
        await self.other.save(self.session)

    async def resume(self) -> int:
        return len((await self.manager.resume(self.session_id)).messages)

    async def resume_cold(self) -> int:
        manager = await self._manager()
        try:
            return len((await manager.resume(self.session_id)).messages)
        finally:
            await manager.close()

    async def list(self) -> int:
        return len(await self.manager.list())

    async def list_page(self) -> int:
        return len((await self.manager.list_page(PAGE)).sessions)

    async def fork(self) -> None:
        self.fork_id = (await self.manager.fork(self.session_id)).id

    async def rewind(self) -> int:
        turns = turn_count(self.session.messages)
        return len((await self.manager.rewind(self.fork_id, turns // 2)).messages)

    async def tag(self) -> None:
        await self.manager.tag(self.session_id, ["benchmark"])

    async def rename(self) -> None:
        await self.manager.rename(self.session_id, "renamed session")

    async def delete(self) -> None:
        await self.manager.delete(self.session_id)


# ------------------------------------------------------------------------------------------------ naive


class NaiveStore(Store):
    """One plain JSON object per session, ``{metadata, messages, state}``, rewritten whole on every change."""

    name = "naive-json"

    def __init__(self, bucket: str, prefix: str, endpoint_url: str, hook: RequestHook) -> None:
        self.bucket, self.prefix, self.endpoint_url, self.hook = bucket, prefix, endpoint_url, hook
        self._stack: Any = None
        self.client: Any = None
        self.document: dict[str, Any] = {}
        self.fork_id = ""

    async def open(self) -> None:
        import contextlib

        import aioboto3

        self._stack = contextlib.AsyncExitStack()
        self.client = await self._stack.enter_async_context(
            aioboto3.Session().client("s3", endpoint_url=self.endpoint_url)
        )
        self.client.meta.events.register("before-send.s3", self.hook)

    async def close(self) -> None:
        await self._stack.aclose()

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}{session_id}.json"

    async def _put(self, document: dict[str, Any]) -> None:
        metadata = document["metadata"]
        await self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(metadata["id"]),
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            Metadata={"name": metadata["name"], "tags": ",".join(metadata["tags"])},
        )

    async def _get(self, session_id: str) -> dict[str, Any]:
        response = await self.client.get_object(Bucket=self.bucket, Key=self._key(session_id))
        async with response["Body"] as body:
            document: dict[str, Any] = json.loads(await body.read())
        return document

    async def create(self, messages: list[Message]) -> None:
        self.session_id = uuid.uuid4().hex
        self.document = {
            "metadata": {"id": self.session_id, "name": "benchmark session", "tags": []},
            "messages": copy.deepcopy(messages),
            "state": {},
        }
        await self._put(self.document)

    async def save_turn(self, turn: list[Message]) -> None:
        self.document["messages"].extend(copy.deepcopy(turn))
        await self._put(self.document)

    async def resume(self) -> int:
        return len((await self._get(self.session_id))["messages"])

    async def resume_cold(self) -> int:
        raise SameAsResume("no state to warm: see resume")

    async def list(self) -> int:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        heads = await asyncio.gather(*(self.client.head_object(Bucket=self.bucket, Key=key) for key in keys))
        return len(heads)

    async def list_page(self) -> int:
        # S3 lists keys by name (here: random ids), not by recency: a page is the first keys, not the newest.
        page = await self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=PAGE)
        keys = [item["Key"] for item in page.get("Contents", [])]
        heads = await asyncio.gather(*(self.client.head_object(Bucket=self.bucket, Key=key) for key in keys))
        return len(heads)

    async def fork(self) -> None:
        document = await self._get(self.session_id)
        self.fork_id = uuid.uuid4().hex
        document["metadata"] = {**document["metadata"], "id": self.fork_id, "parent_id": self.session_id}
        await self._put(document)

    async def rewind(self) -> int:
        document = await self._get(self.fork_id)
        messages = document["messages"]
        keep_turns = turn_count(messages) // 2 + 1
        seen = 0
        for index, message in enumerate(messages):
            if message["role"] == "user" and not all("toolResult" in block for block in message["content"]):
                seen += 1
                if seen > keep_turns:
                    messages = messages[:index]
                    break
        document["messages"] = messages
        await self._put(document)
        return len(messages)

    async def tag(self) -> None:
        document = await self._get(self.session_id)
        document["metadata"]["tags"] = [*document["metadata"]["tags"], "benchmark"]
        await self._put(document)

    async def rename(self) -> None:
        document = await self._get(self.session_id)
        document["metadata"]["name"] = "renamed session"
        await self._put(document)

    async def delete(self) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._key(self.session_id))


# ------------------------------------------------------------------------------------------------ Strands


def strands_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("strands-agents")
    except Exception:
        return None


class _StrandsStore(Store):
    def __init__(self, bucket: str, prefix: str, endpoint_url: str, hook: RequestHook) -> None:
        self.bucket, self.prefix, self.endpoint_url, self.hook = bucket, prefix, endpoint_url, hook
        self.agent: Any = None
        self.manager: Any = None
        self._session: Any = None
        self._model: Any = None

    async def open(self) -> None:
        import boto3
        from strands.models.bedrock import BedrockModel

        # One boto3 session and one model for the whole run, as an application would hold them, so that
        # loading botocore's service models is not charged to every resume.
        self._session = boto3.Session()
        # Clients made from this session inherit the handler, so even the requests that the session
        # managers make in their constructors are counted.
        self._session.events.register("before-send.s3", self.hook)
        self._model = BedrockModel(model_id="benchmark-no-calls", region_name="us-east-1")

    def _boto_session(self) -> Any:
        return self._session

    def _agent(self, manager: Any, messages: list[Message] | None) -> Any:
        from strands import Agent

        return Agent(
            model=self._model,
            messages=messages,
            agent_id="bench",
            session_manager=manager,
            callback_handler=None,
        )

    async def _close_invocation(self, agent: Any) -> None:
        from strands.hooks.events import AfterInvocationEvent

        await agent.hooks.invoke_callbacks_async(AfterInvocationEvent(agent=agent, invocation_state={}))

    async def warm(self, messages: list[Message]) -> None:
        # Pays Strands' lazy imports and first-Agent costs on a throwaway session, so that they are not
        # charged to the measured operations.
        await self.create(messages)
        await self.resume()
        await self.delete()

    async def save_turn(self, turn: list[Message]) -> None:
        await self.agent._append_messages(*copy.deepcopy(turn))
        await self._close_invocation(self.agent)

    async def resume(self) -> int:
        # Strands resumes by building a session manager (and so a boto3 client) and an Agent.
        agent = self._agent(self._new_manager(), None)
        return len(agent.messages)

    async def resume_cold(self) -> int:
        raise SameAsResume("every resume builds a new manager and S3 client: see resume")

    def _new_manager(self) -> Any:
        raise NotImplementedError


class StrandsS3Store(_StrandsStore):
    """``strands.session.S3SessionManager``: session.json, agent.json and one object per message."""

    name = "strands-s3"

    def _new_manager(self) -> Any:
        from strands.session import S3SessionManager

        return S3SessionManager(
            session_id=self.session_id,
            bucket=self.bucket,
            prefix=self.prefix,
            boto_session=self._boto_session(),
            endpoint_url=self.endpoint_url,
        )

    async def create(self, messages: list[Message]) -> None:
        self.session_id = uuid.uuid4().hex
        self.manager = self._new_manager()
        self.agent = self._agent(self.manager, copy.deepcopy(messages))
        await self._close_invocation(self.agent)

    async def delete(self) -> None:
        self.manager.delete_session(self.session_id)


class StrandsSnapshotStore(_StrandsStore):
    """``strands.session.SnapshotSessionManager`` on ``strands.storage.S3Storage``: one JSON blob per save."""

    name = "strands-snapshot"

    def _new_manager(self) -> Any:
        from strands.session.snapshot_session_manager import SnapshotSessionManager
        from strands.storage import S3Storage

        # S3Storage takes no endpoint argument: botocore reads AWS_ENDPOINT_URL_S3 (set by the runner).
        storage = S3Storage(self.bucket, prefix=self.prefix, boto_session=self._boto_session())
        return SnapshotSessionManager(self.session_id, storage=storage)

    async def create(self, messages: list[Message]) -> None:
        self.session_id = uuid.uuid4().hex
        self.manager = self._new_manager()
        self.agent = self._agent(self.manager, copy.deepcopy(messages))
        await self._close_invocation(self.agent)

    async def rewind(self) -> int:
        raise Unsupported("restore_snapshot() needs an immutable checkpoint written at that turn (not a rewind)")

    async def delete(self) -> None:
        await self.manager.delete_session()
