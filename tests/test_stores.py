"""The store probe and the dialects it records: every quirk measured on a real store, replayed in memory, and
the probe run against the S3 under test (moto by default, Ceph RGW with ``S3SESSIONS_TEST_S3=rgw``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import zstandard
from conftest import BUCKET

from s3sessions import ConflictError, S3SessionManager, Session, SessionNotFound, StorageError
from s3sessions.testing import InMemoryObjectStore

TURN: list[Any] = [{"role": "user", "content": "hello " * 20}, {"role": "assistant", "content": "hi " * 20}]


async def exercise(manager: S3SessionManager) -> None:
    """Every write path once: create, update, tag, rename, rewind, fork, delete, re-create, delete again."""
    session = Session(messages=list(TURN))
    await manager.save(session)
    session.messages.extend(TURN)
    await manager.save(session)
    await manager.tag(session.id, ["x"])
    await manager.rename(session.id, "renamed")
    await manager.rewind(session.id, 0)
    fork = await manager.fork(session.id)
    await manager.delete(session.id)
    with pytest.raises(SessionNotFound):
        await manager.resume(session.id)
    with pytest.raises(SessionNotFound):
        await manager.delete(session.id)
    again = Session(metadata=session.metadata.model_copy(update={"version": None}), messages=list(TURN))
    await manager.save(again)
    assert (await manager.resume(session.id)).messages == TURN
    with pytest.raises(ConflictError):
        await manager.save(Session(metadata=again.metadata.model_copy(update={"version": None})))
    assert {m.id for m in await manager.list()} == {session.id, fork.id}


@pytest.mark.parametrize(
    ("quirks", "if_match", "conditional_delete"),
    [
        ({}, "quoted", True),  # AWS S3 since 2025-09, moto
        ({"quoted_if_match": False, "conditional_delete": False, "missing_if_match": "412"}, "unquoted", False),  # RGW
        ({"conditional_delete": False}, "quoted", False),  # AWS before conditional deletes, or DeleteObjects only
    ],
    ids=["s3", "ceph-rgw", "no-conditional-delete"],
)
async def test_the_probe_finds_the_dialect_and_every_operation_works_in_it(quirks, if_match, conditional_delete):
    store = InMemoryObjectStore(**quirks)
    async with S3SessionManager(store=store, prefix="p/") as manager:
        report = await manager.check()
        assert report.safe and report.dialect.if_match == if_match
        assert report.dialect.conditional_delete is conditional_delete
        await exercise(manager)
        manifest = json.loads(
            zstandard.ZstdDecompressor().decompress((await store.get("p/manifest.json.zst", max_bytes=10**6)).body)
        )
        assert manifest["dialect"] == {"if_match": if_match, "conditional_delete": conditional_delete}
    assert not store.keys("p/probe/")  # the probe's scratch key is gone


async def test_a_tombstone_stays_where_deletes_cannot_be_conditional_and_a_create_replaces_it():
    store = InMemoryObjectStore(conditional_delete=False)
    async with S3SessionManager(store=store, prefix="t/") as manager:
        session = Session(messages=list(TURN))
        await manager.save(session)
        await manager.delete(session.id)
        head = zstandard.ZstdDecompressor().decompress(
            (await store.get(f"t/sessions/{session.id}/head.json.zst", max_bytes=10**6)).body
        )
        assert json.loads(head)["kind"] == "tombstone" and json.loads(head)["cleaned"] is True
        assert store.keys(f"t/sessions/{session.id}/") == [f"t/sessions/{session.id}/head.json.zst"]
        assert await manager.list() == []


async def test_a_store_that_does_not_enforce_conditions_is_refused_naming_the_check():
    store = InMemoryObjectStore(enforce_conditions=False)
    async with S3SessionManager(store=store, prefix="u/") as manager:
        report = await manager.check()
        assert not report.safe and report.failed is not None and report.failed.name == "create-only"
        with pytest.raises(StorageError, match="probe check 'create-only' failed"):
            await manager.save(Session(messages=list(TURN)))
    assert store.keys("u/") == []  # nothing was written


async def test_the_probe_against_the_s3_under_test(s3_endpoint, s3_server):
    async with S3SessionManager(bucket=BUCKET, prefix="probe/", endpoint_url=s3_endpoint) as manager:
        report = await manager.check()
        assert report.safe, report.lines()
        expected = {"moto": ("quoted", True), "rgw": ("unquoted", False)}.get(s3_server.kind)
        if expected is not None:
            assert (report.dialect.if_match, report.dialect.conditional_delete) == expected
        await exercise(manager)


async def test_a_versioned_bucket_is_refused_on_ceph_rgw_and_works_on_moto(s3_endpoint, s3, s3_server):
    """Ceph RGW on a bucket with versioning enabled never matches If-Match and ignores If-None-Match: the probe
    must refuse it (it would lose updates). moto (and S3) keep conditional writes on versioned buckets."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    async with S3SessionManager(bucket=BUCKET, prefix="versioned/", endpoint_url=s3_endpoint) as manager:
        report = await manager.check()
        if s3_server.kind == "rgw":
            assert not report.safe and report.failed is not None
            with pytest.raises(StorageError, match="does not enforce conditional writes"):
                await manager.save(Session(messages=list(TURN)))
        elif s3_server.kind == "moto":
            assert report.safe
            await exercise(manager)


def test_the_check_command_prints_the_dialect_and_exits_1_when_unsafe(s3_endpoint):
    from click.testing import CliRunner

    from s3sessions.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--bucket", BUCKET, "--endpoint-url", s3_endpoint, "check"])
    assert result.exit_code == 0, result.output
    assert "create-only: refused (412)" in result.output and "dialect: If-Match" in result.output
    assert result.output.strip().endswith("safe")
    as_json = json.loads(
        runner.invoke(cli, ["--bucket", BUCKET, "--endpoint-url", s3_endpoint, "check", "--json"]).output
    )
    assert as_json["safe"] is True and {c["name"] for c in as_json["checks"]} >= {"create-only", "stale-etag-refused"}
