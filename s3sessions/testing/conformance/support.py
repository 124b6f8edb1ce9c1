"""Fixtures and helpers of the conformance suite: the settable clock, a turn of messages, a saved session."""

from __future__ import annotations

from typing import Any

import pytest

from s3sessions import (
    Session,
    SessionMetadata,
)


class SettableClock:
    """A clock tests move by hand (Unix seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SettableClock:
    """The clock the ``manager`` fixture must give its manager."""
    return SettableClock()


def turn(index: int, *, tool: bool = False) -> list[Any]:
    """One turn: a user question, an optional tool call and result, an answer."""
    messages: list[Any] = [{"role": "user", "content": f"question {index}: " + "why? " * 10}]
    if tool:
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{index}", "name": "read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{index}", "content": "data"}]},
        ]
    messages.append({"role": "assistant", "content": f"answer {index}: " + "because. " * 10})
    return messages


async def saved_session(manager: Any, turns: int = 3, **metadata: Any) -> Session:
    """Creates a session and saves it once per turn."""
    session = Session(metadata=SessionMetadata(**{"agent_name": "coder", **metadata}))
    for index in range(turns):
        session.messages.extend(turn(index, tool=index % 2 == 1))
        await manager.save(session)
    return session
