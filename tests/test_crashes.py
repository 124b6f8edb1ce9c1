"""Crash an operation after every write it makes: readers see the old or the new session, never a torn one,
and `fsck` reports the leftovers (orphans, stale index entries) and `--repair` clears them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import BUCKET, LATER

from s3sessions import S3SessionManager, Session, SessionMetadata, SessionNotFound
from s3sessions.admin.fsck import fsck
from s3sessions.storage.s3 import S3ObjectStore

SMALL: dict[str, Any] = {"tail_bytes": 600, "segment_bytes": 2000}


class Crash(BaseException):
    """The process died (a BaseException, so no `except Exception` in the library can swallow it)."""


class CrashingStore:
    """Delegates to a real store and, once armed, 'dies' right after its n-th write (put, copy, delete) completes."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.crash_after: int | None = None
        self.writes = 0

    def arm(self, crash_after: int | None) -> None:
        self.writes = 0
        self.crash_after = crash_after

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in {"put", "copy", "delete", "delete_keys", "delete_versions"}:
            return attribute

        async def write(*args: Any, **kwargs: Any) -> Any:
            result = await attribute(*args, **kwargs)
            self.writes += 1
            if self.writes == self.crash_after:
                raise Crash(f"crashed after write {self.writes} ({name})")
            return result

        return write


def crashing_manager(endpoint: str, prefix: str) -> tuple[S3SessionManager, CrashingStore]:
    store = CrashingStore(S3ObjectStore(BUCKET, endpoint_url=endpoint))
    return S3SessionManager(store=store, prefix=prefix, **SMALL), store  # type: ignore[arg-type]


def turn(index: int) -> list[Any]:
    return [
        {"role": "user", "content": f"question {index} " + "why " * 40},
        {"role": "assistant", "content": f"answer {index} " + "because " * 40},
    ]


async def prepare(manager: S3SessionManager) -> Session:
    session = Session(metadata=SessionMetadata(name="victim", tags=["t"]))
    for index in range(6):
        session.messages.extend(turn(index))
        await manager.save(session)
    return session


def save_new_turns(session: Session) -> Callable[[S3SessionManager], Awaitable[Any]]:
    async def run(manager: S3SessionManager) -> Any:
        copy = session.model_copy(deep=True)
        copy.messages.extend(turn(50) + turn(51) + turn(52))  # enough to seal a new segment
        return await manager.save(copy)

    return run


OPERATIONS: dict[str, Callable[[Session], Callable[[S3SessionManager], Awaitable[Any]]]] = {
    "create": lambda s: lambda m: m.save(Session(metadata=SessionMetadata(id="fresh"), messages=s.messages)),
    "save": save_new_turns,
    "fork": lambda s: lambda m: m.fork(s.id, "copy"),
    "rewind": lambda s: lambda m: m.rewind(s.id, 2),
    "tag": lambda s: lambda m: m.tag(s.id, ["new"]),
    "rename": lambda s: lambda m: m.rename(s.id, "renamed"),
    "delete": lambda s: lambda m: m.delete(s.id),
}


async def count_writes(endpoint: str, prefix: str, operation: str) -> int:
    manager, counting = crashing_manager(endpoint, prefix)
    async with manager:
        session = await prepare(manager)
        counting.arm(None)
        await OPERATIONS[operation](session)(manager)
        return counting.writes


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_a_crash_after_any_write_leaves_old_or_new_and_fsck_repairs(s3_endpoint, operation):
    total = await count_writes(s3_endpoint, f"count-{operation}/", operation)
    assert total >= 2
    for crash_after in range(1, total + 1):
        prefix = f"crash-{operation}-{crash_after}/"
        manager, crashing = crashing_manager(s3_endpoint, prefix)
        async with manager:
            session = await prepare(manager)
            before = await manager.resume(session.id)
            crashing.arm(crash_after)
            with pytest.raises(Crash):
                await OPERATIONS[operation](session)(manager)

        async with S3SessionManager(bucket=BUCKET, prefix=prefix, endpoint_url=s3_endpoint, **SMALL) as fresh:
            await check_old_or_new(fresh, operation, before)
            report = await fsck(fresh, grace_seconds=0, now=LATER)
            assert not report.missing_segments and not report.corrupt, report
            if not report.clean:
                repaired = await fsck(fresh, repair=True, grace_seconds=0, now=LATER)
                assert repaired.repaired
            after = await fsck(fresh, grace_seconds=0, now=LATER)
            assert after.clean, (operation, crash_after, after.summary())
            listed = {m.id: m for m in await fresh.list()}
            for session_id, metadata in listed.items():  # after repair the index agrees with the heads
                assert (await fresh.resume(session_id)).metadata.version == metadata.version
            await check_old_or_new(fresh, operation, before)


