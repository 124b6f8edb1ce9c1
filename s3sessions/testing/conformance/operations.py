"""The conformance tests of the eight operations: save, resume, list, fork, rewind, tag, rename, delete."""

from __future__ import annotations

from typing import Any

import pytest

from s3sessions import ConflictError, InvalidInput, Session, SessionMetadata, SessionNotFound

from .support import SettableClock, saved_session, turn

pytestmark = pytest.mark.asyncio


async def test_save_then_resume_roundtrips_everything(manager: Any) -> None:
    session = Session(
        metadata=SessionMetadata(agent_name="coder", name="Refactor ✓", tags=["a"], total_tokens=42),
        messages=[{"role": "system", "content": "be brief"}, *turn(0), *turn(1, tool=True)],
        state={"cursor": [1, 2], "nested": {"ok": True, "none": None}},
    )
    returned = await manager.save(session)
    assert session.metadata.version is not None and returned.version == session.metadata.version
    assert session.metadata.turn_count == 2
    loaded = await manager.resume(session.id)
    assert loaded.messages == session.messages
    assert loaded.state == session.state
    assert loaded.metadata == session.metadata


async def test_an_agent_loop_saves_one_object_repeatedly(manager: Any, clock: SettableClock) -> None:
    session = Session()
    stamps = []
    for index in range(12):
        session.messages.extend(turn(index, tool=index % 3 == 0))
        await manager.save(session)
        stamps.append(session.metadata.updated_at)
    assert session.metadata.turn_count == 12
    assert stamps == sorted(set(stamps))  # strictly increasing even within one clock second
    assert (await manager.resume(session.id)).messages == session.messages


async def test_turn_count_is_derived_never_trusted(manager: Any) -> None:
    session = Session(messages=turn(0), metadata=SessionMetadata(turn_count=99))
    await manager.save(session)
    assert session.metadata.turn_count == 1
    assert (await manager.resume(session.id)).metadata.turn_count == 1


async def test_editing_an_old_message_is_saved(manager: Any) -> None:
    session = await saved_session(manager, turns=6)
    session.messages[1] = {"role": "assistant", "content": "corrected"}
    await manager.save(session)
    assert (await manager.resume(session.id)).messages[1] == {"role": "assistant", "content": "corrected"}


async def test_replacing_history_with_a_shorter_one_is_saved(manager: Any) -> None:
    session = await saved_session(manager, turns=6)
    session.messages[:] = session.messages[:3]
    await manager.save(session)
    assert (await manager.resume(session.id)).messages == session.messages


async def test_list_is_newest_first_with_ties_by_id(manager: Any, clock: SettableClock) -> None:
    first = await saved_session(manager, turns=1)
    second = await saved_session(manager, turns=1)
    clock.now += 100
    await manager.rename(first.id, "touched")
    listed = await manager.list()
    assert [m.id for m in listed] == [first.id, second.id]
    assert listed[0].name == "touched" and listed[0].turn_count == 1
    tied_a = Session(metadata=SessionMetadata(id="tie-a"))
    tied_b = Session(metadata=SessionMetadata(id="tie-b"))
    clock.now += 100
    await manager.save(tied_b)
    await manager.save(tied_a)
    assert [m.id for m in (await manager.list())[:2]] == ["tie-a", "tie-b"]


async def test_list_of_an_empty_store(manager: Any) -> None:
    assert await manager.list() == []


async def test_fork_copies_and_then_diverges(manager: Any) -> None:
    source = await saved_session(manager, turns=5, name="main line", tags=["x"])
    fork = await manager.fork(source.id)
    assert fork.id != source.id
    assert fork.name == "main line (fork)" and fork.tags == ["x"]
    assert fork.parent_id == source.id and fork.forked_at_turn == 5
    forked = await manager.resume(fork.id)
    assert forked.messages == source.messages and forked.state == source.state
    forked.messages.extend(turn(10))
    await manager.save(forked)
    source.messages.extend(turn(20))
    await manager.save(source)
    assert (await manager.resume(source.id)).messages[-1] == source.messages[-1]
    assert (await manager.resume(fork.id)).messages[-1] == forked.messages[-1]
    assert (await manager.resume(fork.id)).metadata.turn_count == 6
    named = await manager.fork(source.id, "try B")
    assert named.name == "try B"
    unnamed = await manager.fork((await saved_session(manager, turns=1)).id)
    assert unnamed.name is None
    assert {m.id for m in await manager.list()} >= {source.id, fork.id, named.id, unnamed.id}


async def test_fork_of_a_fork_and_delete_of_the_parent(manager: Any) -> None:
    source = await saved_session(manager, turns=4)
    child = await manager.fork(source.id)
    grandchild = await manager.fork(child.id, "gc")
    await manager.delete(source.id)
    await manager.delete(child.id)
    assert (await manager.resume(grandchild.id)).messages == source.messages


