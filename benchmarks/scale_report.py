"""Writes the scale benchmark's report: scale.json, scale.md (tables, formulas, extrapolation) and scale.png.

The extrapolation to 1M and 10M sessions uses linear fits through the two largest measured sizes of each core
(every cost here is affine in the number of sessions N, or constant): no figure at 1M or 10M is measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

S3_WRITES_PER_PREFIX = 3500
S3_READS_PER_PREFIX = 5500
CONDITIONAL_PER_KEY = 15
EXTRAPOLATE = (1_000_000, 10_000_000)
SHARDS = 32
FANOUT = 4


def _size(value: float) -> str:
    if value < 1024:
        return f"{value:.0f} B"
    if value < 1024**2:
        return f"{value / 1024:.1f} KiB"
    if value < 1024**3:
        return f"{value / 1024**2:.1f} MiB"
    return f"{value / 1024**3:.2f} GiB"


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Returns (intercept, slope) of the line through the two largest sizes; a constant (the largest size's
    value) when there is one size or the figure changed by less than 10% between them (it does not grow)."""
    points = sorted(points)[-2:]
    if len(points) == 1 or points[0][0] == points[1][0]:
        return points[-1][1], 0.0
    (x1, y1), (x2, y2) = points
    if y2 <= y1 * 1.1:
        return y2, 0.0
    slope = (y2 - y1) / (x2 - x1)
    return y1 - slope * x1, slope


def _series(run: dict[str, Any], path: tuple[str, ...]) -> list[tuple[int, float]]:
    points = []
    for size in run["sizes"]:
        value: Any = size
        for part in path:
            value = value[part]
        points.append((size["sessions"], float(value)))
    return points


FIGURES = {
    "save_up": ("save", "bytes_sent"),
    "save_requests": ("save", "request_count"),
    "list_down": ("list", "bytes_received"),
    "list_requests": ("list", "request_count"),
    "list_cpu": ("list", "cpu_seconds"),
    "list_peak": ("list", "peak_bytes"),
    "page_down": ("page_50", "bytes_received"),
}