async def check_old_or_new(manager: S3SessionManager, operation: str, before: Session) -> None:
    """The session is either exactly as before, or exactly as the operation leaves it."""
    try:
        now = await manager.resume(before.id)
    except SessionNotFound:
        assert operation == "delete"
        return
    if now.metadata.version == before.metadata.version:
        assert now.messages == before.messages
        return
    expected = {
        "save": lambda: now.messages == before.messages + turn(50) + turn(51) + turn(52),
        "rewind": lambda: now.messages == before.messages[:6] and now.metadata.turn_count == 3,
        "tag": lambda: now.messages == before.messages and now.metadata.tags == ["t", "new"],
        "rename": lambda: now.messages == before.messages and now.metadata.name == "renamed",
    }
    assert operation in expected and expected[operation](), (operation, now.metadata)


async def test_fsck_reports_orphans_stale_and_missing_entries_then_repairs(s3_endpoint):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    async with S3SessionManager(bucket=BUCKET, prefix="fsck/", endpoint_url=s3_endpoint, **SMALL) as manager:
        kept = await prepare(manager)
        gone = await prepare(manager)
        assert (await fsck(manager, grace_seconds=0, now=LATER)).clean
        # A head deleted behind the library's back: its objects are orphans, its entry stale.
        s3.delete_object(Bucket=BUCKET, Key=f"fsck/sessions/{gone.id}/head.json.zst")
        # A stray object in a live session, and an entry removed by hand.
        s3.put_object(Bucket=BUCKET, Key=f"fsck/sessions/{kept.id}/segments/{'0' * 64}.json.zst", Body=b"x")
        report = await fsck(manager, grace_seconds=3600)
        assert report.orphans == [] and len(report.young_unreferenced) > 1  # young objects are left alone
        report = await fsck(manager, grace_seconds=0, now=LATER)
        assert f"fsck/sessions/{kept.id}/segments/{'0' * 64}.json.zst" in report.orphans
        assert any(key.startswith(f"fsck/sessions/{gone.id}/") for key in report.orphans)
        assert report.ghost_entries == [gone.id] and report.sessions == 1 and not report.clean
        assert "needs repair" in report.summary()[-1]
        repaired = await fsck(manager, repair=True, grace_seconds=0, now=LATER)
        assert repaired.repaired
        assert (await fsck(manager, grace_seconds=0, now=LATER)).clean
        assert [m.id for m in await manager.list()] == [kept.id]
        assert (await manager.resume(kept.id)).messages == kept.messages
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"fsck/sessions/{gone.id}/").get("KeyCount") == 0


async def test_fsck_never_touches_a_corrupt_session(s3_endpoint):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    async with S3SessionManager(bucket=BUCKET, prefix="fc/", endpoint_url=s3_endpoint, **SMALL) as manager:
        session = await prepare(manager)
        s3.put_object(Bucket=BUCKET, Key=f"fc/sessions/{session.id}/head.json.zst", Body=b"damaged")
        before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="fc/sessions/")["Contents"])
        report = await fsck(manager, repair=True, grace_seconds=0, now=LATER)
        assert [key for key, _ in report.corrupt] == [f"fc/sessions/{session.id}/head.json.zst"]
        assert report.orphans == [] and session.id not in report.ghost_entries + report.stale_entries
        after = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="fc/sessions/")["Contents"])
        assert after == before


def test_fsck_command_reports_and_repairs(s3_endpoint):
    import asyncio
    import json

    import boto3
    from click.testing import CliRunner

    from s3sessions.cli import cli

    async def setup() -> str:
        async with S3SessionManager(bucket=BUCKET, prefix="cli/", endpoint_url=s3_endpoint, **SMALL) as manager:
            return (await prepare(manager)).id

    session_id = asyncio.run(setup())
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").delete_object(
        Bucket=BUCKET, Key=f"cli/sessions/{session_id}/head.json.zst"
    )
    base = ["--bucket", BUCKET, "--prefix", "cli/", "--endpoint-url", s3_endpoint, "fsck"]
    runner = CliRunner()
    too_short = runner.invoke(cli, [*base, "--grace", "0"])
    assert too_short.exit_code == 2 and "360" in too_short.output  # a save may still reference younger uploads
    found = runner.invoke(cli, base)
    assert found.exit_code == 1 and f"ghost index entry: {session_id}" in found.output
    assert "younger than the grace period left alone" in found.output and found.output.strip().endswith("needs repair")
    repaired = runner.invoke(cli, [*base, "--repair"])
    assert repaired.exit_code == 0 and repaired.output.strip().endswith("repaired")
    clean = runner.invoke(cli, [*base, "--json"])
    assert clean.exit_code == 0 and json.loads(clean.output)["clean"] is True
