"""S3-specific behaviour: layout, damaged objects, request counts, versioned buckets, SSE-KMS."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import botocore.exceptions
import pytest
import zstandard
from conftest import BUCKET, LATER, attach_counter

from s3sessions import CorruptObject, S3SessionManager, Session, SessionMetadata, SessionNotFound, StorageError
from s3sessions.admin.fsck import fsck
from s3sessions.formats import json_values
from s3sessions.formats.json_values import MAX_NESTING


def tool_turn(index: int, size: int = 3000) -> list[Any]:
    return [
        {"role": "user", "content": f"please read file {index}"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": f"t{index}", "name": "read", "input": {"path": f"/src/{index}.py"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": f"t{index}",
                    "content": f"# file {index}\n" + "def f(x):\n    return x * 2\n" * (size // 28),
                }
            ],
        },
        {"role": "assistant", "content": f"file {index} doubles its input."},
    ]


def keys(s3, prefix: str = "") -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


async def test_layout_matches_the_design_and_objects_are_plain_zstd_json(s3_endpoint, s3):
    async with S3SessionManager(
        bucket=BUCKET, prefix="agents", endpoint_url=s3_endpoint, tail_bytes=4096, segment_bytes=16384
    ) as manager:
        session = Session()
        session.metadata.name = "Résumé ✓"
        for index in range(6):
            session.messages.extend(tool_turn(index))
            await manager.save(session)
        await manager.list()
    stored = keys(s3)
    sid = session.id
    assert "agents/manifest.json.zst" in stored
    assert f"agents/sessions/{sid}/head.json.zst" in stored
    assert any(k.startswith(f"agents/sessions/{sid}/segments/") and k.endswith(".json.zst") for k in stored)
    assert any(k.startswith("agents/index/") for k in stored)
    assert all(k.startswith(("agents/sessions/", "agents/index/", "agents/manifest")) for k in stored)
    body = s3.get_object(Bucket=BUCKET, Key=f"agents/sessions/{sid}/head.json.zst")["Body"].read()
    head = json.loads(zstandard.ZstdDecompressor().decompress(body))
    assert head["format"] == 2 and head["kind"] == "head" and head["session_id"] == sid
    assert head["metadata"]["turn_count"] == 6 and head["metadata"]["name"] == "Résumé ✓"
    meta = s3.head_object(Bucket=BUCKET, Key=f"agents/sessions/{sid}/head.json.zst")["Metadata"]
    assert meta["turns"] == "6" and meta["name"] == "R%C3%A9sum%C3%A9 %E2%9C%93"
    manifest = json.loads(
        zstandard.ZstdDecompressor().decompress(
            s3.get_object(Bucket=BUCKET, Key="agents/manifest.json.zst")["Body"].read()
        )
    )
    assert (manifest["format"], manifest["kind"], manifest["index_format"], manifest["fanout"]) == (2, "manifest", 2, 4)
    assert manifest["dialect"]["if_match"] in ("quoted", "unquoted")
    assert {check["name"] for check in manifest["checks"]} >= {"create-only", "stale-etag-refused"}
    (entry,) = keys(s3, "agents/index/")
    assert f"~{sid}~" in entry and "&n=R%C3%A9sum%C3%A9%20%E2%9C%93" in entry and "&tc=6&" in entry


async def test_resume_costs_one_get_inline_and_two_round_trips_with_segments(s3_endpoint):
    async with S3SessionManager(
        bucket=BUCKET, prefix="rt/", endpoint_url=s3_endpoint, tail_bytes=4096, segment_bytes=16384
    ) as writer:
        small = Session(messages=tool_turn(0, size=500))
        await writer.save(small)
        big = Session()
        for index in range(40):
            big.messages.extend(tool_turn(index))
        await writer.save(big)
    async with S3SessionManager(bucket=BUCKET, prefix="rt/", endpoint_url=s3_endpoint) as manager:
        await manager.list()
        counter = await attach_counter(manager)
        await manager.resume(small.id)
        assert counter.operations == ["GetObject"]
        counter.reset()
        loaded = await manager.resume(big.id)
        assert loaded.messages == big.messages
        assert counter.operations[0] == "GetObject" and len(counter.operations) > 2  # head, then one wave


async def test_a_head_version_this_manager_holds_resumes_in_one_get(s3_endpoint):
    async with (
        S3SessionManager(bucket=BUCKET, prefix="held/", endpoint_url=s3_endpoint, tail_bytes=4096) as manager,
        S3SessionManager(bucket=BUCKET, prefix="held/", endpoint_url=s3_endpoint, tail_bytes=4096) as other,
    ):
        session = Session()
        for index in range(40):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        counter = await attach_counter(manager)
        first = await manager.resume(session.id)  # the version it saved: its snapshot, no segment GET
        assert counter.operations == ["GetObject"] and first.messages == session.messages
        held_messages: Any = first.messages
        held_messages[1]["content"][0]["input"]["path"] = "edited in the caller's copy"
        held_state: Any = first.state
        held_state["mine"] = True
        again = await manager.resume(session.id)
        assert again.messages == session.messages and again.state == session.state  # copies, never the snapshot
        counter.reset()
        last = await manager.resume(session.id, last_turns=3)
        assert counter.operations == ["GetObject"]
        assert last.messages == session.messages[last.omitted_messages :] and last.omitted_messages > 0
        await other.tag(session.id, ["blue"])  # a new version of the same content keeps the snapshot
        counter.reset()
        tagged = await manager.resume(session.id)
        assert counter.operations == ["GetObject"] and tagged.metadata.tags == ["blue"]
        changed = await other.resume(session.id)
        changed.messages.extend(tool_turn(99))
        await other.save(changed)  # new content: the segments are read again
        counter.reset()
        fresh = await manager.resume(session.id)
        assert fresh.messages == changed.messages and counter.count("GetObject") > 1


async def test_save_after_one_turn_uploads_the_turn_not_the_history(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="up/", endpoint_url=s3_endpoint) as manager:
        session = Session()
        for index in range(200):  # ~700 KB of history
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        counter = await attach_counter(manager)
        for index in range(200, 210):
            session.messages.extend(tool_turn(index))
            counter.reset()
            await manager.save(session)
            assert counter.count("GetObject") == 0
            assert counter.count("PutObject") in (2, 3)  # head + index entry (+ a sealed segment now and then)
            assert counter.count("DeleteObjects") == 1  # the entry it replaces
            assert counter.bytes_sent < 64 * 1024 + 20_000


async def test_save_of_a_session_rebuilt_from_json_costs_one_get_more(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="js/", endpoint_url=s3_endpoint) as writer:
        session = Session(messages=tool_turn(0))
        await writer.save(session)
    rebuilt = Session.model_validate_json(session.model_dump_json())
    rebuilt.messages.extend(tool_turn(1))
    async with S3SessionManager(bucket=BUCKET, prefix="js/", endpoint_url=s3_endpoint) as other:
        await other.list()
        counter = await attach_counter(other)
        await other.save(rebuilt)
        assert counter.operations[:2] == ["GetObject", "PutObject"]  # the head, then the head
        assert sorted(counter.operations[2:]) == ["DeleteObjects", "PutObject"]  # the index, side by side


async def test_fork_and_rewind_upload_no_segment_bytes(s3_endpoint):
    async with S3SessionManager(
        bucket=BUCKET, prefix="fr/", endpoint_url=s3_endpoint, tail_bytes=4096, segment_bytes=16384
    ) as manager:
        session = Session()
        for index in range(30):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        await manager.list()
        counter = await attach_counter(manager)
        await manager.fork(session.id)
        assert counter.count("CopyObject") >= 2 and counter.count("PutObject") == 2
        assert counter.bytes_sent < 4096 + 8192  # the new head (with its tail) and the index entry
        counter.reset()
        rewound = await manager.rewind(session.id, 12)
        assert rewound.metadata.turn_count == 13
        assert counter.count("PutObject") == 2 and counter.bytes_sent < 4096 + 8192


async def test_list_is_one_wave_of_lists_over_the_fanout(s3_endpoint):
    async with S3SessionManager(bucket=BUCKET, prefix="ls/", endpoint_url=s3_endpoint, fanout=8) as manager:
        for _ in range(5):
            await manager.save(Session(messages=tool_turn(0, 100)))
        counter = await attach_counter(manager)
        assert len(await manager.list()) == 5
        assert counter.operations == ["ListObjectsV2"] * 8
        counter.reset()
        assert len((await manager.list_page(3)).sessions) == 3
        assert counter.operations == ["ListObjectsV2"] * 8


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda body: b"garbage", "not a zstd frame"),
        (lambda body: body[: len(body) // 2], "truncated|damaged"),
        (lambda body: zstandard.ZstdCompressor().compress(b"{not json"), "not JSON"),
        (lambda body: zstandard.ZstdCompressor().compress(b'{"format":7,"kind":"head"}'), "unknown format"),
        (lambda body: zstandard.ZstdCompressor().compress(b'{"format":1,"kind":"head"}'), "malformed head"),
        (lambda body: zstandard.ZstdCompressor().compress(b"x" * 3_000_000), "claims 3000000 bytes"),
    ],
)
async def test_a_damaged_head_is_corrupt_object_naming_the_key(s3_endpoint, s3, damage, expected):
    async with S3SessionManager(
        bucket=BUCKET, prefix="bad/", endpoint_url=s3_endpoint, max_object_bytes=1_000_000
    ) as manager:
        session = Session(messages=tool_turn(0))
        await manager.save(session)
        key = f"bad/sessions/{session.id}/head.json.zst"
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        s3.put_object(Bucket=BUCKET, Key=key, Body=damage(body))
        with pytest.raises(CorruptObject, match=expected) as raised:
            await manager.resume(session.id)
        assert key in str(raised.value) and session.id in str(raised.value)
        # Nothing is written over a head we cannot read.
        session.messages.extend(tool_turn(1))
        with pytest.raises(CorruptObject):
            await manager.save(Session.model_validate_json(session.model_dump_json()))
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == damage(body)


def _deep_list(levels: int) -> object:
    deep: object = "leaf"
    for _ in range(levels):
        deep = [deep]
    return deep


async def test_a_tampered_or_missing_segment_is_detected(s3_endpoint, s3):
    async with S3SessionManager(
        bucket=BUCKET, prefix="seg/", endpoint_url=s3_endpoint, tail_bytes=2048, segment_bytes=8192
    ) as manager:
        session = Session()
        for index in range(10):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        segment_keys = list(keys(s3, f"seg/sessions/{session.id}/segments/"))
        assert segment_keys
        forged = zstandard.ZstdCompressor().compress(
            json.dumps({"format": 1, "kind": "segment", "messages": [{"role": "user", "content": "forged"}]}).encode()
        )
        s3.put_object(Bucket=BUCKET, Key=segment_keys[0], Body=forged)
        async with S3SessionManager(bucket=BUCKET, prefix="seg/", endpoint_url=s3_endpoint) as reader:
            with pytest.raises(CorruptObject, match="digest") as raised:
                await reader.resume(session.id)
            assert segment_keys[0] in str(raised.value)
            s3.delete_object(Bucket=BUCKET, Key=segment_keys[0])
            with pytest.raises(CorruptObject, match="missing segment"):
                await reader.resume(session.id)
        # The manager that wrote this head version still holds what its segments said (and fsck reports them).
        assert (await manager.resume(session.id)).messages == session.messages


@pytest.mark.parametrize(
    ("value", "reason"),
    [(_deep_list(MAX_NESTING - 1), "nested too deeply"), (7**5000, "bits is too large")],
    ids=["nested-101", "huge-int"],
)
async def test_what_another_writer_stored_out_of_bounds_in_a_segment_is_never_handed_out(
    s3_endpoint, s3, monkeypatch, value, reason
):
    sizes: dict[str, Any] = {"tail_bytes": 2048, "segment_bytes": 8192}
    async with S3SessionManager(bucket=BUCKET, prefix="bounds/", endpoint_url=s3_endpoint, **sizes) as writer:
        session = Session(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": [value]}])
        for index in range(10):
            session.messages.extend(tool_turn(index))
        with monkeypatch.context() as patched:  # a writer that does not check what it stores
            patched.setattr(json_values, "check_value", lambda *args, **kwargs: None)
            await writer.save(session)
    assert keys(s3, f"bounds/sessions/{session.id}/segments/")
    async with S3SessionManager(bucket=BUCKET, prefix="bounds/", endpoint_url=s3_endpoint, **sizes) as reader:
        with pytest.raises(CorruptObject, match=reason) as raised:
            await reader.resume(session.id)
        assert session.id in str(raised.value)
        assert len((await reader.resume(session.id, last_turns=2)).messages) == 8  # later turns still read


async def test_an_object_over_the_cap_is_refused_on_write(s3_endpoint):
    async with S3SessionManager(
        bucket=BUCKET, prefix="cap/", endpoint_url=s3_endpoint, max_object_bytes=100_000
    ) as manager:
        session = Session(messages=[{"role": "user", "content": "x" * 200_000}])
        with pytest.raises(Exception, match="size cap"):
            await manager.save(session)
        with pytest.raises(SessionNotFound):
            await manager.resume(session.id)


async def test_reading_an_empty_prefix_writes_nothing(s3_endpoint, s3):
    async with S3SessionManager(bucket=BUCKET, prefix="typo/", endpoint_url=s3_endpoint) as manager:
        assert await manager.list() == []
        from s3sessions.admin.fsck import fsck

        assert (await fsck(manager)).clean
        assert keys(s3, "typo/") == []
        await manager.save(Session())
        assert "typo/manifest.json.zst" in keys(s3, "typo/")


@pytest.mark.moto_only
async def test_access_denied_says_where_to_look(s3_endpoint, s3):
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/denied/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(deny))
    async with S3SessionManager(bucket=BUCKET, prefix="denied/", endpoint_url=s3_endpoint) as manager:
        with pytest.raises(StorageError, match="access denied; check the IAM policy and the bucket policy"):
            await manager.resume("x")


async def test_a_missing_bucket_is_a_storage_error(s3_endpoint):
    async with S3SessionManager(bucket="no-such-bucket", endpoint_url=s3_endpoint) as manager:
        with pytest.raises(StorageError, match="does not exist") as saved:
            await manager.save(Session())
        with pytest.raises(StorageError, match="does not exist") as listed:
            await manager.list()
    # the botocore error the store translated stays the cause, through every layer above it, for the user's logs
    for failure in (saved.value, listed.value):
        assert isinstance(failure.__cause__, botocore.exceptions.ClientError), repr(failure.__cause__)
        assert failure.__cause__.response["Error"]["Code"] == "NoSuchBucket"


async def test_an_unreachable_endpoint_is_a_storage_error():
    async with S3SessionManager(
        bucket=BUCKET,
        endpoint_url="http://127.0.0.1:9",
        client_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    ) as manager:
        with pytest.raises(StorageError, match=r"GetObject|get_object") as failure:
            await manager.resume("some-id")
    assert type(failure.value.__cause__).__module__.startswith("botocore"), repr(failure.value.__cause__)


@pytest.mark.moto_only
async def test_delete_removes_every_version_on_a_versioned_bucket(s3_endpoint, s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    async with S3SessionManager(
        bucket=BUCKET, prefix="ver/", endpoint_url=s3_endpoint, tail_bytes=2048, segment_bytes=8192
    ) as manager:
        session = Session()
        for index in range(8):
            session.messages.extend(tool_turn(index))
            await manager.save(session)
        other = Session(messages=tool_turn(0))
        await manager.save(other)
        prefix = f"ver/sessions/{session.id}/"
        assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])) > 8
        await manager.delete(session.id)
        listing = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
        assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []
        assert (await manager.resume(other.id)).messages == other.messages


@pytest.mark.moto_only
async def test_rewind_can_be_undone_from_an_older_head_version(s3_endpoint, s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    async with S3SessionManager(
        bucket=BUCKET, prefix="undo/", endpoint_url=s3_endpoint, tail_bytes=2048, segment_bytes=8192
    ) as manager:
        session = Session()
        for index in range(8):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        await manager.rewind(session.id, 2)
        key = f"undo/sessions/{session.id}/head.json.zst"
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
        previous = next(v for v in versions if not v["IsLatest"])
        s3.copy_object(
            Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key, "VersionId": previous["VersionId"]}
        )
        restored = await manager.resume(session.id)
        assert restored.messages == session.messages and restored.metadata.turn_count == 8


@pytest.mark.moto_only
async def test_sse_kms_reaches_every_write(s3_endpoint):
    async with S3SessionManager(
        bucket=BUCKET,
        prefix="kms/",
        endpoint_url=s3_endpoint,
        kms_key_id="alias/sessions",
        tail_bytes=2048,
        segment_bytes=8192,
    ) as manager:
        seen = []
        client = await manager.store.client()  # type: ignore[attr-defined]
        client.meta.events.register(
            "provide-client-params.s3.*",
            lambda params, model, **_: seen.append(
                (model.name, params.get("ServerSideEncryption"), params.get("SSEKMSKeyId"))
            ),
        )
        session = Session()
        for index in range(6):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        await manager.fork(session.id)
    writes = [entry for entry in seen if entry[0] in ("PutObject", "CopyObject")]
    assert writes and all(entry[1:] == ("aws:kms", "alias/sessions") for entry in writes)


def test_importing_the_package_loads_no_aws_sdk():
    code = (
        "import sys, s3sessions\n"
        "s3sessions.S3SessionManager(bucket='b')\n"
        "loaded = [m for m in ('aioboto3', 'aiobotocore', 'botocore', 'boto3', 'aiohttp', 'moto', 'click')"
        " if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


async def test_a_caller_may_pass_its_own_aioboto3_session_or_client(s3_endpoint):
    import aioboto3

    session = Session(messages=tool_turn(0, 200))
    async with S3SessionManager(
        bucket=BUCKET, prefix="own/", endpoint_url=s3_endpoint, session=aioboto3.Session()
    ) as manager:
        await manager.save(session)
    async with aioboto3.Session().client("s3", endpoint_url=s3_endpoint) as client:
        manager = S3SessionManager(bucket=BUCKET, prefix="own/", client=client)
        assert (await manager.resume(session.id)).messages == session.messages
        await manager.close()  # the caller's client stays open: closing is its owner's job
        assert (await client.list_objects_v2(Bucket=BUCKET, Prefix="own/"))["KeyCount"] > 0


@pytest.mark.moto_only
async def test_history_and_restore_undo_a_rewind_and_keep_the_index_right(s3_endpoint, s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    async with S3SessionManager(
        bucket=BUCKET, prefix="hist/", endpoint_url=s3_endpoint, tail_bytes=2048, segment_bytes=8192
    ) as manager:
        session = Session(metadata=SessionMetadata(summary={"turns": 8}))
        for index in range(8):
            session.messages.extend(tool_turn(index))
        await manager.save(session)
        await manager.tag(session.id, ["kept"])
        rewound = await manager.rewind(session.id, 2)
        rewound.metadata.summary = {"turns": 3}
        await manager.save(rewound)
        versions = await manager.history(session.id)  # the summary's save, the rewind, the tag, the save
        assert [v.turn_count for v in versions[:4]] == [3, 3, 8, 8] and versions[0].current
        assert [v.revision for v in versions[:4]] == [4, 3, 2, 1]
        restored = await manager.restore(session.id, versions[2].version_id)
        assert restored.turn_count == 8 and restored.tags == ["kept"]
        assert restored.summary == {"turns": 8}  # the summary of the content restored
        loaded = await manager.resume(session.id)
        assert loaded.messages == session.messages
        assert [(m.id, m.turn_count) for m in await manager.list()] == [(session.id, 8)]
        # restore referenced fresh copies: the originals are orphans now, which fsck may collect safely.
        assert (await fsck(manager, grace_seconds=0, now=LATER)).orphans
        report = await fsck(manager, repair=True, grace_seconds=0, now=LATER)
        assert not report.missing_segments and (await fsck(manager, grace_seconds=0, now=LATER)).clean
        assert (await manager.resume(session.id)).messages == session.messages
        # Once fsck collected the segments an old version needs, restoring it is a clear error.
        with pytest.raises(CorruptObject, match="collected by `fsck --repair`"):
            await manager.restore(session.id, versions[3].version_id)
        assert (await manager.resume(session.id)).messages == session.messages


@pytest.mark.moto_only
def test_history_and_restore_commands(s3_endpoint, s3):
    import asyncio

    from click.testing import CliRunner

    from s3sessions.cli import cli

    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    async def setup() -> str:
        async with S3SessionManager(bucket=BUCKET, prefix="undo-cli/", endpoint_url=s3_endpoint) as manager:
            session = Session()
            for index in range(4):
                session.messages.extend(tool_turn(index, 200))
            await manager.save(session)
            await manager.rewind(session.id, 0)
            return session.id

    session_id = asyncio.run(setup())
    base = ["--bucket", BUCKET, "--prefix", "undo-cli/", "--endpoint-url", s3_endpoint]
    runner = CliRunner()
    listing = runner.invoke(cli, [*base, "history", session_id])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split()[:2] == ["version", "written"] and "(current)" in lines[1] and len(lines) == 3
    older = lines[2].split()[0]
    restored = runner.invoke(cli, [*base, "restore", session_id, older])
    assert restored.exit_code == 0 and "4 turn(s)" in restored.output
    missing = runner.invoke(cli, [*base, "restore", session_id, "no-such-version"])
    assert missing.exit_code == 1 and "no version 'no-such-version'" in missing.output
