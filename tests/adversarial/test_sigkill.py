"""SIGKILL at random points: an OS process runs one operation against moto and is killed dead (no ``finally``, no
clean-up) right before or right after one of its requests, chosen at random (seeded). Afterwards the session is
exactly as before the operation or exactly as after it, fsck finds nothing torn, and ``fsck --repair`` leaves a
clean prefix whose index agrees with the heads. fsck --repair itself is killed too, then run again.

Counts: 8 operations (save sealing a segment, create, fork, rewind, tag, rename, delete, fsck --repair) x 2 kill
points each = 16 processes SIGKILLed (plus their reference runs and about 100 checking operations).
"""

from __future__ import annotations

import asyncio
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import LATER

from s3sessions import S3SessionManager, SessionNotFound
from s3sessions.admin.fsck import fsck
from s3sessions.storage.s3 import S3ObjectStore

from .conftest import BUCKET, PREFIX, SMALL, STORE_METHODS, TALLY, content, saved

WORKER = str(Path(__file__).with_name("_worker.py"))
OPERATIONS = ["save", "create", "fork", "rewind", "tag", "rename", "delete", "fsck-repair"]
KILLS_PER_OPERATION = 2
SEED = 2026
VICTIM = "victim"


class Counting:
    """Counts the requests an operation makes (the worker numbers them the same way)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in STORE_METHODS:
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await attribute(*args, **kwargs)

        return call


def manager_on(store: Any, prefix: str) -> S3SessionManager:
    return S3SessionManager(store=store, prefix=prefix, **SMALL)


async def prepare(store: Any, prefix: str) -> None:
    """The victim (segments and a tail) and leftovers for fsck --repair to work on: a lost index entry, an orphan
    segment, a folder without a head."""
    from s3sessions.formats.bodies import segment_body

    manager = manager_on(store, prefix)
    await saved(manager, VICTIM, 6)
    await saved(manager, "bystander", 2)
    head = await manager.objects.read_live_head(VICTIM)
    orphan = f"{head.record.incarnation}/{'0' * 64}.{'1' * 12}"
    await store.put(manager.layout.segment_named(VICTIM, orphan), segment_body([b'"orphan"'], max_bytes=10**6))
    await store.put(f"{prefix}sessions/headless/segments/{'2' * 32}/{'3' * 64}.{'4' * 12}.json.zst", b"x")
    for item in await store.list_objects(f"{prefix}index/"):
        if "~bystander~" in item.key:
            await store.delete_keys([item.key])


async def state(store: Any, prefix: str) -> dict[str, Any]:
    """What a reader sees: each session's content (forks by their parent, not their random id)."""
    manager = manager_on(store, prefix)
    seen: dict[str, Any] = {}
    for folder in await store.list_prefixes(f"{prefix}sessions/"):
        session_id = folder[len(f"{prefix}sessions/") : -1]
        try:
            session = await manager.resume(session_id)  # never CorruptObject
        except SessionNotFound:
            continue
        name = f"fork of {session.metadata.parent_id}" if session.metadata.parent_id else session_id
        seen[name] = content(session)
    return seen


async def copy_prefix(store: Any, source: str, target: str) -> None:
    """Copies every object of a prefix server-side (same bytes, so the same ETags, and so the same index keys)."""
    objects = await store.list_objects(source)
    await asyncio.gather(*(store.copy(item.key, target + item.key[len(source) :]) for item in objects))


