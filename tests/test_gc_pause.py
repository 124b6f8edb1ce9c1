"""The collector pause around decoding and copying histories (`s3sessions.gc_pause`).

What it must never do: leave the collector off, turn on a collector the program turned off, or let a value
differ. What it is for: no collection runs while a long history is decoded, copied or checked (counted with
``gc.callbacks``, so the test does not depend on timing).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from s3sessions import CorruptObject, InvalidInput
from s3sessions.formats.json_values import copy_containers, decode_json, encode_messages
from s3sessions.gc_pause import collection_paused


def _history(count: int) -> list[Any]:
    return [
        {"role": "user", "content": [{"text": f"question {index}"}, {"toolResult": {"content": [{"json": [index]}]}}]}
        for index in range(count)
    ]


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Counts the collections that start while the test runs, with the collector on and eager."""
    started: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    was_enabled = gc.isenabled()
    threshold = gc.get_threshold()
    gc.enable()
    gc.set_threshold(100, 10, 10)
    gc.callbacks.append(record)
    try:
        yield started
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*threshold)
        if not was_enabled:
            gc.disable()


def test_no_collection_runs_while_a_history_is_decoded_copied_or_checked(collections: list[int]) -> None:
    # Counted with len() at once: the first container allocated after a pause sets off the collection it
    # deferred (so a list literal in an assertion would count one); `_settle` lets it run between the steps.
    history = _history(3000)
    _settle(collections)
    body = encode_messages(history)
    during_checks = len(collections)  # 3,000 messages checked: about 15,000 tuples
    document = b"[" + b",".join(body) + b"]"
    _settle(collections)
    decoded = decode_json(document, key="k")
    during_decode = len(collections)
    _settle(collections)
    copied = copy_containers(decoded, key="k")
    during_copy = len(collections)
    assert (during_checks, during_decode, during_copy) == (0, 0, 0)
    assert copied == history and copied[0] is not decoded[0]
    assert gc.isenabled()
    _settle(collections)
    [{} for _ in range(1000)]  # the collector is back: allocations trigger it
    assert collections


def _settle(collections: list[int]) -> None:
    [[] for _ in range(200)]
    collections.clear()


def test_without_the_pause_the_same_copy_is_interrupted_by_collections(collections: list[int]) -> None:
    """The counter above can fail: the copy's own walk, unpaused, sets off collections."""
    from s3sessions.formats import json_values

    decoded = decode_json(b"[" + b",".join(encode_messages(_history(3000))) + b"]", key="k")
    collections.clear()
    json_values._copy_containers(decoded, key="k", session_id=None)
    assert collections


def test_a_program_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    try:
        copy_containers(_history(10), key="k")
        decode_json(b"[1]", key="k")
        with collection_paused:
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nested_pauses_end_with_the_outermost() -> None:
    assert gc.isenabled()
    with collection_paused:
        with collection_paused:
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failed_decode_or_check_turns_the_collector_back_on() -> None:
    with pytest.raises(CorruptObject):
        decode_json(b"[1,", key="k")
    assert gc.isenabled()
    with pytest.raises(CorruptObject):
        copy_containers([{"n": float("inf")}], key="k")
    assert gc.isenabled()
    with pytest.raises(InvalidInput):
        encode_messages([{"ok": 1}, {"bad": {1, 2}}])
    assert gc.isenabled()


def test_threads_pausing_at_once_leave_the_collector_on() -> None:
    body = b"[" + b",".join(encode_messages(_history(200))) + b"]"
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(50):
                assert copy_containers(decode_json(body, key="k"), key="k")[199]["content"][0]["text"] == "question 199"
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert not any(thread.is_alive() for thread in threads)
    assert gc.isenabled()
