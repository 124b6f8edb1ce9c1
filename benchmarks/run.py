"""Runs the benchmark: every operation, every session length, every store, against one moto server.

Usage (from the repository root)::

    python -m benchmarks.run                   # full run: all stores, 10/100/1,000 messages, 20 ms latency
    python -m benchmarks.run --quick           # CI-sized: s3sessions and the naive baseline only
    python -m benchmarks.run --latency-ms 0 --stores s3sessions,naive-json --out /tmp/bench

Writes ``results.json``, ``results.md`` and ``cost.png`` (when matplotlib is installed) to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .data import TranscriptGenerator
from .measure import Measurement, Meter, Proxy, RequestHook
from .stores import (
    NaiveStore,
    OursStore,
    SameAs,
    Store,
    StrandsS3Store,
    StrandsSnapshotStore,
    Unsupported,
    strands_version,
)
from .targets import check_targets

BUCKET = "bench-bucket"
OPERATIONS = (
    "create",
    "save_turn",
    "save_turn_json",
    "resume",
    "resume_cold",
    "list",
    "list_page",
    "fork",
    "rewind",
    "tag",
    "rename",
    "delete",
)
STORES: dict[str, type[Store]] = {
    "s3sessions": OursStore,
    "naive-json": NaiveStore,
    "strands-s3": StrandsS3Store,
    "strands-snapshot": StrandsSnapshotStore,
}
FULL_LENGTHS = (10, 100, 1000)
RESULTS_DIR = Path(__file__).parent / "results"
_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_SESSION_TOKEN": "benchmark",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class S3Server:
    """The moto server and measuring proxy, in a child process (see `benchmarks.s3server`)."""

    def __enter__(self) -> S3Server:
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.s3server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=root,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))},
            text=True,
        )
        assert self.process.stdout is not None
        urls = json.loads(self.process.stdout.readline())
        self.proxy_url: str = urls["proxy"]
        self.moto_url: str = urls["moto"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _stored_bytes(admin: Any, prefix: str) -> int:
    total = 0
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        total += sum(item["Size"] for item in page.get("Contents", []))
    return total


def _json_size(messages: Sequence[Any]) -> int:
    return len(json.dumps(list(messages), separators=(",", ":")).encode())


async def _run_store(
    store_name: str, length: int, server: S3Server, meter: Meter, admin: Any, log: Any, latency_ms: float
) -> list[dict[str, Any]]:
    generator = TranscriptGenerator(seed=length)
    messages = generator.messages(length)
    turn = generator.turn()
    prefix = f"{store_name}/{length}/"
    store = STORES[store_name](BUCKET, prefix, server.proxy_url, meter.hook)
    rows: list[dict[str, Any]] = []
    expected = length  # messages a resume must return
    await store.open()
    try:
        await store.warm(generator.short_turn())
        baseline = _stored_bytes(admin, prefix)
        for operation in OPERATIONS:
            row: dict[str, Any] = {"store": store_name, "length": length, "operation": operation}
            started = meter.begin()
            try:
                if operation == "create":
                    await store.create(messages)
                    returned: Any = None
                elif operation in ("save_turn", "save_turn_json"):
                    returned = await getattr(store, operation)(turn)
                    expected += len(turn)
                else:
                    returned = await getattr(store, operation)()
            except SameAs as exc:
                meter.end(started)
                row.update(status="same", same_as=exc.operation, note=str(exc))
            except Unsupported as exc:
                meter.end(started)
                row.update(status="unsupported", note=str(exc))
            except Exception as exc:  # a store failing is a result, not a crash of the whole run
                meter.end(started)
                row.update(status="error", note=f"{type(exc).__name__}: {exc}")
            else:
                measurement: Measurement = meter.end(started)
                row.update(status="ok", **asdict(measurement))
                if latency_ms:
                    row["wall_over_latency"] = round(measurement.wall_seconds * 1000 / latency_ms, 1)
                row["stored_bytes"] = _stored_bytes(admin, prefix) - baseline
                if returned is not None:
                    row["returned"] = returned
                if measurement.proxy_requests != measurement.request_count:
                    row["note"] = (
                        f"botocore hooks counted {measurement.request_count} requests, "
                        f"the proxy {measurement.proxy_requests}"
                    )
                if operation in ("resume", "resume_cold") and returned != expected:
                    row.update(status="error", note=f"resumed {returned} messages, expected {expected}")
            rows.append(row)
            log(row)
    finally:
        await store.close()
    return rows


def _log_row(row: dict[str, Any]) -> None:
    if row["status"] != "ok":
        print(f"  {row['store']:17} {row['length']:5} {row['operation']:12} {row['status']}: {row.get('note')}")
        return
    print(
        f"  {row['store']:17} {row['length']:5} {row['operation']:12} req={row['request_count']:5} "
        f"rt={row['round_trips']:4} sent={row['bytes_sent']:9} recv={row['bytes_received']:9} "
        f"wall={row['wall_seconds'] * 1000:8.1f}ms cpu={row['cpu_seconds'] * 1000:7.1f}ms",
        flush=True,
    )


async def run(
    *,
    stores: Sequence[str],
    lengths: Sequence[int],
    latency_ms: float,
    out: Path | None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Runs the benchmark and returns the results (also written to ``out`` when given)."""
    saved = {name: os.environ.get(name) for name in (*_FAKE_AWS, "AWS_ENDPOINT_URL_S3", "AWS_PROFILE")}
    try:
        return await _run(stores=stores, lengths=lengths, latency_ms=latency_ms, out=out, quiet=quiet)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _run(
    *,
    stores: Sequence[str],
    lengths: Sequence[int],
    latency_ms: float,
    out: Path | None,
    quiet: bool,
) -> dict[str, Any]:
    import boto3

    os.environ.update(_FAKE_AWS)  # fake credentials: nothing here may reach a real account
    os.environ.pop("AWS_PROFILE", None)
    log = (lambda row: None) if quiet else _log_row
    started = time.time()
    with S3Server() as server:
        # Strands' S3Storage takes no endpoint argument; botocore reads this variable.
        os.environ["AWS_ENDPOINT_URL_S3"] = server.proxy_url
        admin = boto3.client("s3", endpoint_url=server.moto_url, region_name="us-east-1")
        admin.create_bucket(Bucket=BUCKET)
        proxy = Proxy(server.proxy_url)
        proxy.set_latency(latency_ms)
        meter = Meter(proxy, RequestHook())
        rows: list[dict[str, Any]] = []
        for length in lengths:
            for store_name in stores:
                rows.extend(await _run_store(store_name, length, server, meter, admin, log, latency_ms))
    turn = TranscriptGenerator(seed=0).turn()
    results: dict[str, Any] = {
        "config": {
            "stores": list(stores),
            "lengths": list(lengths),
            "latency_ms": latency_ms,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "strands_agents": strands_version() if any(name.startswith("strands") for name in stores) else None,
            "seconds": round(time.time() - started, 1),
        },
        "message_bytes": {
            str(length): _json_size(TranscriptGenerator(seed=length).messages(length)) for length in lengths
        },
        "turn_bytes": _json_size(turn),
        "rows": rows,
    }
    results["targets"] = check_targets(results)
    if out is not None:
        from .report import write_reports

        write_reports(results, out)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small CI run: s3sessions and naive-json only, no files written"
    )
    parser.add_argument("--stores", help=f"comma-separated, from {', '.join(STORES)}")
    parser.add_argument("--lengths", help="comma-separated message counts (even), default 10,100,1000")
    parser.add_argument("--latency-ms", type=float, help="added latency per request, ms (default 20)")
    parser.add_argument("--out", type=Path, help=f"output directory (default {RESULTS_DIR}; quick: none)")
    args = parser.parse_args(argv)
    stores = args.stores.split(",") if args.stores else (["s3sessions", "naive-json"] if args.quick else list(STORES))
    unknown = [name for name in stores if name not in STORES]
    if unknown:
        parser.error(f"unknown store(s): {', '.join(unknown)}")
    if any(name.startswith("strands") for name in stores) and strands_version() is None:
        parser.error("the Strands stores need `pip install -r benchmarks/requirements.txt` (see benchmarks/README.md)")
    lengths = [int(item) for item in args.lengths.split(",")] if args.lengths else list(FULL_LENGTHS)
    latency = args.latency_ms if args.latency_ms is not None else 20.0
    out = args.out if args.out is not None else (None if args.quick else RESULTS_DIR)
    results = asyncio.run(run(stores=stores, lengths=lengths, latency_ms=latency, out=out))
    print(f"\nDESIGN targets ({results['config']['seconds']} s):")
    for target in results["targets"]:
        print(f"  {'ok  ' if target['met'] else 'MISS'} {target['target']} [{target['length']}]: {target['measured']}")
    if out is not None:
        print(f"\nwrote {out}/results.md, results.json" + (", cost.png" if (out / "cost.png").exists() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
