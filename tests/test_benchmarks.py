"""The DESIGN.md speed and cost targets, asserted from counted requests and bytes (benchmarks/, quick mode).

Runs s3sessions' part of the benchmark only (no Strands, no plot) against its own moto server with 80 ms of
added latency per request, then checks every target in `benchmarks.targets` and a few direct figures.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.run import run

LENGTHS = (10, 100, 1000)
LATENCY_MS = 80
"""Well above the client CPU it takes to issue a whole wave (about 1 ms per request, more on a busy 2-core
machine), so that one parallel wave (list's 32 shard GETs) is never split into two by issue jitter: round trips
are measured as chains of requests, each starting after the previous one's response."""


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
    row = _row(results, length, "resume")
    assert row["round_trips"] <= (1 if length == 10 else 2)
    assert _row(results, length, "resume_cold")["round_trips"] <= 2


@pytest.mark.parametrize("length", LENGTHS)
def test_save_one_turn_uploads_about_the_turn(results: dict[str, Any], length: int) -> None:
    row = _row(results, length, "save_turn")
    assert row["bytes_sent"] <= results["turn_bytes"] + 64 * 1024
    assert row["round_trips"] <= 3


@pytest.mark.parametrize("length", LENGTHS)
def test_fork_and_rewind_move_no_segment_bytes(results: dict[str, Any], length: int) -> None:
    for operation in ("fork", "rewind"):
        row = _row(results, length, operation)
        assert row["segment_bytes_sent"] == 0
        assert row["bytes_sent"] <= 64 * 1024 + 16 * 1024


@pytest.mark.parametrize("length", LENGTHS)
def test_list_is_one_round_trip_when_warm(results: dict[str, Any], length: int) -> None:
    assert _row(results, length, "list")["round_trips"] == 1
