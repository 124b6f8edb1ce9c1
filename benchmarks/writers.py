"""Concurrent writers on distinct sessions: what the index does when every save of a fleet lands at once.

``writers`` tasks, spread over ``managers`` managers (as over that many Lambda containers), each create a
session and save it again until it has made ``saves`` commits, all at once, through the benchmark proxy
(`benchmarks.s3server`, which sees every request on the wire). Counted from the proxy's log and the managers:

- head PUTs and their 412s: writers on distinct sessions should never refuse each other's heads;
- index writes, how many were conditional and how many lost (412): format 2 writes each entry
  unconditionally, format 1 rewrote a shared shard by compare-and-swap (its managers also count lost rounds);
- index updates that failed or gave up (the library logs each one: the entry stays stale until the next commit);
- entries a fresh ``list()`` then misses or shows at an older version than the writer's last commit.

Works with either core on ``sys.path``: format 2 (this tree) or format 1 (commit 6d0f478, 32 CAS shards).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import pathlib
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from .measure import Proxy

BUCKET = "hot-index"


def use_core(path: str | None) -> None:
    """Puts the s3sessions at ``path`` (a checkout) first on ``sys.path``; call before s3sessions is imported."""
    import sys

    if path:
        if "s3sessions" in sys.modules:
            raise RuntimeError("s3sessions is already imported: choose the core first")
        sys.path.insert(0, path)


def run_worker(module: str, core: str, options: list[str]) -> dict[str, Any]:
    """Runs ``python -m module --worker --core CORE *options`` in a fresh interpreter (two cores cannot share one
    process: each puts its checkout first on ``sys.path``) and returns the JSON it prints."""
    command = [sys.executable, "-m", module, "--worker", "--core", core, *options]
    root = pathlib.Path(__file__).resolve().parent.parent
    completed = subprocess.run(command, cwd=root, stdout=subprocess.PIPE, text=True, check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def core_format() -> int:
    """Returns the index format of the s3sessions on ``sys.path``: 2 (this tree) or 1 (before commit 8848f66)."""
    spec = importlib.util.find_spec("s3sessions")
    assert spec is not None and spec.origin is not None
    return 2 if (pathlib.Path(spec.origin).parent / "engine").is_dir() else 1


def core_label() -> str:
    return "format 2 (entry per session, fan-out 4)" if core_format() == 2 else "format 1 (32 CAS shards)"


def is_head(path: str) -> bool:
    return "/sessions/" in path and path.endswith("/head.json.zst")


def is_index(path: str) -> bool:
    return "/index/" in path


class LogCounter(logging.Handler):
    """Counts the library's warnings that an index entry was left stale (both cores log one per failure)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "index entry" in message and "stale" in message:
            self.count += 1

    def __enter__(self) -> LogCounter:
        logging.getLogger("s3sessions").addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger("s3sessions").removeHandler(self)


@dataclass
class WritersResult:
    core: str
    writers: int
    managers: int
    saves: int
    """Commits per writer (the first creates the session)."""
    seconds: float
    requests: int
    head_puts: int
    head_412: int
    index_writes: int
    index_conditional: int
    index_412: int
    cas_lost: int
    """Format 1: lost compare-and-swap rounds on index shards (each costs a GET and a PUT more)."""
    gave_up: int
    lost: int
    errors: int
    """Saves that raised (a head conflict between distinct sessions would be a bug)."""
    head_wait_max: float = 0.0
    index_wait_max: float = 0.0
    index_wait_mean: float = 0.0
    """Seconds conditional writes queued behind others on their key (the proxy's hot-key mode)."""

    @property
    def commits(self) -> int:
        return self.writers * self.saves

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "commits": self.commits}


def new_manager(bucket: str, prefix: str, endpoint: str, **options: Any) -> Any:
    from s3sessions import S3SessionManager

    return S3SessionManager(bucket, prefix, endpoint_url=endpoint, **options)


async def warm(manager: Any) -> None:
    """Makes a manager warm, unmeasured: the prefix's manifest read (its first save) and, for format 1, every
    shard's ETag and content cached (a ``list()``: 32 GETs; format 2 caches nothing of the index)."""
    from s3sessions import Session

    await manager.save(Session(messages=[{"role": "user", "content": "warm-up"}]))
    if core_format() == 1:
        await manager.list()


