"""The conformance tests of pages, filters, partial resume, update and times."""

from __future__ import annotations

from typing import Any

import pytest

from s3sessions import InvalidInput, Session, SessionMetadata

from ...waves import gather
from .support import SettableClock, saved_session, turn

pytestmark = pytest.mark.asyncio


async def _sessions_for_paging(manager: Any, clock: SettableClock) -> list[Session]:
    made = []
    for index in range(7):
        clock.now += 1
        made.append(
            await saved_session(
                manager, turns=1, tags=["even"] if index % 2 == 0 else ["odd"], agent_name=f"agent-{index % 3}"
            )
        )
    return made


async def test_pages_walk_every_session_newest_first_without_repeats(manager: Any, clock: SettableClock) -> None:
    made = await _sessions_for_paging(manager, clock)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await manager.list_page(3, cursor)
        assert len(page.sessions) <= 3
        seen += [metadata.id for metadata in page.sessions]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [session.id for session in reversed(made)]
    assert [metadata.id for metadata in await manager.list()] == seen


async def test_a_page_larger_than_the_store_has_no_next_cursor(manager: Any, clock: SettableClock) -> None:
    made = await _sessions_for_paging(manager, clock)
    page = await manager.list_page(100)
    assert [metadata.id for metadata in page.sessions] == [session.id for session in reversed(made)]
    assert page.next_cursor is None
    assert len((await manager.list_page(5)).sessions) == 5


async def test_pages_filter_by_tag_and_agent(manager: Any, clock: SettableClock) -> None:
    made = await _sessions_for_paging(manager, clock)
    even = [s.id for s in reversed(made) if "even" in s.metadata.tags]
    first = await manager.list_page(2, tag="even")
    rest = await manager.list_page(100, first.next_cursor, tag="even")
    assert [m.id for m in first.sessions] + [m.id for m in rest.sessions] == even
    assert [m.id for m in await manager.list(tag="even")] == even
    agent_one = [s.id for s in reversed(made) if s.metadata.agent_name == "agent-1"]
    assert [m.id for m in await manager.list(agent_name="agent-1")] == agent_one
    assert [m.id for m in (await manager.list_page(100, agent_name="agent-1", tag="odd")).sessions] == [
        s.id for s in reversed(made) if s.metadata.agent_name == "agent-1" and "odd" in s.metadata.tags
    ]
    assert (await manager.list_page(10, tag="nobody")).sessions == []


async def test_a_page_follows_an_update_to_the_front(manager: Any, clock: SettableClock) -> None:
    made = await _sessions_for_paging(manager, clock)
    clock.now += 10
    await manager.rename(made[0].id, "bumped")
    page = await manager.list_page(1)
    assert [m.id for m in page.sessions] == [made[0].id] and page.sessions[0].name == "bumped"
    assert made[0].id not in [m.id for m in (await manager.list())[1:]]


@pytest.mark.parametrize(
    ("limit", "cursor"), [(0, None), (1001, None), (True, None), (10, "garbage"), (10, "1~../../etc"), (10, 5)]
)
async def test_bad_page_requests_are_invalid_input(manager: Any, limit: Any, cursor: Any) -> None:
    with pytest.raises(InvalidInput):
        await manager.list_page(limit, cursor)


# ---------------------------------------------------------------------------------------- partial resume


async def test_resume_last_turns_returns_those_turns_and_says_what_it_left_out(manager: Any) -> None:
    session = await saved_session(manager, turns=8)
    full = await manager.resume(session.id)
    partial = await manager.resume(session.id, last_turns=3)
    assert partial.omitted_messages + len(partial.messages) == len(full.messages)
    assert partial.messages == full.messages[partial.omitted_messages :]
    assert partial.metadata.turn_count == 8 and partial.state == full.state
    assert partial.messages[0]["role"] == "user" and "question 5" in partial.messages[0]["content"]
    assert (await manager.resume(session.id, last_turns=8)).omitted_messages == 0
    assert (await manager.resume(session.id, last_turns=100)).messages == full.messages
    assert (await manager.resume(session.id, last_turns=0)).messages == []
    with pytest.raises(InvalidInput):
        await manager.resume(session.id, last_turns=-1)


async def test_a_partial_session_saves_without_dropping_what_it_left_out(manager: Any) -> None:
    session = await saved_session(manager, turns=8)
    partial = await manager.resume(session.id, last_turns=2)
    partial.messages.extend(turn(8))
    await manager.save(partial)
    assert (await manager.resume(session.id)).messages == session.messages + turn(8)
    again = await manager.resume(session.id, last_turns=2)
    again.messages[-1] = {"role": "assistant", "content": "edited answer"}
    await manager.save(again)
    loaded = await manager.resume(session.id)
    assert loaded.messages[:-1] == session.messages + turn(8)[:-1]
    assert loaded.messages[-1] == {"role": "assistant", "content": "edited answer"}


# ------------------------------------------------------------------------------------------------ update


async def test_update_creates_then_applies_and_retries_lost_races(manager: Any) -> None:
    def append(number: int) -> Any:
        return lambda session: session.messages.extend(turn(number))

    created = await manager.update("updated-session", append(0), agent_name="helper")
    assert created.metadata.agent_name == "helper" and created.metadata.turn_count == 1
    await gather(manager.update("updated-session", append(n)) for n in range(1, 9))
    loaded = await manager.resume("updated-session")
    assert loaded.metadata.turn_count == 9
    questions = sorted(message["content"] for message in loaded.messages if message["role"] == "user")
    assert questions == sorted(turn(n)[0]["content"] for n in range(9))


async def test_update_runs_coroutine_functions_and_refuses_bad_attempts(manager: Any) -> None:
    async def apply(session: Session) -> None:
        session.messages.extend(turn(0))

    assert (await manager.update("async-update", apply)).metadata.turn_count == 1
    with pytest.raises(InvalidInput):
        await manager.update("async-update", apply, attempts=0)


# ------------------------------------------------------------------------------------------------- times


async def test_times_have_milliseconds_and_never_run_ahead_of_the_clock(manager: Any, clock: SettableClock) -> None:
    session = Session(messages=turn(0))
    clock.now = 1_700_000_000.25
    await manager.save(session)
    assert session.metadata.updated_at == 1_700_000_000.25
    for _ in range(30):
        session.messages.extend(turn(1))
        await manager.save(session)
    assert session.metadata.updated_at == pytest.approx(1_700_000_000.28)  # 30 commits in one instant: +30 ms
    clock.now += 5
    await manager.rename(session.id, "later")
    assert (await manager.resume(session.id)).metadata.updated_at == pytest.approx(clock.now)


@pytest.mark.parametrize("bad", [-1, 10**11, float("nan"), "yesterday", True])
async def test_created_at_out_of_range_is_invalid_input(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="created_at"):
        SessionMetadata(created_at=bad)
