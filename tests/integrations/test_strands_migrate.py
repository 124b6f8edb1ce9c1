"""Migration of sessions written by the real Strands ``S3SessionManager`` (into moto) to s3sessions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
import pytest
from _support import BUCKET, PNG, RequestCounter, require, run_fresh_process, strands_model, strands_tools, to_json

require("strands")

from click.testing import CliRunner  # noqa: E402
from strands import Agent  # noqa: E402
from strands.session.s3_session_manager import S3SessionManager as StrandsS3  # noqa: E402
from strands.types.session import SessionAgent, SessionMessage  # noqa: E402

from s3sessions import ConflictError, S3SessionManager  # noqa: E402
from s3sessions.cli.migrate import migrate  # noqa: E402
from s3sessions.integrations.strands import S3SessionsRepository, StrandsSessionManager  # noqa: E402
from s3sessions.integrations.strands_migrate import migrate_strands  # noqa: E402

pytestmark = pytest.mark.strands
LEGACY = "legacy"
SOURCE = f"s3://{BUCKET}/{LEGACY}"


def _strands_agent(endpoint: str, session_id: str, replies: list[Any], **kwargs: Any) -> Any:
    manager = StrandsS3(session_id, BUCKET, LEGACY, endpoint_url=endpoint, region_name="us-east-1")
    return Agent(
        model=strands_model(replies), tools=strands_tools(), session_manager=manager, callback_handler=None, **kwargs
    )


def _write_legacy_sessions(endpoint: str) -> dict[str, Any]:
    """Writes three sessions with Strands' own S3 manager; returns what Strands itself resumes for each agent."""
    chat = _strands_agent(
        endpoint, "chat-a", [{"tool": "word_count", "input": {"text": "a b c"}}] + [f"r{n}" for n in range(6)]
    )
    chat("count the words in 'a b c'")
    chat.state.set("preferences", {"units": "metric", "raw": "\u00e9\u00e8"})
    chat([{"text": "look at this"}, {"image": {"format": "png", "source": {"bytes": PNG}}}])
    for n in range(4):
        chat(f"question {n}")  # 12+ messages: message_10.json sorts before message_2.json as text
    chat._session_manager.redact_latest_message({"role": "assistant", "content": [{"text": "[redacted]"}]}, chat)
    _strands_agent(endpoint, "team", ["from coder"], agent_id="coder")("hello coder")
    _strands_agent(endpoint, "team", ["from default"])("hello default")
    _strands_agent(endpoint, "empty", [])
    resumed = {}
    for session_id, agent_id in [("chat-a", None), ("team", "coder"), ("team", None), ("empty", None)]:
        agent = _strands_agent(endpoint, session_id, [], **({"agent_id": agent_id} if agent_id else {}))
        resumed[f"{session_id}/{agent_id or 'default'}"] = {
            "messages": to_json(agent.messages),
            "state": agent.state.get(),
        }
    return resumed


