"""The Strands adapter against the real strands-agents package, with a scripted model (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _support import (
    BUCKET,
    PNG,
    RequestCounter,
    counted_manager,
    require,
    run_fresh_process,
    strands_model,
    strands_tools,
    strands_turns,
    summary,
    to_json,
)

require("strands")

from strands import Agent  # noqa: E402
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType  # noqa: E402

from s3sessions import ConflictError, InMemorySessionManager, S3SessionManager  # noqa: E402
from s3sessions.integrations import _strands_format as fmt  # noqa: E402
from s3sessions.integrations.strands import S3SessionsRepository, StrandsSessionManager  # noqa: E402

pytestmark = pytest.mark.strands
PREFIX = "strands/"


def _agent(sessions: StrandsSessionManager, replies: list[Any], **kwargs: Any) -> Any:
    return Agent(
        model=strands_model(replies), tools=strands_tools(), session_manager=sessions, callback_handler=None, **kwargs
    )


def _manager(endpoint: str, session_id: str = "chat-1") -> StrandsSessionManager:
    return StrandsSessionManager(session_id, bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint)


def _resume(endpoint: str, session_id: str) -> Any:
    async def go() -> Any:
        async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint) as manager:
            return await manager.resume(session_id)

    return asyncio.run(go())


def test_two_turns_resume_in_a_fresh_process_with_identical_history(s3_endpoint):
    turns = strands_turns()
    with _manager(s3_endpoint) as sessions:
        agent = _agent(sessions, [reply for _, replies in turns for reply in replies])
        agent(turns[0][0])
        agent.state.set("user", {"name": "Ada", "visits": 2})
        agent(turns[1][0])
        history = to_json(agent.messages)
    assert any(
        block.get("image", {}).get("source", {}).get("bytes") == {"hex": PNG.hex()} for block in history[4]["content"]
    )

    resumed = run_fresh_process("strands_resume.py", s3_endpoint, BUCKET, PREFIX, "chat-1")

    assert resumed["messages"] == history
    assert resumed["state"] == {"user": {"name": "Ada", "visits": 2}}
    stored = _resume(s3_endpoint, "chat-1")
    assert stored.metadata.turn_count == 2  # the toolResult message opens no turn
    assert stored.metadata.agent_name == "default"
    assert stored.metadata.total_tokens == 3 * 15
    assert len(stored.messages) == 6


def test_a_resumed_agent_continues_the_conversation(s3_endpoint):
    with _manager(s3_endpoint) as sessions:
        _agent(sessions, ["Hello."])("Hi")
    with _manager(s3_endpoint) as sessions:
        agent = _agent(sessions, ["Still here."])
        agent("Are you there?")
        assert [message["role"] for message in agent.messages] == ["user", "assistant", "user", "assistant"]
    assert _resume(s3_endpoint, "chat-1").metadata.turn_count == 2


def test_two_writers_on_one_session_conflict_cleanly(s3_endpoint):
    with _manager(s3_endpoint) as first:
        writer_a = _agent(first, ["A1", "A2"])
        writer_a("turn one")
        with _manager(s3_endpoint) as second:
            writer_b = _agent(second, ["B2"])  # resumes at the same version as writer A holds
            writer_a("turn two by A")
            with pytest.raises(ConflictError):
                writer_b("turn two by B")
    stored = _resume(s3_endpoint, "chat-1")
    texts = [block["text"] for message in stored.messages for block in message["content"] if "text" in block]
    assert texts == ["turn one", "A1", "turn two by A", "A2"]


def test_a_named_agent_gets_its_own_session(s3_endpoint):
    with _manager(s3_endpoint, "shared") as sessions:
        _agent(sessions, ["from coder"], agent_id="coder")("hi coder")
        _agent(sessions, ["from reviewer"], agent_id="reviewer")("hi reviewer")
    assert _resume(s3_endpoint, "shared.coder").metadata.agent_name == "coder"
    resumed = run_fresh_process("strands_resume.py", s3_endpoint, BUCKET, PREFIX, "shared", "reviewer")
    assert resumed["messages"][1]["content"] == [{"text": "from reviewer"}]


def test_redaction_and_timestamps_round_trip_through_the_repository():
    repository = S3SessionsRepository(InMemorySessionManager(), asyncio.run)
    repository.create_session(Session(session_id="s", session_type=SessionType.AGENT))
    repository.create_agent(
        "s", SessionAgent(agent_id="default", state={"blob": b"\x00\xff"}, conversation_manager_state={})
    )
    original = {"role": "user", "content": [{"text": "my card is 4111"}, {"document": {"source": {"bytes": b"%PDF"}}}]}
    message = SessionMessage(message=original, message_id=0)
    repository.create_message("s", "default", message)
    message.redact_message = {"role": "user", "content": [{"text": "[redacted]"}]}
    repository.update_message("s", "default", message)

    fresh = S3SessionsRepository(repository._manager, asyncio.run)
    agent = fresh.read_agent("s", "default")
    assert agent is not None and agent.state == {"blob": b"\x00\xff"}
    [listed] = fresh.list_messages("s", "default")
    assert listed.to_dict() == message.to_dict()
    assert listed.to_message() == {"role": "user", "content": [{"text": "[redacted]"}]}


@pytest.mark.parametrize(
    "value",
    [
        b"\x00raw",
        {"$bytes": "not base64 but a genuine string"},
        {"$dict": {"$bytes": "nested"}},
        {"__bytes_encoded__": True, "data": "AAAA"},
        [b"", {"a": [b"\x01", None, 1.5, True]}],
    ],
)
def test_the_bytes_encoding_is_explicit_and_lossless(value):
    assert fmt.decode_value(fmt.encode_value(value)) == value


TOOL_TURN = [{"tool": "word_count", "input": {"text": "a b"}}, "Two words."]


def _turn_replies(history_turns: int) -> list[Any]:
    return [f"reply {n}" for n in range(history_turns)] + ["one more"] + TOOL_TURN


def test_requests_per_turn_by_commit_mode_and_compared_with_strands_s3_session_manager(s3_endpoint, capsys):
    """The measurement behind the README's table and the default commit mode: S3 requests of a plain turn (user +
    assistant), of a turn with one tool call (user, toolUse, toolResult, assistant) and of a resume."""
    import boto3
    from strands.session.s3_session_manager import S3SessionManager as StrandsS3

    def count_strands(history_turns: int) -> dict[str, list[str]]:
        counter = RequestCounter()
        boto_session = boto3.Session(region_name="us-east-1")
        boto_session.events.register("before-send.s3", counter)
        session_id = f"theirs{history_turns}"
        theirs = StrandsS3(session_id, BUCKET, "theirs/", boto_session=boto_session, endpoint_url=s3_endpoint)
        agent = _agent(theirs, _turn_replies(history_turns))
        for n in range(history_turns):
            agent(f"question {n}")
        counter.take()
        agent("one more question")
        plain = counter.take()
        agent("count the words in 'a b'")
        tool = counter.take()
        again = StrandsS3(session_id, BUCKET, "theirs/", boto_session=boto_session, endpoint_url=s3_endpoint)
        _agent(again, [])
        return {"plain": plain, "tool": tool, "resume": counter.take()}

    def count_ours(history_turns: int, commit: str) -> dict[str, list[str]]:
        counter = RequestCounter()
        session_id = f"ours-{commit}-{history_turns}"
        with StrandsSessionManager(
            session_id, manager=counted_manager(s3_endpoint, PREFIX, counter), commit=commit
        ) as ours:
            agent = _agent(ours, _turn_replies(history_turns))
            for n in range(history_turns):
                agent(f"question {n}")
            counter.take()
            agent("one more question")
            plain = counter.take()
            agent("count the words in 'a b'")
            tool = counter.take()
            ours._loop.run(ours.manager.close())  # type: ignore[union-attr]
        fresh_manager = counted_manager(s3_endpoint, PREFIX, counter)
        counter.take()
        with StrandsSessionManager(session_id, manager=fresh_manager) as fresh:
            _agent(fresh, [])
            resume = counter.take()
            fresh._loop.run(fresh_manager.close())  # type: ignore[union-attr]
        return {"plain": plain, "tool": tool, "resume": resume}

    rows = []
    for history_turns in (1, 10):
        theirs = count_strands(history_turns)
        message, invocation = count_ours(history_turns, "message"), count_ours(history_turns, "invocation")
        rows.append((history_turns, theirs, message, invocation))
        # Per commit: head + new index entry PUT, the superseded entry's DeleteObjects (S3 does not bill DELETEs).
        commit = ["DeleteObjects", "PutObject", "PutObject"]
        assert sorted(message["plain"]) == sorted(commit * 2)  # 2 messages, a commit each
        assert sorted(message["tool"]) == sorted(commit * 4)  # 4 messages
        assert sorted(invocation["plain"]) == sorted(invocation["tool"]) == commit  # one save per turn
        # A new process: one GET of the head, which holds the session, the agent and its messages.
        assert invocation["resume"] == message["resume"] == ["GetObject"]
    with capsys.disabled():
        for history_turns, theirs, message, invocation in rows:
            print(f"\nStrands after {history_turns} turns:")
            for name, counts in (("theirs", theirs), ("message", message), ("invocation", invocation)):
                print(
                    f"  {name:10} plain turn {summary(counts['plain'])}; tool turn {summary(counts['tool'])};"
                    f" resume {summary(counts['resume'])}"
                )


def test_a_failed_invocation_still_saves_the_prompt(s3_endpoint):
    """In "invocation" mode the save happens when the invocation ends, also when it fails."""

    class Unavailable(Exception):
        pass

    with _manager(s3_endpoint, "fails") as sessions:
        model = strands_model([])
        agent = Agent(model=model, session_manager=sessions, callback_handler=None)

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise Unavailable("model down")
            yield

        model.stream = broken  # type: ignore[method-assign]
        with pytest.raises(Unavailable):
            agent("are you there?")
    stored = _resume(s3_endpoint, "fails")
    assert [message["content"] for message in stored.messages] == [[{"text": "are you there?"}]]


@pytest.mark.parametrize("kind", ["swarm", "graph"])
def test_multi_agent_state_is_an_s3sessions_session_and_resumes(s3_endpoint, kind, monkeypatch):
    from strands.multiagent import GraphBuilder, Swarm
    from strands.multiagent.graph import Graph

    def build(sessions: StrandsSessionManager, replies: list[str]) -> Any:
        node = Agent(name="writer", model=strands_model(replies), callback_handler=None)
        if kind == "swarm":
            return Swarm([node], session_manager=sessions)
        builder = GraphBuilder()
        builder.add_node(node, "writer")
        builder.set_max_node_executions(5)
        builder.set_session_manager(sessions)
        return builder.build()

    with _manager(s3_endpoint, f"team-{kind}") as sessions:
        team = build(sessions, ["Done."])
        team("write a haiku")
        state = team.serialize_state()
    stored = _resume(s3_endpoint, f"team-{kind}.multi_agent_{team.id}")
    assert stored.metadata.agent_name == f"multi_agent_{team.id}"
    assert fmt.state_records(stored.state, stored.id)["multi_agent"] == state
    assert state["status"] == "completed"

    restored: list[Any] = []
    cls = Swarm if kind == "swarm" else Graph
    original = cls.deserialize_state
    monkeypatch.setattr(
        cls, "deserialize_state", lambda self, payload: (restored.append(payload), original(self, payload))
    )
    with _manager(s3_endpoint, f"team-{kind}") as sessions:
        assert sessions.read_multi_agent(f"team-{kind}", team.id) == state
        build(sessions, [])
    assert restored == [state]  # a new process restores what the first one stored

    from click.testing import CliRunner

    from s3sessions.cli import cli

    where = ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", s3_endpoint]
    listed = CliRunner().invoke(cli, ["ls", *where, "--json"])
    assert listed.exit_code == 0, listed.output
    assert f"team-{kind}.multi_agent_{team.id}" in listed.output
    shown = CliRunner().invoke(cli, ["show", *where, f"team-{kind}.multi_agent_{team.id}"])
    assert shown.exit_code == 0, shown.output
