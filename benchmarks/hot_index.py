"""Hot index: many writers on distinct sessions, all updating the sharded index at once.

For each shard count, 64 writers (spread over 16 managers, as over 16 Lambda containers) each create a session
and save it again ``--commits`` times, with ``--latency-ms`` added to every request (a real S3 round trip).
Reported per shard count: lost CAS rounds on the index (conflicts), index updates that gave up (entries left
stale until the next save or a reindex), entries missing from a fresh ``list()``, wall time, and the GETs one
``list()`` costs. This is the measurement behind the default shard count (`s3sessions.index.DEFAULT_SHARD_COUNT`).

Run: ``python -m benchmarks.hot_index`` (writes benchmarks/results/hot_index.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
import time
from dataclasses import dataclass
from typing import Any

from s3sessions import S3SessionManager, Session
from s3sessions.local_s3 import LocalS3

RESULTS = pathlib.Path(__file__).parent / "results" / "hot_index.md"
BUCKET = "hot-index"


@dataclass
class HotIndexResult:
    shard_count: int
    writers: int
    commits: int
    conflicts: int
    gave_up: int
    lost: int
    seconds: float


class _GaveUp(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "index entry is stale" in record.getMessage():
            self.count += 1


def _delay(latency: float) -> Any:
    async def sleep(**_: Any) -> None:
        await asyncio.sleep(latency)

    return sleep


async def run_hot_index(
    endpoint: str,
    *,
    shard_count: int,
    writers: int = 64,
    managers: int = 16,
    commits: int = 5,
    latency_ms: float = 20.0,
    prefix: str | None = None,
) -> HotIndexResult:
    """Runs one hot-index round against the S3 at ``endpoint`` (bucket `BUCKET` must exist)."""
    prefix = prefix or f"hot-{shard_count}-{time.time_ns()}/"
    gave_up = _GaveUp()
    logging.getLogger("s3sessions").addHandler(gave_up)
    pool = [S3SessionManager(BUCKET, prefix, endpoint_url=endpoint, shard_count=shard_count) for _ in range(managers)]
    try:
        for manager in pool:
            client = await manager.store.client()  # type: ignore[attr-defined]
            client.meta.events.register("before-send.s3", _delay(latency_ms / 1000))
        sessions = [Session() for _ in range(writers)]

        async def writer(index: int) -> None:
            manager, session = pool[index % managers], sessions[index]
            for commit in range(commits + 1):
                session.messages.append({"role": "user", "content": f"writer {index} commit {commit}"})
                await manager.save(session)

        started = time.perf_counter()
        await asyncio.gather(*(writer(index) for index in range(writers)))
        seconds = time.perf_counter() - started
        async with S3SessionManager(BUCKET, prefix, endpoint_url=endpoint) as fresh:
            listed = {m.id: m for m in await fresh.list()}
        lost = sum(1 for s in sessions if s.id not in listed or listed[s.id].version != s.metadata.version)
        return HotIndexResult(
            shard_count, writers, commits + 1, sum(m.index.conflicts for m in pool), gave_up.count, lost, seconds
        )
    finally:
        logging.getLogger("s3sessions").removeHandler(gave_up)
        await asyncio.gather(*(manager.close() for manager in pool))


def table(results: list[HotIndexResult], latency_ms: float) -> str:
    lines = [
        f"64 writers on 64 sessions over 16 managers, {results[0].commits} commits each, {latency_ms:g} ms per request",
        "",
        "| shards | index conflicts | per commit | updates that gave up | entries lost or stale | wall s | list GETs |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        total = r.writers * r.commits
        lines.append(
            f"| {r.shard_count} | {r.conflicts} | {r.conflicts / total:.2f} | {r.gave_up} | {r.lost} |"
            f" {r.seconds:.1f} | {r.shard_count} |"
        )
    return "\n".join(lines) + "\n"


async def main_async(arguments: argparse.Namespace) -> str:
    import boto3

    with LocalS3() as s3:
        boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        results = [
            await run_hot_index(
                s3.endpoint_url, shard_count=count, commits=arguments.commits, latency_ms=arguments.latency_ms
            )
            for count in arguments.shards
        ]
    return table(results, arguments.latency_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--commits", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    arguments = parser.parse_args()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    text = asyncio.run(main_async(arguments))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
