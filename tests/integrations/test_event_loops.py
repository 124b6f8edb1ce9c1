"""One manager serves every event loop: ``asyncio.run()`` per call, and 8 threads each with its own loop.

This is how the frameworks' users drive a session store: a script or Lambda handler that calls ``asyncio.run``
per request, ``Runner.run_sync`` (a fresh loop per call), a server's worker threads each running their own loop.
Every scenario runs in a daemon thread joined with a deadline, so a hang fails the test instead of the run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from _support import BUCKET, require

require("agents")
require("claude_agent_sdk")

from s3sessions import S3SessionManager  # noqa: E402
from s3sessions.integrations.claude_agent_sdk import ClaudeSessionStore  # noqa: E402
from s3sessions.integrations.openai_agents import OpenAIAgentsSession  # noqa: E402

pytestmark = [pytest.mark.openai_agents, pytest.mark.claude_agent_sdk, pytest.mark.loop_affinity]
PREFIX = "loops/"
CALL_SECONDS = 20
"""Bound of one asyncio.run() call."""
SCENARIO_SECONDS = 60
"""Bound of a whole scenario (threads included)."""
THREADS = 8


def _bounded(seconds: float, scenario: Callable[[], Any]) -> Any:
    """Runs ``scenario`` in a daemon thread; fails if it is still running after ``seconds``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = scenario()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="bounded-scenario", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _run(coroutine: Any) -> Any:
    """One call on a new event loop, as ``asyncio.run`` per request does."""
    return asyncio.run(asyncio.wait_for(coroutine, CALL_SECONDS))


def test_a_new_event_loop_per_call(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint)
    session = OpenAIAgentsSession("per-call", manager)
    store = ClaudeSessionStore(manager)
    key = {"project_key": "p", "session_id": "per-call"}

    def scenario() -> tuple[list[Any], list[Any] | None, list[str]]:
        for n in range(4):
            _run(session.add_items([{"role": "user", "content": f"m{n}"}]))
            _run(store.append(key, [{"type": "user", "uuid": f"u{n}"}]))
        items = _run(session.get_items())
        entries = _run(store.load(key))
        listed = [metadata.id for metadata in _run(manager.list())]
        _run(manager.close())
        return items, entries, listed

    items, entries, listed = _bounded(SCENARIO_SECONDS, scenario)

    assert [item["content"] for item in items] == ["m0", "m1", "m2", "m3"]
    assert entries is not None and [entry["uuid"] for entry in entries] == ["u0", "u1", "u2", "u3"]
    assert "per-call" in listed


def test_eight_threads_each_with_its_own_loop(s3_endpoint):
    manager = S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint)
    start = threading.Barrier(THREADS, timeout=CALL_SECONDS)
    errors: list[BaseException] = []

    async def work(n: int) -> None:
        own = OpenAIAgentsSession(f"thread-{n}", manager)
        shared = OpenAIAgentsSession("shared", manager)  # all threads append to one session: lost races retry
        for turn in range(3):
            await own.add_items([{"role": "user", "content": f"t{n}-{turn}"}])
            await shared.add_items([{"role": "user", "content": f"t{n}-{turn}"}])
        await ClaudeSessionStore(manager).append({"project_key": "p", "session_id": f"s{n}"}, [{"uuid": f"u{n}"}])

    def thread(n: int) -> None:
        try:
            start.wait()
            asyncio.run(asyncio.wait_for(work(n), SCENARIO_SECONDS / 2))
        except BaseException as exc:
            errors.append(exc)

    def scenario() -> tuple[dict[str, list[Any]], list[Any]]:
        threads = [threading.Thread(target=thread, args=(n,), daemon=True) for n in range(THREADS)]
        for worker in threads:
            worker.start()
        for worker in threads:
            worker.join()

        async def read() -> tuple[dict[str, list[Any]], list[Any]]:
            names = [f"thread-{n}" for n in range(THREADS)] + ["shared"]
            sessions = {name: await OpenAIAgentsSession(name, manager).get_items() for name in names}
            listed = await ClaudeSessionStore(manager).list_sessions("p")
            await manager.close()
            return sessions, listed

        return _run(read())

    sessions, listed = _bounded(SCENARIO_SECONDS, scenario)

    assert errors == []
    for n in range(THREADS):
        assert [item["content"] for item in sessions[f"thread-{n}"]] == [f"t{n}-{turn}" for turn in range(3)]
    shared = [item["content"] for item in sessions["shared"]]
    assert sorted(shared) == sorted(f"t{n}-{turn}" for n in range(THREADS) for turn in range(3))
    assert sorted(entry["session_id"] for entry in listed) == [f"s{n}" for n in range(THREADS)]
