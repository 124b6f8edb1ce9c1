"""The conformance tests of session summaries: the caller's small JSON object that the index carries."""

from __future__ import annotations

from typing import Any

import pytest

from s3sessions import InvalidInput, Session, SessionMetadata, SessionNotFound

from .support import SettableClock, saved_session, turn

pytestmark = pytest.mark.asyncio

SUMMARY_SHORT = {"title": "fix the parser", "first_prompt": "why does it fail?"}
SUMMARY_MEDIUM = {"title": "medium", "first_prompt": "ünïcode and spaces " * 30}
"""Too long for an index key (about 600 bytes of JSON, more percent-encoded), well under the limit."""
SUMMARY_LARGE = {"title": "large", "last_prompt": "x" * 8000}
"""Just under the 8,192-byte limit."""


async def _listed(manager: Any, **options: Any) -> dict[str, Any]:
    return {metadata.id: metadata.summary for metadata in await manager.list(**options)}


async def test_a_summary_is_resumed_and_listed_only_when_asked_for(manager: Any, clock: SettableClock) -> None:
    made = {}
    for summary in (SUMMARY_SHORT, SUMMARY_MEDIUM, SUMMARY_LARGE, None):
        clock.now += 1
        session = await saved_session(manager, turns=1, summary=summary)
        made[session.id] = summary
        assert (await manager.resume(session.id)).metadata.summary == summary
    assert await _listed(manager, summaries=True) == made
    assert await _listed(manager) == dict.fromkeys(made)
    page = await manager.list_page(2, summaries=True)
    rest = await manager.list_page(10, page.next_cursor, summaries=True)
    assert {m.id: m.summary for m in page.sessions + rest.sessions} == made
    assert all(m.summary is None for m in (await manager.list_page(10)).sessions)


async def test_a_summary_is_listed_beside_a_listing_too_long_for_its_key(manager: Any) -> None:
    tags = [f"tag-{index:02d}-" + "t" * 50 for index in range(20)]
    session = await saved_session(manager, turns=1, name="n" * 256, tags=tags, summary=SUMMARY_MEDIUM)
    listed = (await manager.list(summaries=True))[0]
    assert (listed.name, listed.tags, listed.summary) == ("n" * 256, tags, SUMMARY_MEDIUM)
    session.metadata.summary = None
    await manager.save(session)
    listed = (await manager.list(summaries=True))[0]
    assert (listed.name, listed.tags, listed.summary) == ("n" * 256, tags, None)


async def test_every_operation_keeps_the_summary_and_a_save_replaces_it(manager: Any, clock: SettableClock) -> None:
    session = await saved_session(manager, turns=3, summary=SUMMARY_SHORT)
    clock.now += 1
    fork = await manager.fork(session.id, "copy")
    assert fork.summary == SUMMARY_SHORT
    await manager.tag(session.id, ["kept"])
    await manager.rename(session.id, "renamed")
    rewound = await manager.rewind(session.id, 1)
    assert rewound.metadata.summary == SUMMARY_SHORT
    assert (await manager.resume(session.id, last_turns=1)).metadata.summary == SUMMARY_SHORT
    rewound.metadata.summary = {"title": "after the rewind"}
    rewound.messages.extend(turn(9))
    await manager.save(rewound)
    assert await _listed(manager, summaries=True) == {session.id: {"title": "after the rewind"}, fork.id: SUMMARY_SHORT}


async def test_a_resumed_summary_is_the_callers_own_copy(manager: Any) -> None:
    session = await saved_session(manager, turns=1, summary={"nested": {"count": 1}})
    resumed = await manager.resume(session.id)
    assert resumed.metadata.summary is not None
    resumed.metadata.summary["nested"]["count"] = 2  # changed in place, not saved
    assert (await manager.resume(session.id)).metadata.summary == {"nested": {"count": 1}}
    listed = (await manager.list(summaries=True))[0].summary
    assert listed == {"nested": {"count": 1}}


async def test_a_saved_summary_and_the_returned_metadata_are_separate_copies(manager: Any) -> None:
    session = Session(metadata=SessionMetadata(agent_name="coder", summary={"n": [1]}), messages=turn(0))
    returned = await manager.save(session)
    assert session.metadata.summary == returned.summary == {"n": [1]}
    numbers = session.metadata.summary["n"] if session.metadata.summary else None
    assert isinstance(numbers, list)
    numbers.append(2)
    assert returned.summary == {"n": [1]}
    assert (await manager.resume(session.id)).metadata.summary == {"n": [1]}


async def test_a_summary_holding_a_tuple_reads_back_as_a_list_everywhere(manager: Any) -> None:
    tupled: dict[str, Any] = {"files": ("a.py", "b.py")}  # not a JsonValue to mypy: what a caller may pass
    metadata = SessionMetadata(agent_name="coder", summary=tupled)
    assert metadata.summary == {"files": ["a.py", "b.py"]}  # as JSON reads it back, not a pydantic error
    session = Session(metadata=metadata, messages=turn(0))
    assert session.metadata.summary is not None
    summary: dict[str, Any] = session.metadata.summary
    summary["files"] = ("c.py",)  # in place: only the save sees it
    returned = await manager.save(session)
    assert returned.summary == {"files": ["c.py"]}
    assert (await manager.resume(session.id)).metadata.summary == {"files": ["c.py"]}
    assert (await manager.list(summaries=True))[0].summary == {"files": ["c.py"]}


async def test_a_bad_summary_is_refused_and_nothing_is_written(manager: Any) -> None:
    with pytest.raises(InvalidInput, match="summary"):
        SessionMetadata(summary={"big": "x" * 9000})
    with pytest.raises(InvalidInput, match="summary"):
        SessionMetadata(summary=["not", "an", "object"])  # type: ignore[arg-type]
    session = Session(metadata=SessionMetadata(agent_name="coder", summary={"grows": ""}), messages=turn(0))
    assert session.metadata.summary is not None
    session.metadata.summary["grows"] = "x" * 9000  # in place: only the save can see it
    with pytest.raises(InvalidInput, match="8192"):
        await manager.save(session)
    with pytest.raises(SessionNotFound):
        await manager.resume(session.id)
    assert await manager.list() == []
    with pytest.raises(InvalidInput, match="summaries"):
        await manager.list(summaries="yes")
    with pytest.raises(InvalidInput, match="summaries"):
        await manager.list_page(5, summaries=1)
