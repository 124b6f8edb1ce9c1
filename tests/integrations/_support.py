"""Helpers for the framework tests: the skip-or-fail import, scripted models (no network), request counting.

Importing this module imports no framework; each helper imports its framework when called.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
BUCKET = "test-bucket"
# A 1x1 PNG: the raw bytes of an image block.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def require(module: str) -> ModuleType:
    """Imports a framework, or skips the calling module when it is missing; under ``CI=true`` it must import."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def run_fresh_process(script: str, *args: str) -> Any:
    """Runs ``tests/integrations/<script>`` in a new interpreter and returns the JSON it prints last."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


class RequestCounter:
    """Counts S3 requests by operation through botocore's ``before-send`` hook (sync and async clients)."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1] or "?")

    def take(self) -> list[str]:
        """Returns the operations counted so far and starts again."""
        taken, self.operations = self.operations, []
        return taken


def counted_manager(endpoint: str, prefix: str, counter: RequestCounter) -> Any:
    """An `S3SessionManager` whose every S3 request, on any event loop, is counted: the hook is registered on the
    aioboto3 session its clients are created from."""
    import aioboto3

    from s3sessions import S3SessionManager

    session = aioboto3.Session(region_name="us-east-1")
    session.events.register("before-send.s3", counter)
    return S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint, session=session)


def summary(operations: list[str]) -> str:
    """``"4 (2 GetObject, 2 PutObject)"``."""
    counts: dict[str, int] = {}
    for operation in operations:
        counts[operation] = counts.get(operation, 0) + 1
    return f"{len(operations)} ({', '.join(f'{n} {op}' for op, n in sorted(counts.items()))})"


# ------------------------------------------------------------------------------------------------ Strands


def strands_model(replies: list[Any]) -> Any:
    """A Strands ``Model`` that streams scripted replies: a str is a text reply, a dict a tool call
    (``{"tool": name, "input": {...}}``)."""
    from strands.models.model import Model

    class ScriptedModel(Model):
        def __init__(self) -> None:
            self.replies = list(replies)
            self.config: dict[str, Any] = {}
            self.calls = 0

        def update_config(self, **model_config: Any) -> None:
            self.config.update(model_config)

        def get_config(self) -> Any:
            return self.config

        async def structured_output(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
            raise NotImplementedError
            yield

        async def stream(self, messages: Any, tool_specs: Any = None, system_prompt: Any = None, **kwargs: Any) -> Any:
            reply = self.replies.pop(0)
            self.calls += 1
            yield {"messageStart": {"role": "assistant"}}
            if isinstance(reply, dict):
                tool_use_id = f"tooluse_{self.calls}"
                yield {"contentBlockStart": {"start": {"toolUse": {"toolUseId": tool_use_id, "name": reply["tool"]}}}}
                yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(reply["input"])}}}}
                yield {"contentBlockStop": {}}
                yield {"messageStop": {"stopReason": "tool_use"}}
            else:
                yield {"contentBlockStart": {"start": {}}}
                yield {"contentBlockDelta": {"delta": {"text": reply}}}
                yield {"contentBlockStop": {}}
                yield {"messageStop": {"stopReason": "end_turn"}}
            usage = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}
            yield {"metadata": {"usage": usage, "metrics": {"latencyMs": 1}}}

    return ScriptedModel()


def strands_tools() -> list[Any]:
    """One deterministic tool, so that a turn holds toolUse/toolResult messages."""
    from strands import tool

    @tool
    def word_count(text: str) -> int:
        """Counts the words in a text.

        Args:
            text: The text.
        """
        return len(text.split())

    return [word_count]


def strands_turns() -> list[tuple[Any, list[Any]]]:
    """Two turns: a tool call, then a prompt carrying an image block (raw bytes). (prompt, scripted replies)."""
    return [
        (
            "How many words are in 'the quick brown fox'?",
            [{"tool": "word_count", "input": {"text": "the quick brown fox"}}, "Four words."],
        ),
        (
            [{"text": "What is in this image?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}],
            ["A single pixel."],
        ),
    ]


def to_json(value: Any) -> Any:
    """Makes a Strands message list comparable across processes (bytes as {'hex': ...})."""
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


# ------------------------------------------------------------------------------------------ OpenAI Agents


def openai_model(replies: list[str]) -> Any:
    """An OpenAI Agents SDK ``Model`` that answers each call with the next scripted text (no network)."""
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage
    from openai.types.responses import ResponseOutputMessage, ResponseOutputText

    class ScriptedModel(Model):
        def __init__(self) -> None:
            self.replies = list(replies)
            self.inputs: list[Any] = []

        async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
            self.inputs.append(input)
            text = self.replies.pop(0)
            message = ResponseOutputMessage(
                id=f"msg_{len(self.inputs)}",
                type="message",
                role="assistant",
                status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )
            return ModelResponse(output=[message], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
            raise NotImplementedError

    return ScriptedModel()