def models(run: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {name: _fit(_series(run, path)) for name, path in FIGURES.items()}


def _at(model: tuple[float, float], sessions: int) -> float:
    return model[0] + model[1] * sessions


def _formula(model: tuple[float, float], unit: str) -> str:
    intercept, slope = model
    if slope == 0:
        return f"{_size(intercept)} (constant)"
    return f"{_size(max(intercept, 0.0))} + {slope:.1f} {unit} x N"


def _tables(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Measured",
        "",
        "Per one-turn save (median of 5 saves on warm managers; requests and bytes repeat exactly):",
        "",
        "| sessions | index | requests | round trips | ↑ sent | ↓ received | client CPU |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    rows = sorted(((size["sessions"], run["core"], size) for run in runs for size in run["sizes"]), key=str)
    rows.sort(key=lambda row: (row[0], row[1]))
    for sessions, core, size in rows:
        save = size["save"]
        requests = " + ".join(f"{count} {name}" for name, count in sorted(save["requests"].items()))
        lines.append(
            f"| {sessions:,} | {core} | {requests} | {save['round_trips']:g} | {_size(save['bytes_sent'])} |"
            f" {_size(save['bytes_received'])} | {save['cpu_seconds'] * 1000:.1f} ms |"
        )
    lines += [
        "",
        "Listing: a page of 50 (`list_page(50)`), the next page (its cursor), a page of 1,000, and everything:",
        "",
        "| sessions | index | page of 50 | next page | page of 1,000 | `list()` | `list()` wall | CPU "
        "| peak memory | result holds |",
        "|---:|---|---|---|---|---|---:|---:|---:|---:|",
    ]
    for sessions, core, size in rows:
        cells = []
        for name in ("page_50", "page_50_next", "page_1000", "list"):
            page = size[name]
            cells.append(f"{page['request_count']} req, {page['round_trips']} RT, ↓{_size(page['bytes_received'])}")
        listing = size["list"]
        lines.append(
            f"| {sessions:,} | {core} | {' | '.join(cells)} | {listing['wall_seconds']:.1f} s |"
            f" {listing['cpu_seconds']:.2f} s | {_size(listing['peak_bytes'])} | {_size(listing['result_bytes'])} |"
        )
    lines += [
        "",
        "Concurrent writers on distinct sessions (16 warm managers, 4 commits each, all at once):",
        "",
        "| sessions | index | writers | commits | head 412s | lost CAS rounds (index 412s) | index updates that gave up"
        " | entries lost or stale |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for sessions, core, size in rows:
        for r in size["writers"]:
            lost_rounds = max(r["cas_lost"], r["index_412"])
            lines.append(
                f"| {sessions:,} | {core} | {r['writers']} | {r['commits']} | {r['head_412']} | {lost_rounds} |"
                f" {r['gave_up']} ({r['gave_up'] / r['commits']:.1%}) | {r['lost']} |"
            )
    return lines


def _extrapolation(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## Formulas and extrapolation",
        "",
        "Fitted through the two largest measured sizes of each index (N = sessions in the prefix); the 1M and 10M",
        "columns are computed, not measured.",
        "",
    ]
    for run in runs:
        fit = models(run)
        unit = "shard entry" if run["format"] == 1 else "index entry"
        lines.append(f"- **{run['core']}**:")
        lines.append(
            f"  save ↑ = {_formula(fit['save_up'], 'B')}; a page of 50 ↓ = {_formula(fit['page_down'], 'B')};"
            f" `list()` ↓ = {_formula(fit['list_down'], 'B')} ({fit['list_down'][1]:.0f} B per {unit});"
            f" `list()` CPU = {fit['list_cpu'][1] * 1e6:.0f} µs x N; `list()` peak memory ="
            f" {fit['list_peak'][1]:.0f} B x N."
        )
        requests = (
            f"{SHARDS} GETs (one per shard) at any N"
            if run["format"] == 1
            else f"about N / 1,000 + {FANOUT} LISTs, N / {FANOUT * 1000:,} round trips (the buckets in parallel)"
        )
        lines.append(f"  `list()` requests: {requests}.")
    lines += [
        "",
        "| | " + " | ".join(f"{run['core']} at {n:,}" for n in EXTRAPOLATE for run in runs) + " |",
        "|---|" + "---:|" * (len(EXTRAPOLATE) * len(runs)),
    ]
    rows = [
        ("save ↑ sent", "save_up", _size),
        ("a page of 50: ↓ received", "page_down", _size),
        ("`list()` ↓ received", "list_down", _size),
        ("`list()` client CPU", "list_cpu", lambda v: f"{v:.0f} s"),
        ("`list()` peak memory", "list_peak", _size),
    ]
    for label, name, render in rows:
        cells = [render(_at(models(run)[name], n)) for n in EXTRAPOLATE for run in runs]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for n in EXTRAPOLATE:
        for run in runs:
            cells.append(f"{SHARDS}, 1 RT" if run["format"] == 1 else f"{n // 1000 + FANOUT:,}, {n // 4000:,} RT")
    lines.append("| `list()` requests, round trips | " + " | ".join(cells) + " |")
    return lines


def _rates(runs: list[dict[str, Any]]) -> list[str]:
    fanout_rate = FANOUT * S3_WRITES_PER_PREFIX // 2
    return [
        "",
        "## What S3's request rates then allow",
        "",
        f"S3 serves about {S3_WRITES_PER_PREFIX:,} PUT/DELETE and {S3_READS_PER_PREFIX:,} GET/LIST per second per "
        f"partitioned prefix, and one key about {CONDITIONAL_PER_KEY} conditional writes per second (DESIGN.md).",
        "",
        f"- **Format 2.** A save is one conditional PUT of its own head (a distinct key per session: "
        f"{CONDITIONAL_PER_KEY} saves/s *per session* is the only per-key bound, far above an agent's pace), one "
        f"unconditional PUT and one DeleteObjects under `index/{{f}}/`. New entries sort first in their bucket "
        f"(inverted time), so each bucket's writes land at one end of its key range and S3 cannot split that range "
        f"further: count one partition per bucket. With the default fan-out of {FANOUT}: about {FANOUT} x "
        f"{S3_WRITES_PER_PREFIX:,} / 2 = {fanout_rate:,} saves/s for the whole prefix (if S3 counts a DeleteObjects"
        f" as one write), and {FANOUT * 8:,} buckets would take {FANOUT * 8 * S3_WRITES_PER_PREFIX // 2:,}/s; "
        f"heads under `sessions/{{id}}/` spread over as many partitions as S3 makes. None of this depends on N. "
        f"A page is {FANOUT} LISTs: about {S3_READS_PER_PREFIX:,} pages/s per bucket partition.",
        f"- **Format 1.** Every save rewrote one of {SHARDS} shard objects by compare-and-swap: at "
        f"{CONDITIONAL_PER_KEY} conditional writes per key per second, the whole prefix took at most "
        f"{SHARDS} x {CONDITIONAL_PER_KEY} = {SHARDS * CONDITIONAL_PER_KEY} saves/s *whatever N*, each uploading "
        "N / 32 entries (the extrapolated save ↑ above), and fewer as lost rounds add writes.",
    ]


def markdown(runs: list[dict[str, Any]]) -> str:
    first = runs[0]
    fills = "; ".join(
        f"{run['core']}: " + ", ".join(f"{s['sessions']:,} in {s['fill']['seconds']:.0f} s" for s in run["sizes"])
        for run in runs
    )
    lines = [
        "# The index at scale",
        "",
        f"Each size is a fresh bucket filled through the library's own saves (one-turn sessions, in parallel, "
        f"straight to moto), then measured through the benchmark proxy with {first['latency_ms']:g} ms added per "
        f"request (`python -m benchmarks.scale`; method in benchmarks/README.md). Filling took: {fills}. "
        "Bytes are request/response bodies on the wire; CPU is the client process's; memory is `tracemalloc`'s "
        "peak during `list()` and what the returned list itself holds.",
        "",
    ]
    bulk = [(run["core"], s["sessions"]) for run in runs for s in run["sizes"] if s["fill"]["bulk"]]
    if bulk:
        lines += [
            "Filled in bulk (heads through saves with the index update skipped, then one `reindex` that builds the "
            "same shards): " + ", ".join(f"{core} at {n:,}" for core, n in bulk) + ".",
            "",
        ]
    lines += _tables(runs) + _extrapolation(runs) + _rates(runs)
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = [
        ("save_up", "one-turn save: bytes uploaded"),
        ("list_down", "list(): bytes downloaded"),
        ("list_peak", "list(): peak memory (tracemalloc)"),
        ("page_down", "a page of 50: bytes downloaded"),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    for axis, (name, title) in zip(axes.flat, panels, strict=True):
        for run, style in zip(runs, ("o-", "s--", "^:"), strict=False):
            points = _series(run, FIGURES[name])
            axis.plot(*zip(*points, strict=True), style, label=f"{run['core']} (measured)")
            model = models(run)[name]
            xs = [points[-1][0], *EXTRAPOLATE]
            axis.plot(xs, [max(1.0, _at(model, x)) for x in xs], style[0] + ":", alpha=0.5, label="extrapolated")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("sessions in the prefix")
        axis.set_ylabel("bytes")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle("The index at scale: format 2 (entry per session) vs format 1 (32 CAS shards)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def write_report(runs: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    (out / "scale.md").write_text(markdown(runs))
    plot(runs, out / "scale.png")