async def reference(
    store: Any, template: str, operation: str, prefix: str
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Runs the operation uninterrupted on a copy of the template: the states before and after, and its requests."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _worker import run_operation

    await copy_prefix(store, template, prefix)
    before = await state(store, prefix)
    counting = Counting(store)
    await run_operation(manager_on(counting, prefix), operation, VICTIM)
    return before, await state(store, prefix), counting.count


def kill_them(endpoint: str, jobs: list[tuple[str, str, int, str]]) -> dict[str, str]:
    """Forks one worker process per job (through a pre-imported zygote), SIGKILLs each when it says it stopped at
    its request, and returns what each said (PAUSED, DONE, FAILED or timeout)."""
    zygote = subprocess.Popen(
        [sys.executable, WORKER, "zygote", endpoint],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    for number, (prefix, operation, at, when) in enumerate(jobs):
        zygote.stdin.write(f"{number} {prefix} {operation} {VICTIM} {at} {when}\n")
    zygote.stdin.close()
    said: dict[str, str] = {}
    deadline = time.monotonic() + 90
    with selectors.DefaultSelector() as selector:
        selector.register(zygote.stdout, selectors.EVENT_READ)
        while len(said) < len(jobs) and time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                continue
            line = zygote.stdout.readline()
            if not line:
                break
            word, tag, pid = line.split()
            said[tag] = word
            if word == "PAUSED":
                os.kill(int(pid), signal.SIGKILL)
                TALLY["kills"] += 1
    zygote.wait(timeout=60)
    zygote.stdout.close()
    return {str(tag): said.get(str(tag), "timeout") for tag in range(len(jobs))}


async def settle(store: Any, prefix: str) -> list[str]:
    manager = manager_on(store, prefix)
    problems = []
    report = await fsck(manager, grace_seconds=0, now=LATER)
    if report.missing_segments or report.corrupt:
        problems.append(f"torn: {report.summary()}")
    await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    after = await fsck(manager, grace_seconds=0, now=LATER)
    if not after.clean:
        problems.append(f"not clean after repair: {after.summary()}")
    for metadata in await manager.list():
        if (await manager.resume(metadata.id)).metadata.version != metadata.version:
            problems.append(f"{metadata.id}: index disagrees with the head")
    return problems


def test_sigkill_at_random_requests_leaves_each_session_before_or_after(s3_endpoint):
    asyncio.run(sigkill_run(s3_endpoint))


async def sigkill_run(endpoint: str) -> None:
    rng = random.Random(SEED)
    store = S3ObjectStore(BUCKET, endpoint_url=endpoint)
    try:
        template = f"{PREFIX}template/"
        await prepare(store, template)
        runs = await asyncio.gather(*(reference(store, template, op, f"{PREFIX}reference-{op}/") for op in OPERATIONS))
        references = dict(zip(OPERATIONS, runs, strict=True))
        plan = [
            (operation, rng.randint(1, references[operation][2]), rng.choice(["before", "after"]))
            for operation in OPERATIONS
            for _ in range(KILLS_PER_OPERATION)
        ]
        prefixes = [f"{PREFIX}kill-{index}/" for index in range(len(plan))]
        await asyncio.gather(*(copy_prefix(store, template, prefix) for prefix in prefixes))
        said = kill_them(endpoint, [(prefix, *step) for prefix, step in zip(prefixes, plan, strict=True)])

        async def check(prefix: str, step: tuple[str, int, str], line: str) -> list[str]:
            operation, at, when = step
            where = f"{operation} killed {when} request {at}"
            if line not in {"PAUSED", "DONE"}:
                return [f"{where}: the worker said {line!r}"]
            before, after, _ = references[operation]
            now = await state(store, prefix)
            problems = []
            if now not in (before, after):
                problems.append(f"{where}: neither before nor after: {sorted(now)}")
            problems += [f"{where}: {problem}" for problem in await settle(store, prefix)]
            if await state(store, prefix) != now:
                problems.append(f"{where}: fsck --repair changed what readers see")
            TALLY["operations"] += 8
            return problems

        lines = [said[str(index)] for index in range(len(plan))]
        found = await asyncio.gather(*(check(*args) for args in zip(prefixes, plan, lines, strict=True)))
    finally:
        await store.close()
    assert sum(line == "PAUSED" for line in said.values()) >= len(plan) // 2, said
    assert [problem for problems in found for problem in problems] == []
