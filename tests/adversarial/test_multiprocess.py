"""Several OS processes race random operations on four shared session ids (half of them through a proxy that
breaks requests), then every acknowledged write is checked against what is stored.

What must hold, for each shared session, using the processes' logs (each operation with its start and end on the
system-wide monotonic clock):

- an acknowledged append is in the final messages, unless a rewind or delete that may have happened ended after it
  started; and wherever it is, everything before it is exactly what that append saved (no lost update, no
  interleaving of two writers' turns);
- an acknowledged tag is kept unless a delete may have come after; the last acknowledged rename wins unless a
  later rename, create or delete may have come after; an acknowledged delete leaves nothing unless a create may
  have come after;
- every fork and every shared session resumes whole; fsck finds nothing torn and --repair leaves a clean prefix
  whose index lists exactly the live heads; no process ever saw a bare exception.

Counts: 4 processes x 30 operations = 120 operations on 4 shared ids, 2 of the processes through the fault proxy
with botocore's retries off (5% of requests: 503, 500, drops before and after; 3% of conditional PUTs answered
409): about 20 injected faults; then every log entry checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import LATER
from faults import FaultProxy

from s3sessions import SessionNotFound
from s3sessions.admin.fsck import fsck

from .conftest import PREFIX, TALLY, markers, s3_manager

WORKER = str(Path(__file__).with_name("_worker.py"))
PROCESSES = 4
OPERATIONS = 30
SEED = 41
SHARED = ["m0", "m1", "m2", "m3"]
POSSIBLY = {"ok", "StorageError", "PreconditionFailed", "WriteConflict", "ObjectMissing", "bare"}
"""Statuses after which an operation may have taken effect (an AgentError other than StorageError means not)."""


def run_workers(endpoints: list[tuple[str, int]], tmp_path: Path) -> list[dict[str, Any]]:
    """Starts one process per (endpoint, botocore attempts) and returns every line of their logs."""
    processes = []
    for worker, (endpoint, retries) in enumerate(endpoints):
        out = tmp_path / f"worker{worker}.jsonl"
        arguments = [endpoint, PREFIX, worker, SEED + worker, OPERATIONS, out, retries]
        command = [sys.executable, WORKER, "workload", *map(str, arguments)]
        processes.append((subprocess.Popen(command, env=dict(os.environ)), out))
    records = []
    for process, out in processes:
        assert process.wait(timeout=150) == 0
        records += [json.loads(line) for line in out.read_text().splitlines()]
    return records


def after(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """True if ``second`` may have taken effect after ``first`` (it ended after ``first`` started)."""
    return second is not first and second["end"] > first["start"]


def check_session(session_id: str, records: list[dict[str, Any]], final: Any) -> list[str]:
    problems: list[str] = []
    ops = [record for record in records if record["id"] == session_id]
    found = markers(final.messages) if final is not None else None

    def may(record: dict[str, Any], kinds: set[str], since: dict[str, Any]) -> bool:
        return record["op"] in kinds and record["status"] in POSSIBLY and after(since, record)

    for append in (r for r in ops if r["op"] in {"update", "save"} and r["status"] == "ok"):
        mark = append["marker"]
        if found is not None and mark in found:
            position = found.index(mark)
            if found[: position + 1] != append["markers"]:
                problems.append(f"{session_id}: history before {mark} differs from what that save wrote")
        elif not any(may(other, {"rewind", "delete"}, append) for other in ops):
            problems.append(f"{session_id}: acknowledged append {mark} is lost")
    for tagging in (r for r in ops if r["op"] == "tag" and r["status"] == "ok"):
        if not any(may(other, {"delete"}, tagging) for other in ops) and (
            final is None or tagging["tag"] not in final.metadata.tags
        ):
            problems.append(f"{session_id}: acknowledged tag {tagging['tag']} is lost")
    renames = [r for r in ops if r["op"] == "rename" and r["status"] == "ok"]
    if renames:
        last = max(renames, key=lambda record: record["end"])
        if not any(may(other, {"rename", "create", "delete"}, last) for other in ops) and (
            final is None or final.metadata.name != last["name"]
        ):
            problems.append(f"{session_id}: the last acknowledged rename {last['name']} is lost")
    for deleting in (r for r in ops if r["op"] == "delete" and r["status"] == "ok"):
        if not any(may(other, {"create", "update"}, deleting) for other in ops) and final is not None:
            problems.append(f"{session_id}: acknowledged delete undone")
    return problems


def test_processes_racing_on_shared_ids_never_lose_an_acknowledged_write(s3_endpoint, tmp_path):
    proxy = FaultProxy(
        s3_endpoint,
        rate=0.05,
        seed=SEED,
        kinds=("slow_down", "internal_error", "drop_before", "drop_after"),
        conflicts=0.03,
    ).start()
    try:
        endpoints = [(s3_endpoint, 3) if w % 2 == 0 else (proxy.endpoint_url, 1) for w in range(PROCESSES)]
        records = run_workers(endpoints, tmp_path)
    finally:
        proxy.stop()
    TALLY["operations"] += len(records)
    TALLY["faults"] += sum(proxy.injected.values())
    assert len(records) == PROCESSES * OPERATIONS
    bare = [record for record in records if record["status"] == "bare"]
    assert not bare, bare[0]["error"]
    acknowledged = sum(record["status"] == "ok" for record in records)
    assert acknowledged > len(records) // 2, {r["status"] for r in records}

    async def verify() -> list[str]:
        problems: list[str] = []
        async with s3_manager(s3_endpoint) as manager:
            for session_id in SHARED:
                try:
                    final = await manager.resume(session_id)  # never CorruptObject
                except SessionNotFound:
                    final = None
                problems += check_session(session_id, records, final)
            for record in records:
                if record["op"] == "fork" and record["status"] == "ok":
                    fork = await manager.resume(record["fork"])
                    if fork.metadata.parent_id != record["id"] or not fork.messages:
                        problems.append(f"fork {record['fork']} of {record['id']} is not a copy of it")
            report = await fsck(manager, grace_seconds=0, now=LATER)
            if report.missing_segments or report.corrupt:
                problems.append(f"fsck: {report.summary()}")
            await fsck(manager, repair=True, grace_seconds=0, now=LATER)
            clean = await fsck(manager, grace_seconds=0, now=LATER)
            if not clean.clean:
                problems.append(f"after repair: {clean.summary()}")
            for metadata in await manager.list():
                if (await manager.resume(metadata.id)).metadata.version != metadata.version:
                    problems.append(f"{metadata.id}: the index disagrees with the head after repair")
        return problems

    problems = asyncio.run(verify())
    assert problems == []
