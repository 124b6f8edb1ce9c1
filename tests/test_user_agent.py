"""The fixed User-Agent: sent by the clients this package creates, never where the caller chose one."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import aioboto3
import botocore
import pytest
from conftest import BUCKET

from s3sessions.storage.s3 import S3ObjectStore
from s3sessions.storage.user_agent import DISTRIBUTION, fixed_user_agent


async def user_agents_sent(store: S3ObjectStore) -> list[str]:
    """The User-Agent of each request the store makes for one PUT and one GET, as it left the client."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        value = request.headers["User-Agent"]
        sent.append(value.decode() if isinstance(value, bytes) else value)

    try:
        (await store.client()).meta.events.register("before-send.s3", record)
        await store.put("agent", b"x")
        await store.get("agent", max_bytes=1024)
    finally:
        await store.close()
    assert len(sent) == 2
    return sent


def test_the_fixed_string_names_the_library_the_sdk_and_python() -> None:
    agent = fixed_user_agent({"aiobotocore": "2.25.1", "botocore": "1.40.61"})
    assert agent.startswith(f"s3sessions/{version(DISTRIBUTION)} ")
    assert " aiobotocore/2.25.1 botocore/1.40.61 Python/3." in agent


async def test_a_store_we_create_sends_the_fixed_user_agent(s3_endpoint: str | None, s3: Any) -> None:
    store = S3ObjectStore(BUCKET, endpoint_url=s3_endpoint, region_name="us-east-1")
    sent = await user_agents_sent(store)
    assert all(agent.startswith("s3sessions/") for agent in sent)
    assert all(f"botocore/{botocore.__version__}" in agent for agent in sent)
    assert all(" m/" not in agent for agent in sent)  # botocore's per-request build is not run


@pytest.mark.parametrize(
    "config",
    [{"user_agent": "mine/1.0"}, {"user_agent_extra": "extra/2"}, {"user_agent_appid": "my-app"}],
    ids=["user_agent", "user_agent_extra", "user_agent_appid"],
)
async def test_a_callers_user_agent_settings_win(s3_endpoint: str | None, s3: Any, config: dict[str, str]) -> None:
    store = S3ObjectStore(BUCKET, endpoint_url=s3_endpoint, region_name="us-east-1", client_config=config)
    sent = await user_agents_sent(store)
    assert not any(agent.startswith("s3sessions/") for agent in sent)
    assert all(next(iter(config.values())) in agent for agent in sent)


async def test_an_app_id_from_the_environment_keeps_botocores_user_agent(
    s3_endpoint: str | None, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "env-app")
    store = S3ObjectStore(BUCKET, endpoint_url=s3_endpoint, region_name="us-east-1")
    sent = await user_agents_sent(store)
    assert all("app/env-app" in agent and not agent.startswith("s3sessions/") for agent in sent)


async def test_a_callers_session_keeps_botocores_user_agent(s3_endpoint: str | None, s3: Any) -> None:
    store = S3ObjectStore(BUCKET, session=aioboto3.Session(), endpoint_url=s3_endpoint, region_name="us-east-1")
    sent = await user_agents_sent(store)
    assert not any(agent.startswith("s3sessions/") for agent in sent)