def _legacy_files(endpoint: str, session_id: str, agent_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    base = f"{LEGACY}/session_{session_id}/agents/agent_{agent_id}/"
    agent = json.loads(client.get_object(Bucket=BUCKET, Key=f"{base}agent.json")["Body"].read())
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{base}messages/").get("Contents", [])]
    keys.sort(key=lambda key: int(key.rsplit("_", 1)[1].removesuffix(".json")))
    return agent, [json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys]


async def _migrate(endpoint: str, session_id: str | None = None, **kwargs: Any) -> tuple[list[Any], list[str]]:
    counter = RequestCounter()
    async with S3SessionManager(bucket=BUCKET, prefix=LEGACY, endpoint_url=endpoint) as manager:
        (await manager.store.client()).meta.events.register("before-send.s3", counter)
        results = await migrate_strands(SOURCE, manager, session_id, endpoint_url=endpoint, **kwargs)
    return results, counter.take()


def test_migrates_every_session_losslessly_and_strands_resumes_it(s3_endpoint):
    expected = _write_legacy_sessions(s3_endpoint)

    results, _ = asyncio.run(_migrate(s3_endpoint))

    assert sorted((r.session_id, r.agent_id, r.storage_id, r.outcome) for r in results) == [
        ("chat-a", "default", "chat-a", "created"),
        ("empty", "default", "empty", "created"),
        ("team", "coder", "team.coder", "created"),
        ("team", "default", "team", "created"),
    ]
    for session_id, agent_id in [("chat-a", None), ("team", "coder"), ("team", None), ("empty", None)]:
        args = [s3_endpoint, BUCKET, LEGACY, session_id, *([agent_id] if agent_id else [])]
        assert run_fresh_process("strands_resume.py", *args) == expected[f"{session_id}/{agent_id or 'default'}"]

    # Lossless: every field of every Strands file comes back (timestamps, ids, the redacted original, bytes).
    agent_file, message_files = _legacy_files(s3_endpoint, "chat-a", "default")
    assert len(message_files) > 10
    with StrandsSessionManager("unused", bucket=BUCKET, prefix=LEGACY, endpoint_url=s3_endpoint) as sessions:
        repository: S3SessionsRepository = sessions.session_repository  # type: ignore[assignment]
        agent = repository.read_agent("chat-a", "default")
        assert agent is not None and agent.to_dict() == SessionAgent.from_dict(agent_file).to_dict()
        listed = repository.list_messages("chat-a", "default")
    assert [m.to_dict() for m in listed] == [SessionMessage.from_dict(f).to_dict() for f in message_files]
    assert listed[-1].redact_message is not None and listed[-1].message["content"] == [{"text": "r5"}]


def test_migrating_again_is_idempotent_then_picks_up_new_strands_turns(s3_endpoint):
    _write_legacy_sessions(s3_endpoint)
    asyncio.run(_migrate(s3_endpoint))

    results, requests = asyncio.run(_migrate(s3_endpoint))
    assert {r.outcome for r in results} == {"unchanged"}
    assert "PutObject" not in requests

    _strands_agent(s3_endpoint, "team", ["later"])("one more")  # Strands kept writing after the migration
    results, _ = asyncio.run(_migrate(s3_endpoint, "team"))
    assert sorted((r.storage_id, r.outcome) for r in results) == [("team", "updated"), ("team.coder", "unchanged")]
    resumed = run_fresh_process("strands_resume.py", s3_endpoint, BUCKET, LEGACY, "team")
    assert resumed["messages"][-1]["content"] == [{"text": "later"}]


def test_a_session_that_diverged_since_is_a_conflict_unless_overwritten(s3_endpoint):
    _write_legacy_sessions(s3_endpoint)
    asyncio.run(_migrate(s3_endpoint, "team"))
    with StrandsSessionManager("team", bucket=BUCKET, prefix=LEGACY, endpoint_url=s3_endpoint) as sessions:
        Agent(model=strands_model(["new side"]), session_manager=sessions, callback_handler=None)("via s3sessions")
    _strands_agent(s3_endpoint, "team", ["old side"])("via old Strands")

    with pytest.raises(ConflictError):
        asyncio.run(_migrate(s3_endpoint, "team"))
    results, _ = asyncio.run(_migrate(s3_endpoint, "team", overwrite=True))
    assert ("team", "updated") in [(r.storage_id, r.outcome) for r in results]


def test_the_cli_converts_all_sessions_with_a_progress_bar_and_one_by_id(s3_endpoint):
    _write_legacy_sessions(s3_endpoint)
    runner = CliRunner()

    everything = runner.invoke(migrate, ["strands", SOURCE, "--endpoint-url", s3_endpoint])
    assert everything.exit_code == 0, everything.output
    assert "migrating Strands sessions" in everything.stderr
    assert "created   chat-a (agent default) -> chat-a:" in everything.stdout
    assert "4 agent(s) from 3 session(s)" in everything.stderr

    one = runner.invoke(migrate, ["strands", SOURCE, "chat-a", "--endpoint-url", s3_endpoint, "--json"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["outcome"] == "unchanged"

    missing = runner.invoke(migrate, ["strands", SOURCE, "nope", "--endpoint-url", s3_endpoint])
    assert missing.exit_code == 1 and "no Strands session" in missing.output
    assert "--overwrite" in runner.invoke(migrate, ["strands", "--help"]).output


def test_multi_agent_state_and_a_session_without_default_agent_are_converted(s3_endpoint):
    from unittest.mock import Mock

    legacy = StrandsS3("swarm-1", BUCKET, LEGACY, endpoint_url=s3_endpoint, region_name="us-east-1")
    swarm = Mock(id="default_swarm")
    swarm.serialize_state.return_value = {"type": "swarm", "id": "default_swarm", "status": "completed"}
    legacy.create_multi_agent("swarm-1", swarm)
    _strands_agent(s3_endpoint, "coder-only", ["hi"], agent_id="coder")("hello")

    results, requests = asyncio.run(_migrate(s3_endpoint))

    converted = sorted((r.storage_id, r.kind, r.outcome) for r in results)
    assert converted == [
        ("coder-only", "session", "created"),
        ("coder-only.coder", "agent", "created"),
        ("swarm-1", "session", "created"),
        ("swarm-1.multi_agent_default_swarm", "multi_agent", "created"),
    ]
    assert "ListObjectsV2" in requests and "GetObject" in requests  # read through the manager's own store
    with StrandsSessionManager("swarm-1", bucket=BUCKET, prefix=LEGACY, endpoint_url=s3_endpoint) as sessions:
        assert sessions.read_multi_agent("swarm-1", "default_swarm") == swarm.serialize_state.return_value
        assert sessions.read_session("coder-only") is not None
        assert sessions.read_agent("coder-only", "coder") is not None
    again, _ = asyncio.run(_migrate(s3_endpoint))
    assert {r.outcome for r in again} == {"unchanged"}


def test_integrations_import_no_aws_sdk_and_no_private_request_path():
    """Every S3 request of the adapters and the migration goes through an s3sessions manager."""
    import ast
    from pathlib import Path

    import s3sessions.integrations as package

    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            assert not [n for n in names if n.split(".")[0] in {"boto3", "botocore", "aioboto3", "aiobotocore"}], path
