"""The DESIGN.md speed and cost targets, asserted from counted requests and bytes (benchmarks/, quick mode).

Runs s3sessions' part of the benchmark only (no Strands, no plot) against its own moto server with 80 ms of
added latency per request, then checks every target in `benchmarks.targets` and a few direct figures.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.run import run

LENGTHS = (10, 100, 1000)
LATENCY_MS = 50
"""Well above the client CPU it takes to issue a whole wave (about 1 ms per request, more on a busy 2-core
machine), so that one parallel wave (a save's entry PUT beside its DeleteObjects, a page's LIST per fan-out
bucket, resume's segment GETs) is never split into two by issue jitter: round trips are measured as chains of
requests, each starting after the previous one's response."""


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    import asyncio

    return asyncio.run(run(stores=["s3sessions"], lengths=LENGTHS, latency_ms=LATENCY_MS, out=None, quiet=True))


def _row(results: dict[str, Any], length: int, operation: str) -> dict[str, Any]:
    for row in results["rows"]:
        if row["length"] == length and row["operation"] == operation:
            assert row["status"] == "ok", row
            return row
    raise AssertionError(f"no {operation} row at {length}")


def test_every_operation_ran_and_hooks_agree_with_the_wire(results: dict[str, Any]) -> None:
    for row in results["rows"]:
        assert row["status"] == "ok", row
        assert row["request_count"] == row["proxy_requests"], row


def test_design_targets_are_met(results: dict[str, Any]) -> None:
    missed = [target for target in results["targets"] if not target["met"]]
    assert results["targets"]
    assert not missed, missed


@pytest.mark.parametrize("length", LENGTHS)
def test_resume_round_trips(results: dict[str, Any], length: int) -> None:
    for operation in ("resume", "resume_cold"):
        row = _row(results, length, operation)
        if length == 10:  # fits the inline tail: the head alone
            assert row["requests"] == {"GetObject": 1}
        assert row["round_trips"] <= 2
        assert set(row["requests"]) == {"GetObject"}


@pytest.mark.parametrize("length", LENGTHS)
def test_save_one_turn_uploads_about_the_turn(results: dict[str, Any], length: int) -> None:
    warm = _row(results, length, "save_turn")
    assert warm["bytes_sent"] <= results["turn_bytes"] + 64 * 1024
    # PUT head, then PUT of the new index entry beside the DeleteObjects of the one it replaces.
    assert warm["requests"] == {"PutObject": 2, "DeleteObjects": 1}
    assert warm["round_trips"] == 2
    from_json = _row(results, length, "save_turn_json")  # a warm manager that never read the session
    assert from_json["bytes_sent"] <= results["turn_bytes"] + 64 * 1024
    assert from_json["requests"] == {"GetObject": 1, "PutObject": 2, "DeleteObjects": 1}
    assert from_json["round_trips"] == 3


@pytest.mark.parametrize("length", LENGTHS)
def test_fork_and_rewind_move_no_segment_bytes(results: dict[str, Any], length: int) -> None:
    for operation in ("fork", "rewind"):
        row = _row(results, length, operation)
        assert row["segment_bytes_sent"] == 0
        assert row["bytes_sent"] <= 64 * 1024 + 16 * 1024


@pytest.mark.parametrize("length", LENGTHS)
def test_fork_rewind_tag_rename_round_trips(results: dict[str, Any], length: int) -> None:
    for operation, limit in (("fork", 5), ("rewind", 4), ("tag", 3), ("rename", 3)):
        assert _row(results, length, operation)["round_trips"] <= limit, operation


@pytest.mark.parametrize("length", LENGTHS)
def test_list_is_one_wave_of_lists_one_per_fanout_bucket(results: dict[str, Any], length: int) -> None:
    for operation in ("list", "list_page"):
        row = _row(results, length, operation)
        assert row["requests"] == {"ListObjectsV2": 4}  # the default fan-out
        assert row["round_trips"] == 1


class _Timed:
    """An object store that adds latency to every request and records when each one ran (for chain_depth)."""

    def __init__(self, store: Any, latency: float) -> None:
        self._store, self._latency = store, latency
        self.intervals: list[tuple[float, float]] = []

    def __getattr__(self, name: str) -> Any:
        import asyncio
        import time

        method = getattr(self._store, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            await asyncio.sleep(self._latency)
            result = await method(*args, **kwargs)
            self.intervals.append((started, time.monotonic()))
            return result

        return timed


async def test_a_page_of_1000_is_one_round_trip_when_a_bucket_holds_more() -> None:
    """1,200 sessions in one fan-out bucket: a page of 1,000 is one truncated LIST, the next page one more."""
    from benchmarks.measure import chain_depth
    from s3sessions import S3SessionManager, Session
    from s3sessions.testing import InMemoryObjectStore

    writer = S3SessionManager(store=InMemoryObjectStore(), prefix="p/", fanout=1)
    for number in range(1200):
        await writer.save(Session(messages=[{"role": "user", "content": f"question {number}"}]))
    timed = _Timed(writer.store, 0.005)
    reader = S3SessionManager(store=timed, prefix="p/")  # type: ignore[arg-type]
    await reader.list_page(1)  # reads the manifest (a warm manager)
    timed.intervals.clear()
    page = await reader.list_page(1000)
    assert len(page.sessions) == 1000
    assert chain_depth(timed.intervals) == 1
    timed.intervals.clear()
    rest = await reader.list_page(1000, page.next_cursor)
    assert len(rest.sessions) == 200 and rest.next_cursor is None
    assert chain_depth(timed.intervals) == 1
