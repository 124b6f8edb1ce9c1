"""The DESIGN.md targets, checked against the counted requests of the s3sessions rows (pure code).

Each check reports what was measured and whether the target is met; nothing here is tuned to pass.
"""

from __future__ import annotations

from typing import Any

TAIL_BYTES = 64 * 1024
ENVELOPE_BYTES = 16 * 1024
"""Allowance for the head's own fields (metadata, turn table, segment list, commit ids) and the index shard."""


def _row(results: dict[str, Any], length: int, operation: str) -> dict[str, Any] | None:
    for row in results["rows"]:
        if row["store"] == "s3sessions" and row["length"] == length and row["operation"] == operation:
            return row
    return None


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns one entry per (target, length): ``{target, length, met, measured}``."""
    checks: list[dict[str, Any]] = []
    turn_bytes = int(results["turn_bytes"])

    def add(target: str, length: int, operation: str, test: Any, describe: Any) -> None:
        row = _row(results, length, operation)
        if row is None:
            return
        if row["status"] != "ok":
            checks.append({"target": target, "length": length, "met": False, "measured": row["status"]})
            return
        checks.append({"target": target, "length": length, "met": bool(test(row)), "measured": describe(row)})

    for length in results["config"]["lengths"]:
        fits_tail = results["message_bytes"][str(length)] + turn_bytes <= TAIL_BYTES
        limit = 1 if fits_tail else 2
        add(
            f"resume: <= {limit} round trip{'s' if limit > 1 else ''}",
            length,
            "resume",
            lambda row, limit=limit: row["round_trips"] <= limit,
            lambda row: f"{row['round_trips']} round trips, {row['request_count']} requests",
        )
        bound = turn_bytes + TAIL_BYTES + ENVELOPE_BYTES
        add(
            "save one turn: bytes sent <= new turn + 64 KiB tail + 16 KiB envelope",
            length,
            "save_turn",
            lambda row, bound=bound: row["bytes_sent"] <= bound,
            lambda row, bound=bound: f"{row['bytes_sent']} B sent (bound {bound} B; turn {turn_bytes} B of JSON)",
        )
        add(
            "save one turn: <= 3 round trips",
            length,
            "save_turn",
            lambda row: row["round_trips"] <= 3,
            lambda row: f"{row['round_trips']} round trips",
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
                lambda row: f"{row['round_trips']} round trips",
            )
        for operation in ("tag", "rename"):
            add(
                f"{operation}: <= 3 round trips",
                length,
                operation,
                lambda row: row["round_trips"] <= 3,
                lambda row: f"{row['round_trips']} round trips",
            )
        add(
            "list (warm): 1 round trip",
            length,
            "list",
            lambda row: row["round_trips"] == 1,
            lambda row: f"{row['round_trips']} round trips, {row['request_count']} requests",
        )
    return checks
