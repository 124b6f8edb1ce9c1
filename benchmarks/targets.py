"""The DESIGN.md targets, checked against the counted requests of the s3sessions rows (pure code).

Each check reports what was measured and whether the target is met; nothing here is tuned to pass. The targets
are DESIGN.md's "Targets" section for a warm manager (the prefix's manifest known):

- resume: 1 GET while the messages fit the 64 KiB inline tail, at most 2 round trips at any size;
- save one new turn: bytes uploaded <= the new turn's JSON + the 64 KiB tail; 2 round trips (head, then the index
  entry beside the delete of the one it replaces) when the ``Session`` came from this manager, plus exactly one
  GET (the head) when it came from JSON on a manager that never read it;
- fork <= 5 round trips, rewind <= 4, tag and rename <= 3; fork and rewind upload no segment bytes;
- a ``list`` page: 1 round trip (one parallel wave of LISTs, one per fan-out bucket); ``list()`` of a few
  sessions likewise.
"""

from __future__ import annotations

from typing import Any

TAIL_BYTES = 64 * 1024
ENVELOPE_BYTES = 16 * 1024
"""Allowance for a fork's or rewind's head fields (metadata, turn table, segment list, commit ids)."""


def _row(results: dict[str, Any], length: int, operation: str) -> dict[str, Any] | None:
    for row in results["rows"]:
        if row["store"] == "s3sessions" and row["length"] == length and row["operation"] == operation:
            return row
    return None


def _round_trips(row: dict[str, Any]) -> str:
    return f"{row['round_trips']} round trips, {row['request_count']} requests"


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns one entry per (target, length): ``{target, length, met, measured}``."""
    checks: list[dict[str, Any]] = []
    turn_bytes = int(results["turn_bytes"])

    def add(target: str, length: int, operation: str, test: Any, describe: Any = _round_trips) -> None:
        row = _row(results, length, operation)
        if row is None:
            return
        if row["status"] != "ok":
            checks.append({"target": target, "length": length, "met": False, "measured": row["status"]})
            return
        checks.append({"target": target, "length": length, "met": bool(test(row)), "measured": describe(row)})

    def gets(row: dict[str, Any]) -> int:
        return int(row["requests"].get("GetObject", 0))

    for length in results["config"]["lengths"]:
        # The session is resumed after two new turns (save_turn, save_turn_json).
        fits_tail = results["message_bytes"][str(length)] + 2 * turn_bytes <= TAIL_BYTES
        for operation in ("resume", "resume_cold"):
            if fits_tail:
                add(f"{operation}: 1 GET", length, operation, lambda row: row["request_count"] == gets(row) == 1)
            else:
                add(f"{operation}: <= 2 round trips", length, operation, lambda row: row["round_trips"] <= 2)
        bound = turn_bytes + TAIL_BYTES
        for operation, label, requests, round_trips in (
            ("save_turn", "save one turn (warm)", 0, 2),
            ("save_turn_json", "save one turn (session from JSON)", 1, 3),
        ):
            add(
                f"{label}: bytes sent <= new turn + 64 KiB tail",
                length,
                operation,
                lambda row, bound=bound: row["bytes_sent"] <= bound,
                lambda row, bound=bound: f"{row['bytes_sent']} B sent (bound {bound} B; turn {turn_bytes} B of JSON)",
            )
            add(
                f"{label}: {round_trips} round trips, {requests} GET",
                length,
                operation,
                lambda row, limit=round_trips, wanted=requests: row["round_trips"] <= limit and gets(row) == wanted,
                lambda row: f"{row['round_trips']} round trips, {gets(row)} GET, {row['request_count']} requests",
            )
        for operation, round_trips in (("fork", 5), ("rewind", 4)):
            add(
                f"{operation}: no segment bytes uploaded, <= 64 KiB + envelope sent",
                length,
                operation,
                lambda row: row["segment_bytes_sent"] == 0 and row["bytes_sent"] <= TAIL_BYTES + ENVELOPE_BYTES,
                lambda row: f"{row['segment_bytes_sent']} B to segments, {row['bytes_sent']} B sent in all",
            )
            add(
                f"{operation}: <= {round_trips} round trips",
                length,
                operation,
                lambda row, limit=round_trips: row["round_trips"] <= limit,
            )
        for operation in ("tag", "rename"):
            add(f"{operation}: <= 3 round trips", length, operation, lambda row: row["round_trips"] <= 3)
        for operation, label in (("list_page", "list a page"), ("list", "list (all, a few sessions)")):
            add(
                f"{label}: 1 round trip of LISTs",
                length,
                operation,
                lambda row: row["round_trips"] == 1 and set(row["requests"]) == {"ListObjectsV2"},
            )
    return checks
