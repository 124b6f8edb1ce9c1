"""Metadata storms never make a save give up (finding 7: "back off between attempts").

Six other clients keep tagging and renaming the session an agent saves. Time is virtual: the storm advances only
while the saver backs off (``asyncio.sleep`` is replaced by a clock that lets the six commit at 200 edits per
second of sleep), and every save's first attempt loses to one edit. A back-off that sits between re-reading the
head and writing it lets the storm invalidate the very head it just read; one that waits before re-reading wins
at the next attempt. Seeded: the same storm every run, no timing.

Counts: 20 saves against 6 editors (about 630 tag/rename commits, one lost conditional write forced per save);
20 saves after one edit each; 2 saves after 17 edits each (more than a head remembers).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from s3sessions import ConflictError, S3SessionManager, retry
from s3sessions.testing import InMemoryObjectStore

from .conftest import TALLY, memory_manager, saved, turn

X = "x"
EDITS_PER_SECOND = 200.0
SAVES = 20


class FirstPutLoses:
    """Delegates to a store; before the first head PUT of each save, one editor commits (so that attempt loses)."""

    def __init__(self, inner: Any, edit: Any) -> None:
        self.inner = inner
        self.edit = edit
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        if self.armed and key.endswith("/head.json.zst"):
            self.armed = False
            await self.edit(1)
        return str(await self.inner.put(key, body, **kwargs))


async def test_a_storm_of_tags_and_renames_never_makes_a_save_give_up(monkeypatch):
    store = InMemoryObjectStore()
    editors = [memory_manager(store) for _ in range(6)]
    rng = random.Random(7)
    storming = False
    real_sleep = asyncio.sleep

    async def storm(count: int) -> None:
        nonlocal storming
        storming = True
        try:
            for _ in range(count):
                editor = rng.choice(editors)
                TALLY["operations"] += 1
                if rng.random() < 0.5:
                    await editor.tag(X, [f"tag{rng.randrange(40)}"])
                else:
                    await editor.rename(X, f"name {rng.randrange(1000)}")
        finally:
            storming = False

    async def virtual_sleep(delay: float, result: Any = None) -> Any:
        if not storming and delay > 0:
            await storm(int(delay * EDITS_PER_SECOND))
        return await real_sleep(0, result)

    gate = FirstPutLoses(store, storm)
    saver = S3SessionManager(store=gate, prefix="adv/")
    session = await saved(memory_manager(store), X, 2)
    session = await saver.resume(X)
    monkeypatch.setattr(retry, "_random", random.Random(11), raising=False)
    monkeypatch.setattr(asyncio, "sleep", virtual_sleep)
    gave_up = 0
    for index in range(SAVES):
        session.messages.extend(turn(f"s{index}"))
        gate.armed = True
        TALLY["operations"] += 1
        try:
            await saver.save(session)
        except ConflictError:
            gave_up += 1
            session = await saver.resume(X)
    monkeypatch.undo()
    assert gave_up == 0, f"{gave_up} of {SAVES} saves gave up under the storm"


async def test_metadata_edits_alone_always_merge_into_a_save():
    """The control: with one edit before each save and no further storm, every save merges and succeeds."""
    store = InMemoryObjectStore()
    editor = memory_manager(store)
    session = await saved(memory_manager(store), X, 2)
    saver = memory_manager(store)
    session = await saver.resume(X)
    for index in range(SAVES):
        await editor.tag(X, [f"t{index % 30}"])
        await editor.rename(X, f"n{index}")
        session.messages.extend(turn(f"c{index}"))
        await saver.save(session)
        TALLY["operations"] += 3
    back = await memory_manager(store).resume(X)
    assert back.metadata.name == f"n{SAVES - 1}" and len(back.messages) == 2 * (2 + SAVES)
    assert set(back.metadata.tags) == {f"t{index % 30}" for index in range(SAVES)}


@pytest.mark.parametrize("cached", [True, False], ids=["saver-holds-the-head", "saver-reads-the-head"])
async def test_more_metadata_edits_than_the_commit_window_still_merge(cached):
    store = InMemoryObjectStore()
    saver, editor = memory_manager(store), memory_manager(store)
    session = await saved(saver, X, 2)
    if not cached:
        saver = memory_manager(store)
    for index in range(17):
        await (editor.tag(X, [f"t{index}"]) if index % 2 else editor.rename(X, f"n{index}"))
    session.messages.extend(turn("after"))
    TALLY["operations"] += 18
    await saver.save(session)
    back = await memory_manager(store).resume(X)
    assert back.messages == session.messages and back.metadata.name == "n16"