async def test_rewind_keeps_turns_up_to_the_index(manager: Any) -> None:
    session = await saved_session(manager, turns=6)
    messages: list[Any] = session.messages
    starts = [i for i, m in enumerate(messages) if m["role"] == "user" and isinstance(m["content"], str)]
    rewound = await manager.rewind(session.id, 2)
    assert rewound.messages == session.messages[: starts[3]]
    assert rewound.metadata.turn_count == 3
    assert rewound.state == session.state
    assert (await manager.resume(session.id)).messages == rewound.messages
    # The returned session is the current version: an agent can continue from it.
    rewound.messages.extend(turn(99))
    await manager.save(rewound)
    assert (await manager.resume(session.id)).metadata.turn_count == 4
    last = await manager.rewind(session.id, 3)
    assert last.messages == rewound.messages  # rewinding to the last turn keeps everything
    zero = await manager.rewind(session.id, 0)
    assert zero.messages == session.messages[: starts[1]]


async def test_rewind_then_continue_many_times(manager: Any) -> None:
    session = await saved_session(manager, turns=8)
    for k in (6, 3, 4, 1, 0):
        rewound = await manager.rewind(session.id, k)
        assert rewound.metadata.turn_count == k + 1
        rewound.messages.extend(turn(50 + k, tool=True))
        await manager.save(rewound)
        assert (await manager.resume(session.id)).messages == rewound.messages


@pytest.mark.parametrize("bad", [-1, 3, 100, True, 1.0, "1", None])
async def test_rewind_out_of_range_is_invalid_input_and_changes_nothing(manager: Any, bad: Any) -> None:
    session = await saved_session(manager, turns=3)
    with pytest.raises(InvalidInput, match="turn index"):
        await manager.rewind(session.id, bad)
    loaded = await manager.resume(session.id)
    assert loaded.messages == session.messages and loaded.metadata.version == session.metadata.version


async def test_rewind_of_a_session_without_turns(manager: Any) -> None:
    session = Session(messages=[{"role": "system", "content": "s"}])
    await manager.save(session)
    with pytest.raises(InvalidInput, match="no turns yet"):
        await manager.rewind(session.id, 0)


async def test_tag_adds_as_a_set_union_in_order(manager: Any) -> None:
    session = await saved_session(manager, turns=1, tags=["a"])
    assert (await manager.tag(session.id, ["b", "a", "c"])).tags == ["a", "b", "c"]
    assert (await manager.tag(session.id, ["c"])).tags == ["a", "b", "c"]
    assert (await manager.resume(session.id)).metadata.tags == ["a", "b", "c"]
    with pytest.raises(InvalidInput, match="too many tags"):
        await manager.tag(session.id, [f"t{i}" for i in range(62)])
    with pytest.raises(InvalidInput, match="invalid tag"):
        await manager.tag(session.id, ["ok", "bad\n"])
    with pytest.raises(InvalidInput, match="list of strings"):
        await manager.tag(session.id, "prod")
    assert (await manager.resume(session.id)).metadata.tags == ["a", "b", "c"]


async def test_rename(manager: Any) -> None:
    session = await saved_session(manager, turns=1)
    renamed = await manager.rename(session.id, "new name ✓")
    assert renamed.name == "new name ✓" and renamed.updated_at > session.metadata.updated_at
    assert (await manager.resume(session.id)).metadata.name == "new name ✓"
    for bad in ["", "x" * 257, "line\nbreak"]:
        with pytest.raises(InvalidInput, match="invalid session name"):
            await manager.rename(session.id, bad)


async def test_metadata_edits_change_updated_at_and_version(manager: Any) -> None:
    session = await saved_session(manager, turns=1)
    tagged = await manager.tag(session.id, ["x"])
    renamed = await manager.rename(session.id, "n")
    assert session.metadata.updated_at < tagged.updated_at < renamed.updated_at
    assert len({session.metadata.version, tagged.version, renamed.version}) == 3


async def test_a_stale_copy_conflicts_and_changes_nothing(manager: Any) -> None:
    session = await saved_session(manager, turns=2)
    stale = await manager.resume(session.id)
    session.messages.extend(turn(5))
    await manager.save(session)
    stale.messages.extend(turn(6))
    with pytest.raises(ConflictError):
        await manager.save(stale)
    assert (await manager.resume(session.id)).messages == session.messages


async def test_a_stale_copy_merges_over_metadata_only_changes(manager: Any) -> None:
    session = await saved_session(manager, turns=2)
    await manager.tag(session.id, ["reviewed"])
    await manager.rename(session.id, "renamed meanwhile")
    session.messages.extend(turn(3))
    await manager.save(session)
    loaded = await manager.resume(session.id)
    assert loaded.messages == session.messages
    assert loaded.metadata.tags == ["reviewed"] and loaded.metadata.name == "renamed meanwhile"
    assert session.metadata.tags == ["reviewed"]  # the caller's copy is refreshed in place


async def test_a_stale_copy_conflicts_after_a_rewind(manager: Any) -> None:
    session = await saved_session(manager, turns=4)
    await manager.rewind(session.id, 1)
    session.messages.extend(turn(9))
    with pytest.raises(ConflictError):
        await manager.save(session)


