"""Poisoned index objects (finding 10, and finding 4's "one bad index object takes down the whole prefix").

Anyone who can write the bucket can plant keys under ``index/``. `list` and `list_page` must yield only what passes
caller-input validation (ids, names, tags, agent names, counts, times) and never raise for a planted key; fsck
must report every planted key and ``--repair`` must remove them and restore what they displaced, in one run; a
corrupt manifest is repaired by fsck; a transient bad read of an index object never makes anyone write less.

Counts: 33 planted keys (one per hostile shape) checked through list, list_page, the CLI's ls, fsck, fsck --repair
and reindex, each alone in a prefix (about 200 operations) and all together; an overflowing entry's body
corrupted in place; 4 transient bad reads (GET of an entry body or of the manifest failing once); the manifest
corrupted and repaired.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import LATER

from s3sessions import AgentError, CorruptObject, Session, SessionMetadata, StorageError
from s3sessions.admin.fsck import fsck
from s3sessions.cli import cli
from s3sessions.errors import ObjectMissing
from s3sessions.formats.keys import fanout_bucket_of
from s3sessions.testing import InMemoryObjectStore
from s3sessions.validation import check_agent_name, check_count, check_name, check_session_id, check_tag

from .conftest import BUCKET, PREFIX, TALLY, compress, index_keys, memory_manager, s3_manager, saved, turn

FIXED = "r=1&i=2f8345990da2&v=cbb416dc82b5c1216d4974ce521ce382&c=1796140903656&tc=1&b=31&tk=0&a=agent"
RTS = "8203859096342"


def entry(session_id: str = "ghost", listing: str = FIXED, rts: str = RTS, bucket: int | None = None) -> str:
    """A key under the right fan-out bucket (fan-out 4) unless ``bucket`` says otherwise."""
    where = fanout_bucket_of(session_id, 4) if bucket is None else bucket
    return f"{PREFIX}index/{where}/{rts}~{session_id}~{listing}"


PLANTED: dict[str, tuple[str, bytes]] = {
    "ghost-of-a-session-that-never-was": (entry(), b""),
    "id-traversal-encoded": (entry("..%2F..%2Fetc"), b""),
    "id-dot-dot": (entry(".."), b""),
    "id-with-slash": (f"{PREFIX}index/0/{RTS}~a/../b~{FIXED}", b""),
    "id-unicode": (entry("é"), b""),
    "id-too-long": (entry("i" * 201), b""),
    "name-ansi-escape": (entry(listing=FIXED + "&n=%1B%5B31mred%1B%5B0m"), b""),
    "name-nul": (entry(listing=FIXED + "&n=a%00b"), b""),
    "name-right-to-left-override": (entry(listing=FIXED + "&n=%E2%80%AEevil"), b""),
    "name-not-utf8": (entry(listing=FIXED + "&n=%FF"), b""),
    "name-overlong-utf8": (entry(listing=FIXED + "&n=%C0%AF"), b""),
    "name-lone-surrogate-utf8": (entry(listing=FIXED + "&n=%ED%A0%80"), b""),
    "tag-bell": (entry(listing=FIXED + "&t=%07"), b""),
    "tag-not-utf8": (entry(listing=FIXED + "&t=%80"), b""),
    "agent-escape": (entry(listing=FIXED.replace("a=agent", "a=%1B%5D0%3Bpwn%07")), b""),
    "parent-traversal": (entry(listing=FIXED + "&p=..%2F..%2Fetc"), b""),
    "count-huge": (entry(listing=FIXED.replace("tc=1", "tc=" + "9" * 5000)), b""),
    "count-negative": (entry(listing=FIXED.replace("b=31", "b=-1")), b""),
    "count-float": (entry(listing=FIXED.replace("tk=0", "tk=1e300")), b""),
    "created-negative": (entry(listing=FIXED.replace("c=1796140903656", "c=-5")), b""),
    "rts-not-digits": (entry(rts="abcdefghijklm"), b""),
    "rts-too-long": (entry(rts="1" * 5000), b""),
    "unknown-field": (entry(listing=FIXED + "&zz=1"), b""),
    "repeated-field": (entry(listing=FIXED + "&r=2"), b""),
    "missing-field": (entry(listing=FIXED.replace("&tk=0", "")), b""),
    "bad-percent": (entry(listing=FIXED + "&n=%ZZ%"), b""),
    "extra-tilde": (entry(listing=FIXED + "~x~y"), b""),
    "misplaced-bucket": (entry(bucket=(fanout_bucket_of("ghost", 4) + 1) % 4), b""),
    "bucket-past-the-fanout": (entry(bucket=99), b""),
    "directly-under-index": (f"{PREFIX}index/junk", b"junk"),
    "overflow-body-garbage": (entry(listing=FIXED) + "~+", b"garbage"),
    "overflow-body-not-utf8-listing": (
        entry(listing=FIXED) + "~+",
        compress(b'{"format":2,"kind":"entry","listing":"' + FIXED.encode() + b'&n=%FF"}'),
    ),
    "overflow-body-deep": (
        entry(listing=FIXED) + "~+",
        compress(b'{"format":2,"kind":"entry","listing":' + b"[" * 3000 + b"]" * 3000 + b"}"),
    ),
}


def validated(listed: list[SessionMetadata]) -> None:
    """Everything list yields passes the checks caller input passes."""
    for metadata in listed:
        check_session_id(metadata.id)
        if metadata.name is not None:
            check_name(metadata.name)
        for tag in metadata.tags:
            check_tag(tag)
        check_agent_name(metadata.agent_name)
        for count in (metadata.turn_count, metadata.message_bytes, metadata.total_tokens):
            check_count(count)
        if metadata.parent_id is not None:
            check_session_id(metadata.parent_id)
        assert 0 <= metadata.created_at < 10**11 and 0 <= metadata.updated_at < 10**11


async def poisoned_prefix(names: list[str]) -> tuple[InMemoryObjectStore, list[str]]:
    store = InMemoryObjectStore()
    manager = memory_manager(store)
    await saved(manager, "real", 2, name="real one")
    await saved(manager, "other", 2)
    for name in names:
        key, body = PLANTED[name]
        await store.put(key, body)
        TALLY["corruptions"] += 1
    return store, ["real", "other"]


def plant_params() -> list[Any]:
    return [pytest.param(name) for name in sorted(PLANTED)]


@pytest.mark.parametrize("name", plant_params())
async def test_a_planted_index_key_is_never_listed_unvalidated_and_fsck_removes_it(name):
    store, real = await poisoned_prefix([name])
    manager = memory_manager(store)
    listed = await manager.list()
    validated(listed)
    assert set(real) <= {m.id for m in listed}
    pages, cursor = [], None
    for _ in range(10):
        page = await manager.list_page(limit=1, cursor=cursor)
        pages += page.sessions
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    validated(pages)
    report = await fsck(manager, grace_seconds=0, now=LATER)
    planted_key = PLANTED[name][0]
    flagged = report.corrupt_index + report.ghost_entries
    assert report.corrupt_index or report.ghost_entries, f"fsck did not report {planted_key}"
    assert any(planted_key.startswith(key) or key in planted_key for key in flagged), (planted_key, flagged)
    repaired = await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    assert repaired.repaired
    after = await fsck(manager, grace_seconds=0, now=LATER)
    assert after.clean, after.summary()
    assert sorted(m.id for m in await memory_manager(store).list()) == sorted(real)
    assert sorted(key.split("~")[1] for key in index_keys(store)) == sorted(real)
    await manager.reindex()
    assert sorted(m.id for m in await memory_manager(store).list()) == sorted(real)
    TALLY["operations"] += 7


async def test_all_planted_keys_at_once_leave_list_and_fsck_working():
    """Every shape planted together."""
    store, real = await poisoned_prefix(list(PLANTED))
    manager = memory_manager(store)
    validated(await manager.list())
    await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    assert (await fsck(manager, grace_seconds=0, now=LATER)).clean
    assert sorted(m.id for m in await manager.list()) == sorted(real)
    TALLY["operations"] += 4


def test_ls_never_prints_a_control_character(s3_endpoint, s3):
    async def setup() -> None:
        async with s3_manager(s3_endpoint) as manager:
            await saved(manager, "real", 2)

    asyncio.run(setup())
    for key, body in PLANTED.values():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    TALLY["corruptions"] += len(PLANTED)
    for arguments in (["ls"], ["ls", "--json"]):
        result = CliRunner().invoke(
            cli, ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", s3_endpoint, *arguments]
        )
        TALLY["operations"] += 1
        assert result.exit_code == 0, result.output
        assert "real" in result.output
        assert not [char for char in result.output if not char.isprintable() and char not in "\n"], repr(result.output)


# ---------------------------------------------------------------------------------- repairs of what exists


async def overflowing(store: InMemoryObjectStore) -> str:
    """Saves a session whose listing overflows into its entry's body; returns that entry's key."""
    manager = memory_manager(store)
    await manager.save(
        Session(
            metadata=SessionMetadata(
                id="long", name="n" * 250, tags=[f"{index:02d}" + "t" * 60 for index in range(12)]
            ),
            messages=turn("l"),
        )
    )
    (key,) = index_keys(store, "long")
    assert key.endswith("~+")
    return key


async def test_fsck_repair_restores_an_entry_whose_body_was_corrupted_in_one_run():
    store = InMemoryObjectStore()
    key = await overflowing(store)
    await store.put(key, b"garbage")
    TALLY["corruptions"] += 1
    manager = memory_manager(store)
    await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    TALLY["operations"] += 2
    assert "long" in {m.id for m in await manager.list()}, "fsck --repair removed the entry it had just rewritten"
    assert (await fsck(manager, grace_seconds=0, now=LATER)).clean


class FailsOnce:
    """A fault plan: the first GET of ``key`` fails with ``error`` (before it is read)."""

    def __init__(self, key: str, error: Exception) -> None:
        self.key = key
        self.error = error
        self.done = False

    def __call__(self, operation: str, key: str) -> Any:
        if not self.done and operation == "GetObject" and key == self.key:
            self.done = True
            TALLY["faults"] += 1
            return "before", self.error
        return None


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(StorageError("injected 500"), id="500"),
        pytest.param(
            CorruptObject("injected: body cut short"),
            id="bad-body",
        ),
    ],
)
async def test_a_transient_bad_read_of_an_entry_never_makes_fsck_write_less(error):
    store = InMemoryObjectStore()
    key = await overflowing(store)
    store.faults = FailsOnce(key, error)
    manager = memory_manager(store)
    with contextlib.suppress(AgentError):
        await fsck(manager, repair=True, grace_seconds=0, now=LATER)
    store.faults = None
    TALLY["operations"] += 2
    assert key in index_keys(store), "the valid entry is gone"
    assert "long" in {m.id for m in await memory_manager(store).list()}


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(StorageError("injected 500"), id="500"),
        pytest.param(CorruptObject("injected: body cut short"), id="bad-body"),
        pytest.param(ObjectMissing("injected 404"), id="404"),
    ],
)
async def test_a_transient_bad_read_of_the_manifest_never_makes_a_writer_overwrite_it(error):
    store = InMemoryObjectStore()
    await saved(memory_manager(store, fanout=8), "first", 1)
    manifest = f"{PREFIX}manifest.json.zst"
    before = (await store.get(manifest, max_bytes=10**6)).body
    store.faults = FailsOnce(manifest, error)
    writer = memory_manager(store)  # a fresh process: wants fan-out 4, must use the manifest's 8
    with contextlib.suppress(AgentError):
        await writer.save(Session(metadata=SessionMetadata(id="second"), messages=turn("s")))
    store.faults = None
    TALLY["operations"] += 1
    assert (await store.get(manifest, max_bytes=10**6)).body == before
    listed = {m.id for m in await memory_manager(store).list()}
    assert "first" in listed


async def test_a_corrupt_manifest_stops_writers_and_fsck_repair_brings_it_back():
    store = InMemoryObjectStore()
    manager = memory_manager(store)
    await saved(manager, "a", 2)
    await saved(manager, "b", 2)
    manifest = f"{PREFIX}manifest.json.zst"
    await store.put(manifest, compress(b'{"format":2,"kind":"manifest","fanout":' + b"9" * 5000 + b"}"))
    TALLY["corruptions"] += 1
    fresh = memory_manager(store)
    with pytest.raises(CorruptObject):
        await fresh.save(Session(metadata=SessionMetadata(id="c"), messages=turn("c")))
    with pytest.raises(CorruptObject):
        await fresh.list()
    report = await fsck(fresh, grace_seconds=0, now=LATER)
    assert manifest in report.corrupt_index
    await fsck(fresh, repair=True, grace_seconds=0, now=LATER)
    repaired = memory_manager(store)
    await repaired.save(Session(metadata=SessionMetadata(id="c"), messages=turn("c")))
    assert sorted(m.id for m in await repaired.list()) == ["a", "b", "c"]
    assert (await fsck(repaired, grace_seconds=0, now=LATER)).clean
    TALLY["operations"] += 8
