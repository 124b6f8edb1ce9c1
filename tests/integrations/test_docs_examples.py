"""The framework examples of README.md run as written, against moto (``AWS_ENDPOINT_URL``) and scripted models.

Only the model call is replaced (Strands' default Bedrock model, the OpenAI provider, the Claude Code CLI behind
``query``): every s3sessions and framework call in the examples is the real one.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from _support import openai_model, require, strands_model

DOC = Path(__file__).resolve().parents[2] / "README.md"


def _example(import_line: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    [block] = [block for block in blocks if import_line in block]
    return block


def _run(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__main__"})


@pytest.fixture
def my_bucket(s3_endpoint, monkeypatch):
    """The examples' bucket, with the AWS SDKs pointed at moto through the environment."""
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="my-bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    return s3_endpoint


def _load(endpoint: str, prefix: str, session_id: str) -> Any:
    from s3sessions import S3SessionManager

    async def go() -> Any:
        async with S3SessionManager(bucket="my-bucket", prefix=prefix, endpoint_url=endpoint) as manager:
            return await manager.resume(session_id)

    return asyncio.run(go())


@pytest.mark.strands
def test_the_strands_example(my_bucket, monkeypatch):
    require("strands")
    from strands.models.bedrock import BedrockModel

    monkeypatch.setattr(BedrockModel, "stream", strands_model(["Noted: green.", "Green."]).stream)
    _run(_example("from s3sessions.integrations.strands import"))
    _run(_example("from s3sessions.integrations.strands import"))  # a second run resumes the conversation
    assert _load(my_bucket, "agents/", "chat-42").metadata.turn_count == 2


@pytest.mark.openai_agents
def test_the_openai_agents_example(my_bucket, monkeypatch, capsys):
    require("agents")
    from agents import set_tracing_disabled
    from agents.models.multi_provider import MultiProvider

    set_tracing_disabled(True)
    model = openai_model(["Green."])
    monkeypatch.setattr(MultiProvider, "get_model", lambda self, name: model)
    _run(_example("from s3sessions.integrations.openai_agents import"))
    assert capsys.readouterr().out == "Green.\n"
    assert len(_load(my_bucket, "agents/", "chat-42").messages) == 2


@pytest.mark.claude_agent_sdk
def test_the_claude_agent_sdk_example(my_bucket, monkeypatch, capsys):
    claude_agent_sdk = require("claude_agent_sdk")
    session_id = str(uuid.uuid4())

    async def query(*, prompt: str, options: Any, **_: Any) -> Any:
        """Stands in for the CLI: mirrors a transcript into the options' store, as the SDK does during a run."""
        key = {"project_key": claude_agent_sdk.project_key_for_directory(None), "session_id": session_id}
        user = {"type": "user", "uuid": str(uuid.uuid4()), "message": {"role": "user", "content": prompt}}
        await options.session_store.append(key, [user])
        yield f"mirrored {prompt}"

    monkeypatch.setattr(claude_agent_sdk, "query", query)
    _run(_example("from s3sessions.integrations.claude_agent_sdk import"))
    assert capsys.readouterr().out == "mirrored Summarise README.md\n"
    from s3sessions.integrations.claude_agent_sdk import storage_id

    stored = _load(my_bucket, "claude/", storage_id(claude_agent_sdk.project_key_for_directory(None), session_id))
    assert stored.messages[0]["message"]["content"] == "Summarise README.md"
