"""What a manager resumes from the snapshot it holds is what any reader of the bucket gets.

A save's snapshot is the messages as decoded from the lines it stored, never the caller's objects: values that
`check_value` accepts but JSON does not keep (tuples, dict subclasses, str enums) and values that compare ``==``
to the stored ones but are written differently (``True`` for ``1``, another key order) must not make the saving
manager's resume differ from another manager's, nor let the caller's later edits show through.
"""

from __future__ import annotations

import collections
import enum
from typing import Any

import pytest
from conftest import BUCKET

from s3sessions import S3SessionManager, Session

pytestmark = pytest.mark.asyncio


class Role(str, enum.Enum):
    USER = "user"


def _managers(endpoint: str, prefix: str, **sizes: Any) -> tuple[S3SessionManager, S3SessionManager]:
    return (
        S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint, **sizes),
        S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=endpoint, **sizes),
    )


async def test_values_json_does_not_keep_are_resumed_as_stored_and_never_shared(s3_endpoint):
    saver, reader = _managers(s3_endpoint, "held-plain/")
    async with saver, reader:
        session = Session()
        inner = {"type": "text", "text": "hello"}
        ordered = collections.OrderedDict(role="assistant", content="original")
        messages: list[Any] = session.messages
        messages.append({"role": Role.USER, "content": "q"})
        messages.append({"role": "assistant", "content": (inner,)})
        messages.append(ordered)
        await saver.save(session)
        inner["text"] = "edited after the save"
        ordered["content"] = "edited after the save"
        held = await saver.resume(session.id)
        fresh = await reader.resume(session.id)
        assert repr(held.messages) == repr(fresh.messages)
        assert fresh.messages[1] == {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}
        held_messages: Any = held.messages
        assert type(held_messages[0]["role"]) is str and type(held_messages[2]) is dict
        returned: Any = held.messages
        returned[2]["content"] = "edited in a resumed copy"
        assert repr((await saver.resume(session.id)).messages) == repr(fresh.messages)


@pytest.mark.parametrize(
    "stored, replaced",
    [
        ({"role": "assistant", "content": "a", "n": 1}, {"role": "assistant", "content": "a", "n": True}),
        ({"role": "assistant", "content": "a", "n": 1}, {"role": "assistant", "content": "a", "n": 1.0}),
        ({"role": "assistant", "content": "a", "n": 1}, {"n": 1, "content": "a", "role": "assistant"}),
    ],
    ids=["bool-for-int", "float-for-int", "key-order"],
)
@pytest.mark.parametrize("appended", [False, True], ids=["same-length", "one-more"])
async def test_a_tail_message_replaced_by_an_equal_one_is_resumed_as_stored(s3_endpoint, stored, replaced, appended):
    saver, reader = _managers(s3_endpoint, "held-equal/")
    async with saver, reader:
        session = Session(messages=[{"role": "user", "content": "q"}, dict(stored)])
        await saver.save(session)
        session.messages[1] = replaced
        if appended:
            session.messages.append({"role": "user", "content": "q2"})
        await saver.save(session)
        await reader.tag(session.id, ["x"])  # a new head version of the same content: the snapshot is kept
        held = await saver.resume(session.id)
        fresh = await reader.resume(session.id)
        assert repr(held.messages) == repr(fresh.messages)


async def test_turns_are_counted_on_what_is_stored_so_every_reader_cuts_them_alike(s3_endpoint):
    saver, reader = _managers(s3_endpoint, "held-turns/", tail_bytes=1024, segment_bytes=2048)
    async with saver, reader:
        session = Session()
        messages: list[Any] = session.messages
        for index in range(6):
            messages.append({"role": "user", "content": f"q{index} " + "x" * 300})
            messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{index}"}]})
            result = {"type": "tool_result", "tool_use_id": f"t{index}", "content": "r" * 300}
            messages.append({"role": "user", "content": (result,)})  # a tuple: a tool result, not a new turn
            messages.append({"role": "assistant", "content": "done " + "y" * 300})
        saved = await saver.save(session)
        assert saved.turn_count == 6
        for turns in (1, 3, 5):
            held = await saver.resume(session.id, last_turns=turns)
            fresh = await reader.resume(session.id, last_turns=turns)
            assert (held.omitted_messages, repr(held.messages)) == (fresh.omitted_messages, repr(fresh.messages))
            assert fresh.omitted_messages == 4 * (6 - turns)