async def run_writers(
    endpoint: str,
    proxy: Proxy,
    *,
    writers: int,
    managers: int = 16,
    saves: int = 4,
    prefix: str | None = None,
    bucket: str = BUCKET,
    pool: list[Any] | None = None,
) -> WritersResult:
    """Runs one round of concurrent writers through the proxy at ``endpoint`` (the bucket must exist).

    Args:
        pool: Warm managers to use (their count wins over ``managers``); by default new ones on ``prefix``,
            warmed (unmeasured) before the round.
    """
    from s3sessions import Session, SessionMetadata

    own = pool is None
    if pool is None:
        prefix = prefix or f"writers-{writers}-{time.time_ns()}/"
        pool = [new_manager(bucket, prefix, endpoint) for _ in range(managers)]
        for manager in pool:
            await warm(manager)
    sessions = [Session(metadata=SessionMetadata(agent_name="writer")) for _ in range(writers)]
    conflicts_before = sum(getattr(getattr(m, "index", None), "conflicts", 0) for m in pool)
    errors = 0

    async def writer(index: int) -> None:
        nonlocal errors
        manager, session = pool[index % len(pool)], sessions[index]
        for commit in range(saves):
            session.messages.append({"role": "user", "content": f"writer {index}, commit {commit}: go on"})
            session.messages.append({"role": "assistant", "content": f"done with step {commit} of writer {index}"})
            try:
                await manager.save(session)
            except Exception:
                errors += 1
                return

    try:
        with LogCounter() as gave_up:
            proxy.take_log()
            started = time.perf_counter()
            await asyncio.gather(*(writer(index) for index in range(writers)))
            seconds = time.perf_counter() - started
            records = proxy.take_log()
        cas_lost = sum(getattr(getattr(m, "index", None), "conflicts", 0) for m in pool) - conflicts_before
        listed = {metadata.id: metadata for metadata in await pool[0].list()}
        proxy.take_log()
    finally:
        if own:
            await asyncio.gather(*(manager.close() for manager in pool))
    heads = [r for r in records if r["method"] == "PUT" and is_head(r["path"])]
    index_puts = [r for r in records if r["method"] == "PUT" and is_index(r["path"])]
    lost = sum(1 for s in sessions if s.id not in listed or listed[s.id].version != s.metadata.version)
    index_waits = [r["waited"] for r in index_puts if r["conditional"]] or [0.0]
    return WritersResult(
        core=core_label(),
        writers=writers,
        managers=len(pool),
        saves=saves,
        seconds=round(seconds, 2),
        requests=len(records),
        head_puts=len(heads),
        head_412=sum(1 for r in heads if r["status"] == 412),
        index_writes=len(index_puts),
        index_conditional=sum(1 for r in index_puts if r["conditional"]),
        index_412=sum(1 for r in index_puts if r["status"] == 412),
        cas_lost=cas_lost,
        gave_up=gave_up.count,
        lost=lost,
        errors=errors,
        head_wait_max=round(max([r["waited"] for r in heads] or [0.0]), 3),
        index_wait_max=round(max(index_waits), 3),
        index_wait_mean=round(sum(index_waits) / len(index_waits), 3),
    )


def table(results: list[WritersResult]) -> str:
    """A Markdown table, one row per round."""
    lines = [
        "| index | writers | commits | head 412s | index PUTs | conditional | index 412s / lost CAS rounds "
        "| gave up | entries lost or stale | queued on a key: head max, index mean / max | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        waits = f"{r.head_wait_max:.2f} s, {r.index_wait_mean:.2f} / {r.index_wait_max:.2f} s"
        lines.append(
            f"| {r.core} | {r.writers} | {r.commits} | {r.head_412} | {r.index_writes} | {r.index_conditional} |"
            f" {max(r.index_412, r.cas_lost)} | {r.gave_up} ({r.gave_up / r.commits:.1%}) | {r.lost} | {waits} |"
            f" {r.seconds} |"
        )
    return "\n".join(lines)
