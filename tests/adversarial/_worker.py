"""A separate OS process for the adversarial suite (run as a script, never collected by pytest).

``workload ENDPOINT PREFIX WORKER SEED OPERATIONS OUT RETRIES``: random operations on shared session ids (the
client making at most RETRIES attempts per request); every operation is written to OUT as one JSON line (what it
was, when it started and ended on the system-wide monotonic clock, and what it reported), so that the parent can
check every acknowledged write afterwards.

``zygote ENDPOINT``: imports once, then forks a child per job line on stdin (``TAG PREFIX OPERATION SESSION PAUSE_AT
WHEN``); each child runs one operation and, at its request number PAUSE_AT (before it is sent, or after it
returned), prints ``PAUSED TAG PID`` and stops dead until the parent SIGKILLs it. A child whose operation finishes
first prints ``DONE TAG PID``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import traceback
from typing import Any, TextIO, TypedDict

from pydantic import JsonValue

from s3sessions import AgentError, S3SessionManager, Session, SessionMetadata
from s3sessions.admin.fsck import fsck


class Bounds(TypedDict):
    """S3SessionManager's size bounds, typed for ``**SMALL`` (as in conftest.py)."""

    tail_bytes: int
    segment_bytes: int


SMALL: Bounds = {"tail_bytes": 600, "segment_bytes": 2000}
LATER = time.time() + 10 * 86400
"""fsck's "now" in these runs: everything already written is older than the grace period."""
SHARED = ["m0", "m1", "m2", "m3"]
BUCKET = os.environ.get("S3SESSIONS_TEST_BUCKET", "test-bucket")


def turn(marker: str, words: int = 30) -> list[JsonValue]:
    return [
        {"role": "user", "content": f"question {marker} " + "why " * words},
        {"role": "assistant", "content": f"answer {marker} " + "because " * words},
    ]


def markers(messages: list[Any]) -> list[str]:
    return [
        message["content"].split(" ", 2)[1]
        for message in messages
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str)
    ]


# ------------------------------------------------------------------------------------------------ workload


async def workload(
    endpoint: str, prefix: str, worker: int, seed: int, operations: int, log: TextIO, retries: int
) -> None:
    rng = random.Random(seed)
    choices = ["update"] * 30 + ["save"] * 15 + ["create"] * 8 + ["tag"] * 12 + ["rename"] * 10
    choices += ["rewind"] * 6 + ["fork"] * 6 + ["delete"] * 5 + ["resume"] * 8
    config = {"retries": {"mode": "standard", "total_max_attempts": retries}, "read_timeout": 10}
    async with S3SessionManager(
        bucket=BUCKET, prefix=prefix, endpoint_url=endpoint, client_config=config, **SMALL
    ) as manager:
        for sequence in range(operations):
            operation = rng.choice(choices)
            session_id = rng.choice(SHARED)
            marker = f"w{worker}-{sequence}"
            record: dict[str, Any] = {
                "op": operation,
                "id": session_id,
                "marker": marker,
                "start": time.monotonic(),
            }
            try:
                record.update(await one(manager, rng, operation, session_id, marker))
                record["status"] = "ok"
            except AgentError as exc:
                record["status"] = type(exc).__name__
                record["error"] = str(exc)[:300]
            except Exception as exc:
                record["status"] = "bare"
                record["error"] = "".join(traceback.format_exception(exc))[-3000:]
            record["end"] = time.monotonic()
            log.write(json.dumps(record) + "\n")
            log.flush()


async def one(
    manager: S3SessionManager, rng: random.Random, operation: str, session_id: str, marker: str
) -> dict[str, Any]:
    if operation == "update":
        saved = await manager.update(session_id, lambda session: session.messages.extend(turn(marker)))
        return {"markers": markers(saved.messages)}
    if operation == "save":
        session = await manager.resume(session_id)
        session.messages.extend(turn(marker))
        await manager.save(session)
        return {"markers": markers(session.messages)}
    if operation == "create":
        session = Session(metadata=SessionMetadata(id=session_id, name=f"name-{marker}"), messages=turn(marker))
        await manager.save(session)
        return {"markers": [marker], "name": f"name-{marker}"}
    if operation == "tag":
        await manager.tag(session_id, [f"tag-{marker}"])
        return {"tag": f"tag-{marker}"}
    if operation == "rename":
        await manager.rename(session_id, f"name-{marker}")
        return {"name": f"name-{marker}"}
    if operation == "rewind":
        turns = (await manager.resume(session_id)).metadata.turn_count
        keep = rng.randrange(max(turns - 1, 1))
        kept = await manager.rewind(session_id, keep)
        return {"keep": keep, "markers": markers(kept.messages)}
    if operation == "fork":
        fork = await manager.fork(session_id)
        return {"fork": fork.id}
    if operation == "delete":
        await manager.delete(session_id)
        return {}
    session = await manager.resume(session_id)
    return {"markers": markers(session.messages), "tags": session.metadata.tags, "name": session.metadata.name}


