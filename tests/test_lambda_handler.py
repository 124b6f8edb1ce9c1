"""examples/lambda_agent/handler.py invoked as Lambda does: warm invocations in one container, cold ones, and
eight containers racing on one new session.

The moto server stands in for S3; the handler reads its endpoint from ``AWS_ENDPOINT_URL_S3`` as botocore does,
so the handler's code is exactly what runs on Lambda.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiobotocore.session import AioSession
from conftest import BUCKET

from s3sessions import S3SessionManager

HANDLER = Path(__file__).resolve().parents[1] / "examples" / "lambda_agent" / "handler.py"
PREFIX = "lambda/"


@pytest.fixture
def lambda_environment(s3_endpoint, monkeypatch):
    """What the SAM template's function sees (plus the local endpoint)."""
    monkeypatch.setenv("S3SESSIONS_BUCKET", BUCKET)
    monkeypatch.setenv("S3SESSIONS_PREFIX", PREFIX)
    monkeypatch.setenv("S3SESSIONS_KMS_KEY_ID", "")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    return s3_endpoint


@pytest.fixture
def client_count(monkeypatch):
    """Counts aiobotocore clients created in this process."""
    created: list[str] = []
    original = AioSession._create_client

    async def counting(self, service_name, *args, **kwargs):
        created.append(service_name)
        return await original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(AioSession, "_create_client", counting)
    return created


def load_handler(name: str):
    """Imports the handler module afresh, as a new Lambda container would."""
    spec = importlib.util.spec_from_file_location(name, HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def stored_messages(endpoint: str, session_id: str) -> list:
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint) as manager:
        return (await manager.resume(session_id)).messages


async def test_warm_container_reuses_one_client(lambda_environment, client_count):
    handler = load_handler("lambda_handler_warm")
    try:
        assert client_count == []  # importing the handler makes no client (nor loads the SDK's client code)
        for invocation in range(1, 6):
            result = handler.handler({"session_id": "warm-1", "message": f"message {invocation}"}, None)
            assert result["turn_count"] == invocation
            assert result["session_id"] == "warm-1"
            messages = await stored_messages(lambda_environment, "warm-1")
            assert len(messages) == 2 * invocation  # grew by exactly one turn (user + assistant)
            assert messages[-2] == {"role": "user", "content": f"message {invocation}"}
            assert messages[-1]["role"] == "assistant"
        assert client_count.count("s3") == 1 + 5  # the handler's one, plus one per stored_messages() check
        handler_store = handler.sessions.manager.store
        assert handler_store.open_clients == 1 and not handler.sessions.closed
    finally:
        handler.sessions.close()


def test_handler_makes_exactly_one_client_over_five_invocations(lambda_environment, client_count):
    handler = load_handler("lambda_handler_count")
    try:
        turns = [handler.handler({"session_id": "warm-2"}, None)["turn_count"] for _ in range(5)]
        assert turns == [1, 2, 3, 4, 5]
        assert client_count == ["s3"]
    finally:
        handler.sessions.close()


def invoke_cold(endpoint: str, event: dict) -> dict:
    """One invocation in a fresh interpreter (a cold container); also reports what the import loaded."""
    script = textwrap.dedent(
        f"""
        import importlib.util, json, sys
        spec = importlib.util.spec_from_file_location("handler", {str(HANDLER)!r})
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)
        sdk_at_import = sorted(m for m in ("aioboto3", "aiobotocore", "botocore", "aiohttp") if m in sys.modules)
        result = handler.handler(json.loads(sys.argv[1]), None)
        print(json.dumps({{"result": result, "sdk_at_import": sdk_at_import}}))
        """
    )
    environment = {
        **os.environ,
        "S3SESSIONS_BUCKET": BUCKET,
        "S3SESSIONS_PREFIX": PREFIX,
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    completed = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script, json.dumps(event)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""  # no unclosed client, session or loop at exit
    outcome: dict = json.loads(completed.stdout)
    return outcome


async def test_cold_invocations_in_fresh_processes(lambda_environment):
    first = invoke_cold(lambda_environment, {"session_id": "cold-1", "message": "first"})
    assert first["result"]["turn_count"] == 1
    assert first["sdk_at_import"] == []  # the init phase loads no AWS SDK
    second = invoke_cold(lambda_environment, {"session_id": "cold-1", "message": "second"})
    assert second["result"]["turn_count"] == 2
    messages = await stored_messages(lambda_environment, "cold-1")
    assert [message["content"] for message in messages if message["role"] == "user"] == ["first", "second"]


async def test_eight_concurrent_invocations_on_one_new_session_all_land(lambda_environment):
    """Eight containers, one new session, started together: each invocation's turn is saved exactly once.

    Before `update`, seven of the eight failed with ConflictError (all read "no session", one create won).
    A lost race re-reads and re-applies, so all succeed; their turn numbers are 1..8 in some order.
    """
    containers = [load_handler(f"lambda_handler_race_{number}") for number in range(8)]
    start = threading.Barrier(len(containers))

    def invoke(number: int) -> dict:
        start.wait()
        return containers[number].handler({"session_id": "race-1", "message": f"from {number}"}, None)

    try:
        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            results = list(pool.map(invoke, range(len(containers))))
    finally:
        for container in containers:
            container.sessions.close()
    assert sorted(result["turn_count"] for result in results) == list(range(1, 9))
    for result in results:  # each reply was computed on the history its own save extended
        assert result["reply"].startswith(f"Turn {result['turn_count']}: ")
    messages = await stored_messages(lambda_environment, "race-1")
    users = [message["content"] for message in messages if message["role"] == "user"]
    assert sorted(users) == sorted(f"from {number}" for number in range(8))  # none lost, none twice
    assert len(messages) == 16
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX) as manager:
        assert (await manager.resume("race-1")).metadata.agent_name == "lambda-agent"
