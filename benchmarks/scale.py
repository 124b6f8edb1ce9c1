"""The index at scale: what a save, a page and a full list cost at 100, 10,000 and 100,000 sessions.

For each size, a fresh bucket is filled with that many sessions through the library's own saves (many managers
and tasks in parallel, straight to moto with no added latency), then, through the benchmark proxy with
``--latency-ms`` per request, measured:

- **one-turn save** on a warm manager (the session came from it): requests, round trips, bytes up and down, CPU;
- **a page of 50** (``list_page(50)``), the next page (its cursor) and a page of 1,000: requests, round trips,
  bytes down;
- **full** ``list()``: requests, round trips, bytes down, wall time, CPU, and peak memory under ``tracemalloc``
  beside the memory the returned list itself holds;
- **16 / 64 / 256 concurrent writers** on distinct sessions, 4 commits each (`benchmarks.writers`): head 412s,
  lost compare-and-swap rounds, index updates that gave up, entries lost.

Each core runs in its own process: this tree's (format 2) and, with ``--core PATH``, an older checkout
(format 1, commit 6d0f478). With ``--bulk-above N`` a format-1 prefix larger than N is filled with the index
update skipped and then one ``reindex`` (which builds the same 32 shards that N saves would), because N saves
that each upload a shard of up to 214 KiB are beyond moto here; every measurement afterwards is the same.

Run: ``python -m benchmarks.scale [--sizes 100 10000 100000] [--core /tmp/old-core]``; writes
benchmarks/results/scale.{json,md,png} (see `benchmarks.scale_report`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pathlib
import statistics
import sys
import time
import tracemalloc
from dataclasses import asdict
from typing import Any

from .data import TranscriptGenerator
from .measure import Measurement, Meter, Proxy, RequestHook
from .writers import core_format, core_label, new_manager, run_worker, run_writers, use_core, warm

RESULTS = pathlib.Path(__file__).parent / "results"
PREFIX = "fleet/"
_FAKE_AWS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}


def _log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


async def populate(endpoint: str, bucket: str, count: int, *, managers: int, tasks: int, bulk: bool) -> float:
    """Creates ``count`` one-turn sessions through saves on ``managers`` managers; returns the seconds it took."""
    from s3sessions import Session, SessionMetadata

    generator = TranscriptGenerator(seed=count)
    pool = [new_manager(bucket, PREFIX, endpoint) for _ in range(managers)]
    if bulk:  # format 1 only: heads through saves, then one reindex builds the shards (see the module)

        async def no_index(*_: Any) -> None:
            return None

        for manager in pool:
            manager._update_index = no_index
    started = time.perf_counter()
    made = 0
    next_report = count // 10 or 1

    async def task(number: int) -> None:
        nonlocal made
        manager = pool[number % managers]
        while made < count:
            index = made
            made += 1
            session = Session(
                metadata=SessionMetadata(
                    agent_name=f"agent-{index % 7}", name=f"fleet session {index}", tags=[f"team-{index % 13}"]
                ),
                messages=generator.short_turn(),
            )
            await manager.save(session)
            if (index + 1) % next_report == 0:
                _log(f"  {made:,} of {count:,} sessions, {made / (time.perf_counter() - started):.0f}/s")

    try:
        await warm(pool[0])  # creates the manifest (and probes the store) once
        await asyncio.gather(*(task(number) for number in range(tasks)))
        if bulk:
            fresh = new_manager(bucket, PREFIX, endpoint)
            try:
                listed = await fresh.reindex()
            finally:
                await fresh.close()
            _log(f"  reindex listed {listed:,} sessions")
    finally:
        await asyncio.gather(*(manager.close() for manager in pool))
    return time.perf_counter() - started


def _summary(measurements: list[Measurement]) -> dict[str, Any]:
    """Median of each figure (requests and bytes repeat exactly; CPU and wall vary)."""
    rows = [asdict(measurement) for measurement in measurements]
    summary: dict[str, Any] = {
        name: statistics.median(row[name] for row in rows)
        for name in ("request_count", "round_trips", "bytes_sent", "bytes_received", "wall_seconds", "cpu_seconds")
    }
    summary["requests"] = rows[len(rows) // 2]["requests"]
    summary["samples"] = len(rows)
    summary["cpu_seconds_all"] = [round(row["cpu_seconds"], 5) for row in rows]
    summary["bytes_sent_all"] = [row["bytes_sent"] for row in rows]
    return summary


async def _metered(meter: Meter, call: Any) -> tuple[Measurement, Any]:
    started = meter.begin()
    result = await call()
    return meter.end(started), result


async def measure_size(server: Any, size: int, arguments: argparse.Namespace) -> dict[str, Any]:
    """Fills a bucket with ``size`` sessions and measures it (see the module)."""
    import boto3

    bucket = f"scale-{size}"
    boto3.client("s3", endpoint_url=server.moto_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    bulk = core_format() == 1 and arguments.bulk_above is not None and size > arguments.bulk_above
    _log(f"{core_label()}: filling {size:,} sessions{' (bulk)' if bulk else ''}")
    seconds = await populate(
        server.moto_url, bucket, size, managers=arguments.managers, tasks=arguments.tasks, bulk=bulk
    )
    result: dict[str, Any] = {
        "sessions": size,
        "fill": {"seconds": round(seconds, 1), "per_second": round(size / seconds, 1), "bulk": bulk},
    }
    proxy = Proxy(server.proxy_url)
    proxy.set_latency(arguments.latency_ms)
    hook = RequestHook()
    meter = Meter(proxy, hook)
    manager = new_manager(bucket, PREFIX, server.proxy_url)
    client = await manager.store.client()
    client.meta.events.register("before-send.s3", hook)
    try:
        await warm(manager)  # manifest known; format 1: every shard's ETag cached
        generator = TranscriptGenerator(seed=7)
        from s3sessions import Session, SessionMetadata

        sessions = [Session(metadata=SessionMetadata(agent_name="coder", name=f"measured {n}")) for n in range(5)]
        for session in sessions:
            session.messages.extend(generator.messages(20))
            await manager.save(session)
        saves = []
        for session in sessions:
            session.messages.extend(generator.turn())
            saves.append((await _metered(meter, lambda session=session: manager.save(session)))[0])
        result["save"] = _summary(saves)
        _log(f"  save: {result['save']['requests']}, up {result['save']['bytes_sent']} B")

        page, first = await _metered(meter, lambda: manager.list_page(50))
        result["page_50"] = {**asdict(page), "returned": len(first.sessions)}
        page, second = await _metered(meter, lambda: manager.list_page(50, first.next_cursor))
        result["page_50_next"] = {**asdict(page), "returned": len(second.sessions)}
        page, large = await _metered(meter, lambda: manager.list_page(1000))
        result["page_1000"] = {**asdict(page), "returned": len(large.sessions)}
        _log(f"  pages: 50 in {result['page_50']['round_trips']} RT, 1000 in {page.round_trips} RT")

        gc.collect()
        listing, everything = await _metered(meter, manager.list)
        result["list"] = {**asdict(listing), "returned": len(everything)}
        del everything
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        everything = await manager.list()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["list"].update(peak_bytes=peak - before, result_bytes=held - before)
        del everything
        proxy.take_log()
        _log(f"  list: {result['list']['returned']:,} in {listing.wall_seconds:.1f} s, peak {peak - before:,} B")
    finally:
        await manager.close()
    result["writers"] = []
    pool = [new_manager(bucket, PREFIX, server.proxy_url) for _ in range(16)]
    try:
        for member in pool:
            await warm(member)
        for writers in arguments.writers:
            round_ = await run_writers(server.proxy_url, proxy, writers=writers, saves=4, pool=pool)
            result["writers"].append(round_.as_dict())
            _log(f"  {writers} writers: {round_.cas_lost or round_.index_412} lost rounds, {round_.gave_up} gave up")
    finally:
        await asyncio.gather(*(member.close() for member in pool))
    proxy.set_latency(0)
    return result


async def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    from .run import S3Server

    results = []
    with S3Server() as server:
        for size in arguments.sizes:
            results.append(await measure_size(server, size, arguments))
    return {"core": core_label(), "format": core_format(), "latency_ms": arguments.latency_ms, "sizes": results}


def _worker(arguments: argparse.Namespace, core: str) -> dict[str, Any]:
    """Runs `measure` for one core in a fresh interpreter; returns its results."""
    sizes = arguments.old_sizes if core != "." and arguments.old_sizes else arguments.sizes
    options = ["--sizes", *map(str, sizes), "--writers", *map(str, arguments.writers)]
    options += ["--latency-ms", str(arguments.latency_ms), "--managers", str(arguments.managers)]
    options += ["--tasks", str(arguments.tasks)]
    if arguments.bulk_above is not None:
        options += ["--bulk-above", str(arguments.bulk_above)]
    return run_worker("benchmarks.scale", core, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--old-sizes", type=int, nargs="+", help="sizes for the --core checkouts (default: --sizes)")
    parser.add_argument("--writers", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--managers", type=int, default=8, help="managers filling the bucket")
    parser.add_argument("--tasks", type=int, default=64, help="concurrent saves filling the bucket")
    parser.add_argument("--bulk-above", type=int, help="format 1: fill larger prefixes through reindex")
    parser.add_argument("--core", action="append", help="an s3sessions checkout to measure besides this tree's")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--merge", type=pathlib.Path, nargs="*", help="only write the report from these JSON runs")
    arguments = parser.parse_args()
    for name, value in _FAKE_AWS.items():
        os.environ.setdefault(name, value)
    if arguments.worker:
        use_core(arguments.core[0] if arguments.core and arguments.core[0] != "." else None)
        print(json.dumps(asyncio.run(measure(arguments))))
        return
    from .scale_report import write_report

    if arguments.merge:
        loaded = [json.loads(path.read_text()) for path in arguments.merge]  # a report's runs, or one worker's
        runs = [run for data in loaded for run in data.get("runs", [data])]
    else:
        runs = []
        for core in [".", *(arguments.core or [])]:
            started = time.perf_counter()
            runs.append(_worker(arguments, core))
            runs[-1]["seconds"] = round(time.perf_counter() - started)
    write_report(runs, arguments.out)


if __name__ == "__main__":
    main()