# ---------------------------------------------------------------------------------------------------- kill


class Stopping:
    """Delegates to a store; at request ``pause_at`` prints PAUSED and blocks the whole process (no await)."""

    def __init__(self, inner: Any, pause_at: int, when: str, tag: str) -> None:
        self.inner = inner
        self.pause_at = pause_at
        self.when = when
        self.tag = tag
        self.count = 0

    def stop(self) -> None:
        say("PAUSED", self.tag)
        time.sleep(600)  # the parent SIGKILLs us here
        raise SystemExit("not killed")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in {"get", "head", "put", "copy", "delete", "delete_keys", "list_page", "list_objects",
                        "list_prefixes", "list_versions", "delete_versions"}:  # fmt: skip
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            number = self.count
            if number == self.pause_at and self.when == "before":
                self.stop()
            result = await attribute(*args, **kwargs)
            if number == self.pause_at and self.when == "after":
                self.stop()
            return result

        return call


def say(word: str, tag: str) -> None:
    """One line to the parent: what happened, which job, which process (a short write: atomic on a pipe)."""
    os.write(1, f"{word} {tag} {os.getpid()}\n".encode())


async def kill_target(
    endpoint: str, prefix: str, operation: str, session_id: str, pause_at: int, when: str, tag: str
) -> None:
    from s3sessions.storage.s3 import S3ObjectStore

    store = Stopping(S3ObjectStore(BUCKET, endpoint_url=endpoint), pause_at, when, tag)
    async with S3SessionManager(store=store, prefix=prefix, **SMALL) as manager:
        await run_operation(manager, operation, session_id)
    say("DONE", tag)


def zygote(endpoint: str) -> None:
    """Imports everything once, then forks one child per job line read from stdin (``TAG PREFIX OPERATION SESSION
    PAUSE_AT WHEN``): each child is a fresh process the parent can SIGKILL, without paying the imports again."""
    import aioboto3  # noqa: F401  (imported before forking: the children start warm)
    import aiobotocore.session  # noqa: F401

    children = []
    for line in sys.stdin:
        tag, prefix, operation, session_id, pause_at, when = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                asyncio.run(kill_target(endpoint, prefix, operation, session_id, int(pause_at), when, tag))
            except BaseException:
                traceback.print_exc()
                say("FAILED", tag)
                code = 1
            os._exit(code)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


async def run_operation(manager: S3SessionManager, operation: str, session_id: str) -> Any:
    """The operations the kill test interrupts (the parent runs the same ones to know the 'after' state)."""
    if operation == "save":
        session = await manager.resume(session_id)
        session.messages.extend(turn("added-1", 60) + turn("added-2", 60) + turn("added-3", 60))
        return await manager.save(session)
    if operation == "create":
        session = Session(metadata=SessionMetadata(id="created", name="created"), messages=turn("c1", 60) * 4)
        return await manager.save(session)
    if operation == "fork":
        return await manager.fork(session_id, "the fork")
    if operation == "rewind":
        return await manager.rewind(session_id, 1)
    if operation == "tag":
        return await manager.tag(session_id, ["killed"])
    if operation == "rename":
        return await manager.rename(session_id, "renamed")
    if operation == "delete":
        return await manager.delete(session_id)
    if operation == "fsck-repair":
        return await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    raise ValueError(operation)


def main() -> None:
    mode, *arguments = sys.argv[1:]
    if mode == "workload":
        endpoint, prefix, worker, seed, operations, out, retries = arguments
        with open(out, "w", encoding="utf-8") as log:
            asyncio.run(workload(endpoint, prefix, int(worker), int(seed), int(operations), log, int(retries)))
    else:
        (endpoint,) = arguments
        zygote(endpoint)


if __name__ == "__main__":
    main()
