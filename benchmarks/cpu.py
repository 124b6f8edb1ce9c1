"""CPU and memory of resume and save, side by side with the floor: ``json.loads`` of the same history.

In one run, at 100 / 1,000 / 10,000 realistic coding-agent messages (`benchmarks.data`), against the benchmark
S3 (moto in a child process, so only the client's CPU is counted, no added latency):

- **s3sessions**: resume (a warm manager: the prefix's manifest known) of a head version it does not hold, so
  it reads the segments (as another process would); resume of the version it holds (it saved or read it: the
  head's GET and a copy of its snapshot); and a one-turn save of a session that came from this manager;
- **json.loads**: decoding the same history from one JSON document (resume's floor) and ``json.dumps`` of it;
- **naive-json**: one JSON object per session (GET + ``json.loads``; ``json.dumps`` + PUT of everything);
- **strands-s3**: Strands' ``S3SessionManager`` (one object per message; resume builds a manager and an
  ``Agent``, as in `benchmarks.stores`); only when strands-agents is installed.

Measured: CPU with ``time.process_time`` (this process, all threads; the mean of ``--runs`` calls made back to
back, so the garbage collections each call triggers are counted: see `cpu_samples`), peak memory of a
resume under ``tracemalloc`` beside the size of the decoded history (what ``json.loads`` leaves allocated), and
bytes stored. The save target's two figures (100 and 10,000 messages) are also sampled in alternation on one
manager, since the per-length figures are minutes apart. Also: ``import s3sessions`` (median of fresh
interpreters), the head a one-turn save uploads after 100,000 tiny messages (50,000 turns),
``resume(id, last_turns=3)`` at 10,000 messages against a full resume, and a cProfile of the save and the
resume at 10,000 messages.

Run: ``python -m benchmarks.cpu`` (writes benchmarks/results/cpu.{json,md,png}; see `benchmarks.cpu_report`).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import gc
import json
import os
import pathlib
import platform
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from .data import TranscriptGenerator
from .measure import Meter, Proxy, RequestHook
from .stores import NaiveStore, StrandsS3Store, strands_version

RESULTS = pathlib.Path(__file__).parent / "results"
BUCKET = "cpu-bench"
LENGTHS = (100, 1000, 10_000)
_FAKE_AWS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
Call = Callable[[], Awaitable[Any]]


def _log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


async def cpu_samples(call: Call, runs: int) -> dict[str, Any]:
    """Returns the CPU seconds of ``runs`` calls made back to back, as a process serving requests makes them,
    and how much of it the garbage collector took.

    One full garbage collection before the first call and none between: each call pays for the collections that
    its allocations (and the previous call's) trigger, as in a warm Lambda, and the report takes the mean. A
    collection before every sample, as this used to do, hid the collector: at 10,000 messages `json.loads` then
    alternates 38 ms and 120 ms, a median sees only the 38, and our resume's own collections (about 120 ms of
    its 205) fell between samples.
    """
    collecting: list[float] = []
    in_collections = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting.append(time.process_time())
        elif collecting:
            in_collections[0] += time.process_time() - collecting.pop()

    samples = []
    gc.collect()
    gc.callbacks.append(timer)
    try:
        for _ in range(runs):
            started = time.process_time()
            await call()
            samples.append(time.process_time() - started)
    finally:
        gc.callbacks.remove(timer)
    return {**_stats(samples), "gc_mean": in_collections[0] / max(runs, 1)}


async def peak_memory(call: Call) -> int:
    """Returns the peak of memory allocated during one call (tracemalloc), including what it returns."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = await call()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    del result
    return peak


