"""The OpenAI Agents SDK adapter against the real openai-agents package, with a scripted model (no network)."""

from __future__ import annotations

import asyncio

import pytest
from _support import BUCKET, RequestCounter, counted_manager, openai_model, require, run_fresh_process, summary

require("agents")

from agents import Agent, Runner, set_tracing_disabled  # noqa: E402
from agents.memory import Session as SessionProtocol  # noqa: E402
from agents.memory import SessionSettings  # noqa: E402

from s3sessions import InMemorySessionManager, InvalidInput, S3SessionManager  # noqa: E402
from s3sessions.integrations.openai_agents import OpenAIAgentsSession  # noqa: E402

pytestmark = pytest.mark.openai_agents
set_tracing_disabled(True)  # no trace export (it would need an API key)
PREFIX = "openai/"


@pytest.fixture
async def sessions(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint) as manager:
        yield manager


async def test_two_turns_then_a_fresh_process_resumes_with_identical_history(sessions, s3_endpoint):
    session = OpenAIAgentsSession("trip-1", sessions)
    assert isinstance(session, SessionProtocol)
    agent = Agent(name="guide", model=openai_model(["Paris is lovely.", "Rome too."]))
    first = await Runner.run(agent, "Tell me about Paris", session=session)
    second = await Runner.run(agent, "And Rome?", session=session)
    assert (first.final_output, second.final_output) == ("Paris is lovely.", "Rome too.")
    history = await session.get_items()
    assert [item.get("role") for item in history] == ["user", "assistant", "user", "assistant"]

    resumed = await asyncio.to_thread(run_fresh_process, "openai_resume.py", s3_endpoint, BUCKET, PREFIX, "trip-1")

    assert resumed["history"] == history
    assert resumed["model_input"][: len(history)] == history  # the SDK fed the stored history to the model
    assert resumed["output"] == "You asked about Paris and Rome."
    stored = await sessions.resume("trip-1")
    assert stored.metadata.turn_count == 3
    assert len(stored.messages) == 6


async def test_get_items_limit_pop_item_and_clear_session(sessions):
    session = OpenAIAgentsSession("s1", sessions, session_settings=SessionSettings(limit=2))
    assert await session.get_items() == []
    assert await session.pop_item() is None
    items = [{"role": "user", "content": f"m{n}"} for n in range(4)]
    await session.add_items(items[:3])
    await session.add_items([])
    await session.add_items(items[3:])
    assert await session.get_items() == items[2:]  # the settings' default limit
    assert await session.get_items(limit=10) == items
    assert await session.get_items(limit=0) == []
    assert await session.pop_item() == items[3]
    assert await OpenAIAgentsSession("s1", sessions).get_items() == items[:3]
    await session.clear_session()
    assert await session.get_items() == []
    await session.clear_session()  # clearing an absent session is a no-op
    await session.add_items(items[:1])
    assert await session.get_items() == items[:1]


async def test_two_writers_on_one_session_neither_lose_nor_duplicate_items(sessions, s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint) as other:
        writer_a = OpenAIAgentsSession("shared", sessions)
        writer_b = OpenAIAgentsSession("shared", other)
        await writer_a.add_items([{"role": "user", "content": "start"}])
        await writer_b.get_items()  # both now hold the same version
        await writer_a.add_items([{"role": "user", "content": "from A"}])
        await writer_b.add_items([{"role": "user", "content": "from B"}])  # stale: re-reads and appends on top
        await asyncio.gather(
            *(
                writer.add_items([{"role": "user", "content": f"race {n}"}])
                for n, writer in enumerate([writer_a, writer_b] * 3)
            )
        )
        contents = [item["content"] for item in await OpenAIAgentsSession("shared", sessions).get_items()]
    assert contents[:3] == ["start", "from A", "from B"]
    assert sorted(contents[3:]) == [f"race {n}" for n in range(6)]


async def test_the_adapter_owns_a_manager_it_creates(s3_endpoint):
    async with OpenAIAgentsSession("own", bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint) as session:
        await session.add_items([{"role": "user", "content": "hi"}])
        assert await session.get_items() == [{"role": "user", "content": "hi"}]


async def test_works_over_the_in_memory_manager():
    session = OpenAIAgentsSession("mem", InMemorySessionManager())
    result = await Runner.run(Agent(name="a", model=openai_model(["ok"])), "hi", session=session)
    assert result.final_output == "ok"
    assert len(await session.get_items()) == 2


async def test_requests_per_turn(s3_endpoint, capsys):
    """The benchmark behind the README's table: S3 requests of one Runner.run turn on a warm manager."""
    counter = RequestCounter()
    async with counted_manager(s3_endpoint, PREFIX, counter) as sessions:
        session = OpenAIAgentsSession("bench", sessions)
        agent = Agent(name="a", model=openai_model([f"reply {n}" for n in range(11)]))
        for n in range(10):
            await Runner.run(agent, f"question {n}", session=session)
        counter.take()
        await Runner.run(agent, "one more", session=session)
        turn = counter.take()
    # get_items once; the SDK then calls add_items twice (the input, then the outputs): head + index entry
    # each, and the superseded index entry's DeleteObjects each (S3 does not bill DELETEs).
    assert sorted(turn) == ["DeleteObjects"] * 2 + ["GetObject"] + ["PutObject"] * 4
    with capsys.disabled():
        print(f"\nOpenAI Agents per turn after 10 turns: {summary(turn)}")


def test_session_settings_are_the_sdks_own(s3_endpoint):
    session = OpenAIAgentsSession("settings", InMemorySessionManager(), session_settings={"limit": 3})
    assert isinstance(session.session_settings, SessionSettings) and session.session_settings.limit == 3
    assert OpenAIAgentsSession("default", InMemorySessionManager()).session_settings == SessionSettings()
    with pytest.raises(TypeError, match="limitt"):
        OpenAIAgentsSession("typo", InMemorySessionManager(), session_settings={"limitt": 3})


def test_every_s3sessionmanager_option_is_forwarded(monkeypatch):
    import s3sessions.manager

    seen: dict[str, object] = {}

    class Recording(S3SessionManager):
        def __init__(self, **options: object) -> None:
            seen.update(options)
            super().__init__(**options)  # type: ignore[arg-type]

    monkeypatch.setattr(s3sessions.manager, "S3SessionManager", Recording)
    options = {
        "bucket": BUCKET,
        "prefix": "p/",
        "profile_name": None,
        "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/example",
        "client_config": {"connect_timeout": 3},
        "pool_size": 32,
    }
    session = OpenAIAgentsSession("options", **options)  # type: ignore[arg-type]
    assert seen == options and session._owns_manager
    with pytest.raises(InvalidInput, match="not both"):
        OpenAIAgentsSession("both", InMemorySessionManager(), bucket=BUCKET)
