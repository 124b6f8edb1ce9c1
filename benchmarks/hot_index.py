"""Hot index: 16, 64 and 256 concurrent writers on distinct sessions, with S3's per-key limit on conditional writes.

Each round (`benchmarks.writers`): ``N`` writers over 16 warm managers each make 4 commits on their own session,
all at once, through the benchmark proxy with ``--latency-ms`` per request. Three modes:

- ``plain``: moto as it is (hundreds of conditional writes a second on one key);
- ``hot-keys``: the proxy serialises conditional writes per key, ``--hot-key-ms`` (60) each, so one key takes
  about 15 a second, as real S3 Standard does (DESIGN.md, "Limits of real S3");
- ``saturated``: the same with ``--saturated-ms`` (500) per conditional write, a scaled model: moto and a
  CPU-bound client on two cores offer about 50 commits a second, far below the 32 x 15 = 480 conditional writes
  a second that format 1's shards take on S3, so at 60 ms its shards never saturate here; at 500 ms they take
  64 a second, about what this machine offers, as a fleet saving more than 480 times a second would on S3.

Run for this tree's core and, with ``--core PATH``, for an older checkout (format 1: every save rewrote one of
32 index shards by compare-and-swap, so those shards are the hot keys); each core runs in its own process.

Run: ``python -m benchmarks.hot_index [--core /tmp/old-core]`` (writes benchmarks/results/hot_index.{md,json}).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import sys
import time
from typing import Any

from .writers import BUCKET, WritersResult, run_worker, run_writers, table, use_core

RESULTS = pathlib.Path(__file__).parent / "results"
MODES = ("plain", "hot-keys", "saturated")
_FAKE_AWS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}


async def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    """Runs every (mode, writers) round for the core on ``sys.path``; returns the results as plain data."""
    import boto3

    from .measure import Proxy
    from .run import S3Server
    from .writers import core_label, new_manager, warm

    rounds: list[dict[str, Any]] = []
    with S3Server() as server:
        boto3.client("s3", endpoint_url=server.moto_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        proxy = Proxy(server.proxy_url)
        proxy.set_latency(arguments.latency_ms)
        # One fleet of warm managers on one prefix for every round (as long-lived Lambda containers).
        pool = [new_manager(BUCKET, "hot/", server.proxy_url) for _ in range(arguments.managers)]
        try:
            for manager in pool:
                await warm(manager)
            for mode in arguments.modes:
                proxy.set_hot_keys({"hot-keys": arguments.hot_key_ms, "saturated": arguments.saturated_ms}.get(mode, 0))
                for writers in arguments.writers:
                    result = await run_writers(
                        server.proxy_url, proxy, writers=writers, saves=arguments.saves, pool=pool
                    )
                    print(f"  {mode:8} {table([result]).splitlines()[-1]}", file=sys.stderr, flush=True)
                    rounds.append({"mode": mode, **result.as_dict()})
        finally:
            await asyncio.gather(*(manager.close() for manager in pool))
    return {"core": core_label(), "rounds": rounds}


def markdown(runs: list[dict[str, Any]], arguments: argparse.Namespace) -> str:
    lines = [
        "# Hot index",
        "",
        f"Writers on distinct sessions over {arguments.managers} warm managers, {arguments.saves} commits each "
        f"(the first creates the session), all at once; {arguments.latency_ms:g} ms added to every request. "
        f"*hot-keys*: the proxy also serialises conditional writes per key, {arguments.hot_key_ms:g} ms each "
        "(about 15 a second per key, as on S3 Standard); *saturated*: the same at "
        f"{arguments.saturated_ms:g} ms, a scaled model of a fleet whose saves outrun the shards (see "
        "`benchmarks/hot_index.py`). Counted on the wire by the benchmark proxy. "
        "Produced by `python -m benchmarks.hot_index --core /tmp/old-core` (format 1 = commit 6d0f478).",
        "",
        "Columns: *head 412s*: refused head writes (distinct sessions never race on a head); *index PUTs* and how "
        "many were *conditional*; *index 412s / lost CAS rounds*: index writes refused because another writer "
        "changed the shard first (each costs a GET and a PUT more); *gave up*: index updates that failed, leaving "
        "the entry stale until the session's next commit or a reindex; *entries lost or stale*: sessions a fresh "
        "`list()` then missed or showed at an older version.",
    ]
    for mode in arguments.modes:
        lines += ["", f"## {mode}", ""]
        results = [
            WritersResult(**{k: v for k, v in r.items() if k not in ("mode", "commits")})
            for run in runs
            for r in run["rounds"]
            if r["mode"] == mode
        ]
        lines.append(table(results))
    return "\n".join(lines) + "\n"


def _worker(arguments: argparse.Namespace, core: str) -> dict[str, Any]:
    """Runs `measure` for one core in a fresh interpreter; returns its results."""
    options: list[str] = []
    for name in ("writers", "modes"):
        options += [f"--{name}", *map(str, getattr(arguments, name))]
    for name in ("saves", "managers", "latency_ms", "hot_key_ms", "saturated_ms"):
        options += [f"--{name.replace('_', '-')}", str(getattr(arguments, name))]
    return run_worker("benchmarks.hot_index", core, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--saves", type=int, default=4, help="commits per writer (default 4)")
    parser.add_argument("--managers", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--hot-key-ms", type=float, default=60.0)
    parser.add_argument("--saturated-ms", type=float, default=500.0)
    parser.add_argument("--core", action="append", help="an s3sessions checkout to measure besides this tree's")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    arguments = parser.parse_args()
    for name, value in _FAKE_AWS.items():
        os.environ.setdefault(name, value)
    if arguments.worker:
        use_core(arguments.core[0] if arguments.core and arguments.core[0] != "." else None)
        print(json.dumps(asyncio.run(measure(arguments))))
        return
    started = time.perf_counter()
    runs = [_worker(arguments, core) for core in [".", *(arguments.core or [])]]
    text = markdown(runs, arguments) + f"\nThe whole run took {time.perf_counter() - started:.0f} s.\n"
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / "hot_index.md").write_text(text)
    (arguments.out / "hot_index.json").write_text(json.dumps(runs, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
