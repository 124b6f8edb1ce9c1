"""Writes the CPU benchmark's report: cpu.json, cpu.md (tables, targets, where the time goes) and cpu.png."""

from __future__ import annotations

import json
import pstats
from pathlib import Path
from typing import Any

STORES = ("s3sessions", "naive-json", "strands-s3")
STAT = "mean"
"""The CPU figure reported: the mean of calls made back to back, which counts the garbage collections each
call triggers (a median skips the calls they land in; see `benchmarks.cpu.cpu_samples`)."""
_AREAS = (
    ("zstd (compress / decompress)", ("zstd", "zstandard")),
    ("JSON encode / decode", ("json", "from_json", "to_json")),
    ("hashing (content digests)", ("hashlib", "sha256", "blake2")),
    ("botocore / aiobotocore / aiohttp (requests, signing, parsing)", ("botocore", "aiohttp", "boto3", "urllib3")),
    ("asyncio event loop", ("asyncio", "selectors", "socket")),
    ("pydantic", ("pydantic",)),
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _size(value: float) -> str:
    if value < 1024:
        return f"{value:.0f} B"
    if value < 1024**2:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024**2:.2f} MiB"


def _figure(row: dict[str, Any], store: str, figure: str) -> float | None:
    found = row.get(store)
    return None if found is None else float(found[figure][STAT])


def targets(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, measured) for each target of the issue."""
    rows = {row["messages"]: row for row in results["lengths"]}
    checks: list[tuple[str, bool, str]] = []
    side_by_side = results.get("save_side_by_side")
    saves: tuple[float, float, str] | None = None
    if side_by_side:
        saves = (side_by_side["100"][STAT], side_by_side["10000"][STAT], " (sampled in alternation)")
    elif 100 in rows and 10_000 in rows:
        small, large = (_figure(rows[n], "s3sessions", "save_cpu") or 0.0 for n in (100, 10_000))
        saves = (small, large, "")
    if saves is not None:
        small, large, how = saves
        checks.append(
            (
                f"one-turn save at 10,000 messages <= 2x the CPU of one at 100{how}",
                large <= 2 * small,
                f"{_ms(large)} vs {_ms(small)}: {large / small:.2f}x",
            )
        )
    for n in (1000, 10_000):
        for figure, how in (("resume_cpu", "reading the segments"), ("resume_held_cpu", "of a version it holds")):
            if n in rows and figure in rows[n]["s3sessions"]:
                ours, floor = _figure(rows[n], "s3sessions", figure) or 0.0, rows[n]["json_loads_cpu"][STAT]
                bare = rows[n]["s3sessions"].get("resume_bare_gets") if figure == "resume_cpu" else None
                gets = f"; its {bare['gets']} GETs made bare: {_ms(bare[STAT])}" if bare else ""
                checks.append(
                    (
                        f"resume CPU at {n:,} messages ({how}) <= 2x json.loads of the same history",
                        ours <= 2 * floor,
                        f"{_ms(ours)} vs {_ms(floor)}: {ours / floor:.2f}x{gets}",
                    )
                )
                if bare:
                    own = ours - bare[STAT]
                    checks.append(
                        (
                            f"resume CPU at {n:,} messages ({how}) beyond its GETs' SDK work"
                            " <= 2x json.loads of the same history",
                            own <= 2 * floor,
                            f"{_ms(own)} vs {_ms(floor)}: {own / floor:.2f}x",
                        )
                    )
    for n, row in rows.items():
        peak, decoded = row["s3sessions"]["resume_peak"], row["decoded_bytes"]
        checks.append(
            (
                f"resume peak memory at {n:,} messages <= 3x the decoded history",
                peak <= 3 * decoded,
                f"{_size(peak)} vs {_size(decoded)}: {peak / decoded:.2f}x",
            )
        )
    seconds = results["import"]["seconds"]["median"]
    checks.append(("`import s3sessions` <= 100 ms", seconds <= 0.1, f"{_ms(seconds)} (median)"))
    tiny = results.get("tiny") or []
    if len(tiny) >= 2:
        first, last = tiny[0], tiny[-1]
        checks.append(
            (
                f"one-turn save after {last['messages'] - 2:,} tiny messages ({last['turns'] - 1:,} turns):"
                " upload bounded",
                last["save_sent"] <= 64 * 1024 + 16 * 1024,
                f"{_size(last['save_sent'])} sent, head {_size(last['head_bytes'])} "
                f"({_size(last['head_json_bytes'])} of JSON); at {first['messages'] - 2:,}: "
                f"{_size(first['save_sent'])}",
            )
        )
    return checks


_OTHER = "other (Python runtime)"


def _area(file_name: str, function: str) -> str | None:
    """The area of a function: s3sessions by its file, a library by its path or a C function's name; None for
    a builtin of no library (list.append, dict.items...): its time is its callers'."""
    if "s3sessions/formats/" in file_name:
        return "s3sessions: formats (JSON values, copies, encoding, planning)"
    if "s3sessions/" in file_name:
        return "s3sessions: engine, storage, models"
    text = f"{file_name} {function}".lower()
    for label, needles in _AREAS:
        if any(needle in text for needle in needles):
            return label
    return None if file_name == "~" else _OTHER