async def test_creating_an_existing_id_conflicts(manager: Any) -> None:
    await manager.save(Session(metadata=SessionMetadata(id="fixed")))
    with pytest.raises(ConflictError):
        await manager.save(Session(metadata=SessionMetadata(id="fixed"), messages=turn(0)))
    assert (await manager.resume("fixed")).messages == []


async def test_delete_removes_the_session_everywhere(manager: Any) -> None:
    session = await saved_session(manager, turns=5)
    keep = await saved_session(manager, turns=1)
    await manager.delete(session.id)
    with pytest.raises(SessionNotFound):
        await manager.resume(session.id)
    assert [m.id for m in await manager.list()] == [keep.id]
    with pytest.raises(SessionNotFound):
        await manager.delete(session.id)
    # The id can be used again for a brand new session.
    again = Session(metadata=SessionMetadata(id=session.id), messages=turn(1))
    await manager.save(again)
    assert (await manager.resume(session.id)).messages == turn(1)
    assert session.id in {m.id for m in await manager.list()}


async def test_saving_a_deleted_session_is_not_found(manager: Any) -> None:
    session = await saved_session(manager, turns=1)
    await manager.delete(session.id)
    session.messages.extend(turn(2))
    with pytest.raises(SessionNotFound):
        await manager.save(session)


@pytest.mark.parametrize("operation", ["resume", "delete", "fork", "rewind", "tag", "rename"])
async def test_unknown_ids_are_not_found(manager: Any, operation: Any) -> None:
    arguments = {"rewind": (0,), "tag": (["x"],), "rename": ("n",)}.get(operation, ())
    with pytest.raises(SessionNotFound) as raised:
        await getattr(manager, operation)("no-such-session", *arguments)
    assert "no-such-session" in str(raised.value)


@pytest.mark.parametrize("bad_id", ["", "..", "a/b", "../../etc", "x" * 201, "tab\there"])
@pytest.mark.parametrize("operation", ["resume", "delete", "fork", "rewind", "tag", "rename"])
async def test_invalid_ids_are_invalid_input(manager: Any, operation: Any, bad_id: Any) -> None:
    arguments = {"rewind": (0,), "tag": (["x"],), "rename": ("n",)}.get(operation, ())
    with pytest.raises(InvalidInput) as raised:
        await getattr(manager, operation)(bad_id, *arguments)
    assert repr(bad_id) in str(raised.value)


@pytest.mark.parametrize(
    "bad_message",
    [b"raw bytes", float("nan"), {"when": object()}, {"a": float("inf")}],
)
async def test_non_json_messages_are_invalid_input_and_store_nothing(manager: Any, bad_message: Any) -> None:
    session = await saved_session(manager, turns=1)
    before = await manager.resume(session.id)
    session.messages.append(bad_message)
    with pytest.raises(InvalidInput, match="not JSON"):
        await manager.save(session)
    after = await manager.resume(session.id)
    assert after.messages == before.messages and after.metadata.version == before.metadata.version
    fresh = Session()
    fresh.state = {"x": {1, 2}}  # type: ignore[dict-item]
    with pytest.raises(InvalidInput):
        await manager.save(fresh)
    with pytest.raises(SessionNotFound):
        await manager.resume(fresh.id)


async def test_invalid_values_are_named_by_position_and_session(manager: Any) -> None:
    session = Session(metadata=SessionMetadata(id="named"), messages=[*turn(0), {"role": "user", "x": float("nan")}])
    with pytest.raises(InvalidInput, match=r"messages\[2\]: value is not JSON") as raised:
        await manager.save(session)
    assert "'named'" in str(raised.value)
    session.messages.pop()
    session.state = {"ok": [1, {"bad": b"bytes"}]}  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match=r"^state: value is not JSON.*bytes") as raised:
        await manager.save(session)
    assert "'named'" in str(raised.value)


async def test_created_at_is_kept_from_the_caller_on_create(manager: Any) -> None:
    session = Session(metadata=SessionMetadata(created_at=1_600_000_000), messages=turn(0))
    await manager.save(session)
    assert session.metadata.created_at == 1_600_000_000
    session.metadata.created_at = 1  # later saves keep the stored value
    session.messages.extend(turn(1))
    await manager.save(session)
    assert (await manager.resume(session.id)).metadata.created_at == 1_600_000_000


async def test_save_refuses_what_is_not_a_session(manager: Any) -> None:
    with pytest.raises(InvalidInput, match="takes a Session"):
        await manager.save({"metadata": {}})


async def test_fork_name_validation_and_long_names(manager: Any) -> None:
    session = await saved_session(manager, turns=1, name="n" * 256)
    fork = await manager.fork(session.id)
    assert fork.name is not None and len(fork.name) == 256 and fork.name.endswith(" (fork)")
    with pytest.raises(InvalidInput):
        await manager.fork(session.id, "")


async def test_large_state_and_unicode_roundtrip(manager: Any) -> None:
    session = Session(state={"blob": "ü" * 50_000, "list": list(range(1000))}, messages=turn(0))
    await manager.save(session)
    assert (await manager.resume(session.id)).state == session.state
