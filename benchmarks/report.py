"""Writes the benchmark results as JSON, a Markdown report and a PNG plot of cost versus session length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OPERATION_LABELS = {
    "create": "create",
    "save_turn": "save one new turn",
    "save_turn_json": "save one new turn (session from JSON)",
    "resume": "resume",
    "resume_cold": "resume (new process)",
    "list": "list (all)",
    "list_page": "list a page of 50",
    "fork": "fork",
    "rewind": "rewind",
    "tag": "tag",
    "rename": "rename",
    "delete": "delete",
}
_SHORT_OPS = {
    "GetObject": "GET",
    "PutObject": "PUT",
    "HeadObject": "HEAD",
    "CopyObject": "COPY",
    "DeleteObject": "DEL",
    "DeleteObjects": "DELS",
    "ListObjectsV2": "LIST",
    "ListObjectVersions": "LISTV",
}


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024 / 1024:.2f} MiB"


def _requests(row: dict[str, Any]) -> str:
    return " ".join(f"{count} {_SHORT_OPS.get(name, name)}" for name, count in row["requests"].items()) or "none"


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    if row["status"] == "unsupported":
        return "not supported"
    if row["status"] == "same":
        return f"same as {OPERATION_LABELS.get(row.get('same_as', 'resume'), 'resume')}"
    if row["status"] == "error":
        return f"error: {row.get('note', '')[:60]}"
    sent, received = _size(row["bytes_sent"]), _size(row["bytes_received"])
    return f"{row['request_count']} req, {row['round_trips']} RT, ↑{sent} ↓{received}"


def _find(results: dict[str, Any], store: str, length: int, operation: str) -> dict[str, Any] | None:
    for row in results["rows"]:
        if (row["store"], row["length"], row["operation"]) == (store, length, operation):
            return row
    return None


def headline_table(results: dict[str, Any], length: int) -> str:
    """One row per operation, one column per store: requests, round trips, bytes up and down."""
    stores = results["config"]["stores"]
    lines = [
        "| operation | " + " | ".join(stores) + " |",
        "|---|" + "---|" * len(stores),
    ]
    for operation, label in OPERATION_LABELS.items():
        cells = [_cell(_find(results, store, length, operation)) for store in stores]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(results: dict[str, Any], length: int) -> str:
    latency = results["config"]["latency_ms"]
    lines = [
        f"| operation | store | requests by type | RT | sent | received | wall @ {latency:g} ms | wall / latency "
        "| CPU | stored |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for operation, label in OPERATION_LABELS.items():
        for store in results["config"]["stores"]:
            row = _find(results, store, length, operation)
            if row is None:
                continue
            if row["status"] != "ok":
                note = {"unsupported": "not supported", "same": _cell(row)}.get(row["status"], "**error**")
                lines.append(f"| {label} | {store} | {note}: {row.get('note', '')} | | | | | | | |")
                continue
            lines.append(
                f"| {label} | {store} | {_requests(row)} | {row['round_trips']} | {_size(row['bytes_sent'])} | "
                f"{_size(row['bytes_received'])} | {row['wall_seconds'] * 1000:.0f} ms | "
                f"{row.get('wall_over_latency', '')} | "
                f"{row['cpu_seconds'] * 1000:.0f} ms | {_size(row['stored_bytes'])} |"
            )
    return "\n".join(lines)


def targets_section(results: dict[str, Any]) -> str:
    lines = ["| target (DESIGN.md) | messages | met | measured |", "|---|---:|---|---|"]
    for target in results["targets"]:
        met = "yes" if target["met"] else "**MISSED**"
        lines.append(f"| {target['target']} | {target['length']} | {met} | {target['measured']} |")
    missed = [target for target in results["targets"] if not target["met"]]
    summary = (
        "Every target checked here is met."
        if not missed
        else f"**{len(missed)} target check(s) missed**: see the rows marked MISSED."
    )
    return summary + "\n\n" + "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    config = results["config"]
    lengths = config["lengths"]
    largest = max(lengths)
    sizes = ", ".join(f"{length} messages = {_size(results['message_bytes'][str(length)])}" for length in lengths)
    strands = f", strands-agents {config['strands_agents']}" if config.get("strands_agents") else ""
    parts = [
        "# Benchmark results",
        "",
        f"One run against one moto server behind a proxy adding {config['latency_ms']:g} ms per request; "
        f"Python {config['python']}, {config['machine']}{strands}; took {config['seconds']} s. "
        f"Transcripts (JSON): {sizes}; one new turn = {_size(results['turn_bytes'])}. "
        "Method and column meanings: [benchmarks/README.md](../README.md).",
        "",
        f"## At {largest} messages",
        "",
        "Requests (req), sequential round trips (RT), body bytes sent (↑) and received (↓).",
        "",
        headline_table(results, largest),
        "",
        "## DESIGN.md targets (s3sessions)",
        "",
        targets_section(results),
    ]
    for length in lengths:
        parts += ["", f"## Details: {length} messages", "", detail_table(results, length)]
    return "\n".join(parts) + "\n"


def plot(results: dict[str, Any], path: Path) -> bool:
    """Draws cost versus session length; returns False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    lengths = results["config"]["lengths"]
    panels = [
        ("save_turn", "bytes_sent", "save one new turn: bytes uploaded", "bytes"),
        ("save_turn", "request_count", "save one new turn: requests", "requests"),
        ("resume", "round_trips", "resume: sequential round trips", "round trips"),
        ("resume", "wall_seconds", f"resume: wall time at {results['config']['latency_ms']:g} ms/request", "seconds"),
    ]
    styles = {
        "s3sessions": ("o", "-"),
        "naive-json": ("s", "--"),
        "strands-s3": ("^", "-"),
        "strands-snapshot": ("x", ":"),
    }
    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    for axis, (operation, field, title, unit) in zip(axes.flat, panels, strict=True):
        for store in results["config"]["stores"]:
            points = [
                (length, row[field])
                for length in lengths
                if (row := _find(results, store, length, operation)) is not None and row["status"] == "ok"
            ]
            if points:
                marker, line = styles.get(store, ("o", "-"))
                axis.plot(*zip(*points, strict=True), marker=marker, linestyle=line, label=store)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("session length (messages)")
        axis.set_ylabel(unit)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("S3 cost per operation versus session length (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_reports(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    plot(results, out / "cost.png")