def decoded_size(blob: bytes) -> int:
    """Returns the memory ``json.loads`` leaves allocated for the history: the decoded history's size."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    history = json.loads(blob)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del history
    return held


def _stats(samples: list[float]) -> dict[str, Any]:
    return {
        "mean": statistics.fmean(samples),
        "median": statistics.median(samples),
        "min": min(samples),
        "samples": [round(s, 6) for s in samples],
    }


async def _async(function: Callable[[], Any]) -> Any:
    return function()


def stored_bytes(admin: Any, prefix: str) -> int:
    pages = admin.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sum(item["Size"] for page in pages for item in page.get("Contents", []))


async def measure_ours(
    endpoint: str, admin: Any, meter: Meter, messages: list[Any], turns: list[Any], runs: int, length: int
) -> dict[str, Any]:
    from s3sessions import S3SessionManager, Session, SessionMetadata

    prefix = f"ours-{length}/"
    manager = S3SessionManager(BUCKET, prefix, endpoint_url=endpoint)
    (await manager.store.client()).meta.events.register("before-send.s3", meter.hook)
    try:
        await manager.save(Session(messages=[{"role": "user", "content": "warm-up"}]))  # the manifest
        session = Session(metadata=SessionMetadata(agent_name="coder"), messages=copy.deepcopy(messages))
        await manager.save(session)
        result: dict[str, Any] = {"stored_bytes": stored_bytes(admin, prefix)}

        async def resume_reading_segments() -> Any:
            manager.objects.forget(session.id)  # as a manager that never held this head version would
            return await manager.resume(session.id)

        result["resume_cpu"] = await cpu_samples(resume_reading_segments, runs)
        result["resume_bare_gets"] = await bare_gets_of(manager, resume_reading_segments, runs)
        result["resume_peak"] = await peak_memory(resume_reading_segments)
        await manager.resume(session.id)
        result["resume_held_cpu"] = await cpu_samples(lambda: manager.resume(session.id), runs)
        warm = await manager.resume(session.id)  # the session comes from this manager
        pending = iter(copy.deepcopy(turns))

        async def save_turn() -> None:
            warm.messages.extend(next(pending))
            await manager.save(warm)

        result["save_cpu"] = await cpu_samples(save_turn, runs)
        started = meter.begin()
        await save_turn()
        result["save_sent"] = meter.end(started).bytes_sent
        for name, turns_kept in (("full", None), ("last_3", 3)):

            async def read(turns: int | None = turns_kept) -> Any:
                manager.objects.forget(session.id)  # what it costs to read them, not to copy what it holds
                return await manager.resume(session.id, last_turns=turns)

            started = meter.begin()
            partial = await read()
            measured = meter.end(started)
            result[f"read_{name}"] = {
                "bytes_received": measured.bytes_received,
                "requests": measured.request_count,
                "messages": len(partial.messages),
                "cpu": await cpu_samples(read, runs),
            }
        more = iter(copy.deepcopy(turns[:runs]))

        async def invocation() -> None:  # a Lambda invocation: a manager that does not hold the session
            manager.objects.forget(session.id)
            resumed = await manager.resume(session.id)
            resumed.messages.extend(next(more))
            await manager.save(resumed)

        result["invocation_cpu"] = await cpu_samples(invocation, runs)
        result["session_id"] = session.id
        return result
    finally:
        await manager.close()


async def bare_gets_of(manager: Any, operation: Call, runs: int) -> dict[str, Any]:
    """The CPU of the GETs one call of ``operation`` makes, made again bare on the manager's own client.

    The request SDK's work per GET (signing, endpoint rules, parsing: about 3 ms with aiobotocore on these
    machines) is a floor no S3 store under that SDK goes below; subtracting it leaves the CPU the store itself
    spends on what it read (decompressing, verifying, decoding, copying), which is what the resume target
    compares with ``json.loads``.
    """
    client = await manager.store.client()
    keys: list[str] = []

    def record(request: Any, **_: Any) -> None:
        keys.append(urllib.parse.unquote(urllib.parse.urlsplit(request.url).path.split("/", 2)[2]))

    client.meta.events.register("before-send.s3.GetObject", record)
    try:
        await operation()
    finally:
        client.meta.events.unregister("before-send.s3.GetObject", record)

    async def replay() -> None:
        for key in keys:
            response = await client.get_object(Bucket=BUCKET, Key=key)
            async with response["Body"] as body:
                await body.read()

    return {"gets": len(keys), **await cpu_samples(replay, runs)}


async def measure_store(
    store: Any, admin: Any, messages: list[Any], turns: list[Any], runs: int, resume_runs: int
) -> dict[str, Any]:
    await store.open()
    try:
        await store.warm(messages[:2])
        await store.create(messages)
        result: dict[str, Any] = {"stored_bytes": stored_bytes(admin, store.prefix)}
        result["resume_cpu"] = await cpu_samples(store.resume, resume_runs)
        result["resume_peak"] = await peak_memory(store.resume)
        pending = iter(turns)
        result["save_cpu"] = await cpu_samples(lambda: store.save_turn(next(pending)), runs)
        if isinstance(store, NaiveStore):  # Strands' resume builds an Agent: its figures above say enough

            async def invocation() -> None:
                await store.resume()
                await store.save_turn(next(pending))

            result["invocation_cpu"] = await cpu_samples(invocation, runs)
        return result
    finally:
        await store.close()


async def saves_side_by_side(endpoint: str, small: int, large: int, runs: int) -> dict[str, Any]:
    """One-turn saves at two lengths, sampled in alternation (the save target compares their ratio).

    On a shared machine whose speed drifts over minutes, figures taken minutes apart (as the per-length ones
    are) compare the drift too; alternating samples of one manager compare the two saves alone. Back to back, as
    every figure here (a save allocates little, so one length's collections barely land in the other's; a full
    collection before each sample instead left the caches cold for the 10,000-message comparison: 2.3x where
    back to back measured 2.0-2.1x in this process, and 1.8-1.9x either way in a process holding only the two
    sessions).
    """
    from s3sessions import S3SessionManager, Session

    manager = S3SessionManager(BUCKET, "side-by-side/", endpoint_url=endpoint)
    try:
        warm: dict[int, Any] = {}
        pending: dict[int, Any] = {}
        for length in (small, large):
            generator = TranscriptGenerator(seed=length)
            session = Session(messages=generator.messages(length))
            await manager.save(session)
            warm[length] = await manager.resume(session.id)
            pending[length] = iter([generator.turn() for _ in range(runs)])
        samples: dict[int, list[float]] = {small: [], large: []}
        gc.collect()
        for _ in range(runs):
            for length in (small, large):
                warm[length].messages.extend(next(pending[length]))
                started = time.process_time()
                await manager.save(warm[length])
                samples[length].append(time.process_time() - started)
        return {str(length): _stats(values) for length, values in samples.items()}
    finally:
        await manager.close()


async def measure_length(server: Any, admin: Any, meter: Meter, length: int, arguments: Any) -> dict[str, Any]:
    generator = TranscriptGenerator(seed=length)
    messages = generator.messages(length)
    turns = [generator.turn() for _ in range(arguments.runs * 2 + 2)]
    blob = json.dumps(messages).encode()
    result: dict[str, Any] = {"messages": length, "json_bytes": len(blob), "decoded_bytes": decoded_size(blob)}
    result["json_loads_cpu"] = await cpu_samples(lambda: _async(lambda: json.loads(blob)), arguments.runs)
    result["json_dumps_cpu"] = await cpu_samples(lambda: _async(lambda: json.dumps(messages)), arguments.runs)
    result["json_loads_peak"] = await peak_memory(lambda: _async(lambda: json.loads(blob)))
    _log(f"{length} messages: s3sessions")
    result["s3sessions"] = await measure_ours(server.proxy_url, admin, meter, messages, turns, arguments.runs, length)
    _log(f"{length} messages: naive-json")
    naive = NaiveStore(BUCKET, f"naive-{length}/", server.proxy_url, meter.hook)
    result["naive-json"] = await measure_store(naive, admin, messages, turns, arguments.runs, arguments.runs)
    if strands_version() is not None and not arguments.no_strands:
        _log(f"{length} messages: strands-s3")
        strands = StrandsS3Store(BUCKET, f"strands-{length}/", server.proxy_url, meter.hook)
        resume_runs = max(3, arguments.runs // (3 if length >= 10_000 else 1))
        result["strands-s3"] = await measure_store(strands, admin, messages, turns, arguments.runs, resume_runs)
    meter.hook.take()
    meter.proxy.take_log()
    return result


async def tiny_history(server: Any, admin: Any, meter: Meter, counts: tuple[int, ...]) -> list[dict[str, Any]]:
    """A one-turn save after ``count`` tiny messages: what it uploads and how big the head is."""
    from s3sessions import S3SessionManager, Session

    rows = []
    for count in counts:
        prefix = f"tiny-{count}/"
        manager = S3SessionManager(BUCKET, prefix, endpoint_url=server.proxy_url)
        (await manager.store.client()).meta.events.register("before-send.s3", meter.hook)
        try:
            messages = [
                {"role": "user" if i % 2 == 0 else "assistant", "content": f"{'q' if i % 2 == 0 else 'a'}{i}"}
                for i in range(count)
            ]
            session = Session(messages=messages)
            await manager.save(session)
            session.messages += [{"role": "user", "content": "one more?"}, {"role": "assistant", "content": "yes"}]
            started = meter.begin()
            await manager.save(session)
            measured = meter.end(started)
            head = admin.get_object(Bucket=BUCKET, Key=f"{prefix}sessions/{session.id}/head.json.zst")["Body"].read()
            import zstandard

            decoded = zstandard.ZstdDecompressor().decompressobj().decompress(head)
            rows.append(
                {
                    "messages": count + 2,
                    "turns": session.metadata.turn_count,
                    "save_sent": measured.bytes_sent,
                    "save_requests": measured.requests,
                    "head_bytes": len(head),
                    "head_json_bytes": len(decoded),
                }
            )
            _log(f"tiny {count}: save sent {measured.bytes_sent} B, head {len(head)} B")
        finally:
            await manager.close()
    return rows


def import_times(runs: int) -> dict[str, Any]:
    code = "import time; s = time.perf_counter(); import s3sessions; print(time.perf_counter() - s)"
    samples = []
    for _ in range(runs + 1):
        completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(completed.stdout))
    samples = samples[1:]  # the first warms the OS file cache and .pyc files
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import s3sessions"], capture_output=True, text=True, check=True
    )
    modules: dict[str, int] = {}
    own: dict[str, int] = {}
    for line in completed.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")  # self [us] | cumulative | module
        if len(parts) == 3 and parts[0].strip().isdigit():
            name = parts[2].strip()
            top = name.split(".")[0]
            modules[top] = modules.get(top, 0) + int(parts[0])
            if top == "s3sessions":
                own[name] = int(parts[0])
    return {
        "seconds": _stats(samples),
        "self_us_by_package": dict(sorted(modules.items(), key=lambda item: -item[1])[:8]),
        "slowest_own_modules": dict(sorted(own.items(), key=lambda item: -item[1])[:5]),
    }


async def profiles(server: Any, length: int, runs: int) -> dict[str, Any]:
    """cProfile of a one-turn save (warm) and of a resume at ``length`` messages."""
    from s3sessions import S3SessionManager, Session

    generator = TranscriptGenerator(seed=length)
    manager = S3SessionManager(BUCKET, f"profile-{length}/", endpoint_url=server.proxy_url)
    try:
        session = Session(messages=generator.messages(length))
        await manager.save(session)
        warm = await manager.resume(session.id)
        result = {}
        for name in ("save", "resume"):
            profiler = cProfile.Profile(time.process_time)  # CPU, not time spent waiting for responses
            for _ in range(runs):
                gc.collect()
                if name == "save":
                    warm.messages.extend(generator.turn())
                    profiler.enable()
                    await manager.save(warm)
                else:
                    manager.objects.forget(session.id)  # the resume that reads the segments
                    profiler.enable()
                    await manager.resume(session.id)
                profiler.disable()
            result[name] = pstats.Stats(profiler)
        return result
    finally:
        await manager.close()


async def measure(arguments: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    import boto3

    from .run import S3Server

    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": {
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "runs": arguments.runs,
            "strands_agents": strands_version(),
            "load_average": os.getloadavg()[0],
        }
    }
    with S3Server() as server:
        admin = boto3.client("s3", endpoint_url=server.moto_url, region_name="us-east-1")
        admin.create_bucket(Bucket=BUCKET)
        proxy = Proxy(server.proxy_url)
        meter = Meter(proxy, RequestHook())
        results["lengths"] = [
            await measure_length(server, admin, meter, length, arguments) for length in arguments.lengths
        ]
        if {100, 10_000} <= set(arguments.lengths):
            _log("one-turn saves at 100 and 10,000 messages, alternating")
            results["save_side_by_side"] = await saves_side_by_side(server.proxy_url, 100, 10_000, arguments.runs)
        results["tiny"] = await tiny_history(server, admin, meter, (1_000, 100_000))
        profile = await profiles(server, max(arguments.lengths), arguments.runs)
    results["import"] = import_times(arguments.runs)
    results["config"]["seconds"] = round(time.perf_counter() - started)
    results["config"]["load_average_after"] = os.getloadavg()[0]
    return results, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--runs", type=int, default=7, help="runs per CPU figure (mean reported)")
    parser.add_argument("--no-strands", action="store_true", help="skip Strands even when it is installed")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    arguments = parser.parse_args()
    for name, value in _FAKE_AWS.items():
        os.environ.setdefault(name, value)
    from .cpu_report import write_report

    results, profile = asyncio.run(measure(arguments))
    write_report(results, profile, arguments.out)
    print((arguments.out / "cpu.md").read_text())


if __name__ == "__main__":
    main()