def where_time_goes(stats: pstats.Stats, top: int = 12) -> dict[str, Any]:
    """Groups a profile's own (tottime) seconds by area (a builtin's by its callers'), and lists its most
    expensive functions."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    areas: dict[str, float] = {}
    functions = []
    for (file_name, line, function), (_, calls, own, cumulative, callers) in raw.items():
        area = _area(file_name, function)
        if area is None:  # charge a plain builtin to whoever called it
            for (caller_file, _, caller_function), caller_stats in callers.items():
                charged = _area(caller_file, caller_function) or _OTHER
                areas[charged] = areas.get(charged, 0.0) + caller_stats[2]
        else:
            areas[area] = areas.get(area, 0.0) + own
        where = f"{Path(file_name).name}:{line}({function})" if file_name != "~" else function
        functions.append({"function": where, "calls": calls, "own": own, "cumulative": cumulative})
    functions.sort(key=lambda item: -item["own"])
    return {
        "total": total,
        "areas": dict(sorted(areas.items(), key=lambda item: -item[1])),
        "top": functions[:top],
    }


def _profile_section(name: str, summary: dict[str, Any], runs: int) -> list[str]:
    lines = [
        f"### {name}: {_ms(summary['total'] / runs)} of profiled CPU per call ({runs} calls)",
        "",
        "| area | share |",
        "|---|---:|",
    ]
    for area, seconds in summary["areas"].items():
        lines.append(f"| {area} | {seconds / summary['total']:.0%} |")
    lines += ["", "| function (own time) | calls | own | cumulative |", "|---|---:|---:|---:|"]
    for item in summary["top"]:
        lines.append(
            f"| `{item['function'][:90]}` | {item['calls']} | {item['own'] / runs * 1000:.2f} ms |"
            f" {item['cumulative'] / runs * 1000:.2f} ms |"
        )
    return lines


_COLLECTED = (
    ("s3sessions", "resume_cpu", "s3sessions resume"),
    ("s3sessions", "save_cpu", "s3sessions save"),
    ("s3sessions", "invocation_cpu", "s3sessions invocation"),
    ("naive-json", "resume_cpu", "naive-json resume"),
    (None, "json_loads_cpu", "json.loads"),
)


def _collector_table(results: dict[str, Any]) -> list[str]:
    """Mean CPU per call, and how much of it was the garbage collector (figures recorded since `gc_mean`)."""
    rows = results["lengths"]
    if not rows or "gc_mean" not in rows[0]["json_loads_cpu"]:
        return []
    lines = [
        "",
        "## Of these figures, the garbage collector's part (mean per call)",
        "",
        "| messages | " + " | ".join(label for _, _, label in _COLLECTED) + " |",
        "|---:|" + "---:|" * len(_COLLECTED),
    ]
    for row in rows:
        cells = []
        for store, figure, _ in _COLLECTED:
            found = (row.get(store) or {}).get(figure) if store else row.get(figure)
            cells.append(f"{_ms(found[STAT])} ({_ms(found['gc_mean'])})" if found and "gc_mean" in found else "")
        lines.append(f"| {row['messages']:,} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any], profile: dict[str, Any]) -> str:
    config = results["config"]
    stores = [store for store in STORES if any(store in row for row in results["lengths"])]
    lines = [
        "# CPU and memory",
        "",
        f"`python -m benchmarks.cpu`: Python {config['python']}, {config['machine']}, strands-agents "
        f"{config['strands_agents'] or 'not installed'}; mean of {config['runs']} calls made back to back per figure "
        "(the collector's work they trigger counted; Strands' "
        f"resume at 10,000 messages: fewer); took {config['seconds']} s; load average {config['load_average']:.1f} "
        f"before, {config['load_average_after']:.1f} after (a shared machine: CPU figures vary by tens of percent "
        "between runs, ratios within one run less). Method: [README](../README.md).",
        "",
        "## Targets",
        "",
        "| target | met | measured |",
        "|---|---|---|",
    ]
    lines += [
        f"| {target} | {'yes' if met else '**MISSED**'} | {measured} |" for target, met, measured in targets(results)
    ]
    header = (
        "| messages | JSON | "
        + " | ".join(stores)
        + " | s3sessions (version held) | s3sessions' GETs made bare | json.loads |"
    )
    lines += [
        "",
        "## Resume: CPU (x json.loads of the same history)",
        "",
        header,
        "|---:|---:|" + "---:|" * (len(stores) + 3),
    ]
    for row in results["lengths"]:
        floor = row["json_loads_cpu"][STAT]
        cells = [
            f"{_ms(row[s]['resume_cpu'][STAT])} ({row[s]['resume_cpu'][STAT] / floor:.1f}x)" if s in row else ""
            for s in stores
        ]
        held = row["s3sessions"].get("resume_held_cpu")
        cells.append(f"{_ms(held[STAT])} ({held[STAT] / floor:.1f}x)" if held else "")
        bare = row["s3sessions"].get("resume_bare_gets")
        cells.append(f"{_ms(bare[STAT])} ({bare['gets']} GETs)" if bare else "")
        lines.append(
            f"| {row['messages']:,} | {_size(row['json_bytes'])} | " + " | ".join(cells) + f" | {_ms(floor)} |"
        )
    lines += ["", "## Save one new turn: CPU (warm: the session came from this store)", ""]
    lines += [
        "| messages | " + " | ".join(stores) + " | json.dumps of the history |",
        "|---:|" + "---:|" * (len(stores) + 1),
    ]
    for row in results["lengths"]:
        cells = [_ms(row[s]["save_cpu"][STAT]) if s in row else "" for s in stores]
        lines.append(f"| {row['messages']:,} | " + " | ".join(cells) + f" | {_ms(row['json_dumps_cpu'][STAT])} |")
    lines += [
        "",
        "## A Lambda invocation: resume (a manager that does not hold the session), add one turn, save: CPU",
        "",
        "| messages | " + " | ".join(s for s in stores if s != "strands-s3") + " | json.loads + json.dumps |",
        "|---:|" + "---:|" * len([s for s in stores if s != "strands-s3"]) + "---:|",
    ]
    for row in results["lengths"]:
        floor = row["json_loads_cpu"][STAT] + row["json_dumps_cpu"][STAT]
        cells = [
            f"{_ms(row[s]['invocation_cpu'][STAT])} ({row[s]['invocation_cpu'][STAT] / floor:.1f}x)"
            if "invocation_cpu" in row.get(s, {})
            else ""
            for s in stores
            if s != "strands-s3"
        ]
        lines.append(f"| {row['messages']:,} | " + " | ".join(cells) + f" | {_ms(floor)} |")
    lines += _collector_table(results)
    lines += ["", "## Resume: peak memory (x the decoded history) and bytes stored", ""]
    lines += [
        "| messages | decoded history | "
        + " | ".join(f"{s} peak" for s in stores)
        + " | json.loads peak | "
        + " | ".join(f"{s} stored" for s in stores)
        + " |",
        "|---:|---:|" + "---:|" * (2 * len(stores) + 1),
    ]
    for row in results["lengths"]:
        decoded = row["decoded_bytes"]
        peaks = [
            f"{_size(row[s]['resume_peak'])} ({row[s]['resume_peak'] / decoded:.1f}x)" if s in row else ""
            for s in stores
        ]
        stored = [_size(row[s]["stored_bytes"]) if s in row else "" for s in stores]
        lines.append(
            f"| {row['messages']:,} | {_size(decoded)} | "
            + " | ".join(peaks)
            + f" | {_size(row['json_loads_peak'])} | "
            + " | ".join(stored)
            + " |"
        )
    lines += ["", "## `resume(id, last_turns=3)` against a full resume (s3sessions)", ""]
    lines += ["| messages | read | messages back | requests | ↓ bytes | CPU |", "|---:|---|---:|---:|---:|---:|"]
    for row in results["lengths"]:
        for name, label in (("read_full", "full"), ("read_last_3", "last 3 turns")):
            read = row["s3sessions"][name]
            lines.append(
                f"| {row['messages']:,} | {label} | {read['messages']:,} | {read['requests']} |"
                f" {_size(read['bytes_received'])} | {_ms(read['cpu'][STAT])} |"
            )
    lines += ["", "## A one-turn save after many tiny messages", ""]
    lines += ["| messages | turns | save sent | requests | head (zstd) | head JSON |", "|---:|---:|---:|---|---:|---:|"]
    for tiny in results["tiny"]:
        requests = ", ".join(f"{count} {name}" for name, count in sorted(tiny["save_requests"].items()))
        lines.append(
            f"| {tiny['messages']:,} | {tiny['turns']:,} | {_size(tiny['save_sent'])} | {requests} |"
            f" {_size(tiny['head_bytes'])} | {_size(tiny['head_json_bytes'])} |"
        )
    imports = results["import"]
    lines += [
        "",
        f"## `import s3sessions`: {_ms(imports['seconds']['median'])} median, {_ms(imports['seconds']['min'])} min",
        "",
        "Self time by top-level package (`python -X importtime`, one run): "
        + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in imports["self_us_by_package"].items())
        + "; its own slowest modules: "
        + ", ".join(f"`{name}` {us / 1000:.0f} ms" for name, us in imports.get("slowest_own_modules", {}).items())
        + ".",
        "",
        f"## Where the time goes (cProfile, {max(row['messages'] for row in results['lengths']):,} messages)",
        "",
        "Profiling adds overhead per Python call, so these shares favour C code; the totals are above the "
        "unprofiled medians. Time in plain builtins (`list.append`, `dict.items`...) is charged to their callers.",
        "",
    ]
    for name, stats in profile.items():
        lines += [*_profile_section(name, where_time_goes(stats), results["config"]["runs"]), ""]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    lengths = [row["messages"] for row in results["lengths"]]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (("resume_cpu", "resume: CPU seconds"), ("save_cpu", "save one new turn: CPU seconds"))
    for axis, (figure_name, title) in zip(axes, panels, strict=False):
        for store in STORES:
            points = [(row["messages"], row[store][figure_name][STAT]) for row in results["lengths"] if store in row]
            if points:
                axis.plot(*zip(*points, strict=True), "o-", label=store)
        floor = "json_loads_cpu" if figure_name == "resume_cpu" else "json_dumps_cpu"
        axis.plot(lengths, [row[floor][STAT] for row in results["lengths"]], "k--", label=floor.replace("_cpu", ""))
        axis.set_title(title)
    axis = axes[2]
    for store in STORES:
        points = [(row["messages"], row[store]["resume_peak"]) for row in results["lengths"] if store in row]
        if points:
            axis.plot(*zip(*points, strict=True), "o-", label=store)
    axis.plot(lengths, [row["decoded_bytes"] for row in results["lengths"]], "k--", label="decoded history")
    axis.set_title("resume: peak memory (bytes)")
    for axis in axes:
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("messages")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def write_report(results: dict[str, Any], profile: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summaries = {name: where_time_goes(stats) for name, stats in profile.items()}
    (out / "cpu.json").write_text(json.dumps({**results, "profile": summaries}, indent=1) + "\n")
    (out / "cpu.md").write_text(markdown(results, profile))
    plot(results, out / "cpu.png")
