"""Format 1 golden files: objects written by this version must stay readable forever. Never edit tests/data/."""

from __future__ import annotations

import json
import pathlib

import boto3
import pytest
from conftest import BUCKET

import s3sessions
from s3sessions import S3SessionManager
from s3sessions.engine.manifest import FormatOneIndex
from s3sessions.formats.bodies import decode_document

GOLDEN = pathlib.Path(__file__).parent / "data" / "format1"


def golden_objects() -> dict[str, bytes]:
    return {path.relative_to(GOLDEN).as_posix(): path.read_bytes() for path in GOLDEN.rglob("*.zst")}


def head_message_bytes() -> int:
    head = decode_document(
        golden_objects()["sessions/golden-session/head.json.zst"], kind="head", max_bytes=1 << 20, key="head"
    )
    return int(head["message_bytes"])


def test_every_golden_object_is_a_plain_zstd_json_document():
    kinds: dict[str, int] = {}
    for key, body in golden_objects().items():
        kind = key.split("/")[-2] if "/segments/" in key else key.split("/")[0].split(".")[0]
        expected_kind = {"segments": "segment", "sessions": "head", "index": "index", "manifest": "manifest"}[kind]
        document = decode_document(body, kind=expected_kind, max_bytes=1 << 20, key=key)
        assert document["format"] == 1
        kinds[expected_kind] = kinds.get(expected_kind, 0) + 1
    assert set(kinds) == {"segment", "head", "index", "manifest"}


async def test_golden_bucket_resumes_lists_and_accepts_new_turns(s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for key, body in golden_objects().items():
        s3.put_object(Bucket=BUCKET, Key=f"old/{key}", Body=body)
    expected = json.loads((GOLDEN / "expected_session.json").read_text())
    async with S3SessionManager(bucket=BUCKET, prefix="old/", endpoint_url=s3_endpoint) as manager:
        session = await manager.resume("golden-session")
        loaded = session.model_dump(mode="json")
        loaded["metadata"].pop("version")
        assert loaded["metadata"].pop("message_bytes") == head_message_bytes()  # a field newer than the file
        assert loaded["metadata"].pop("summary") is None  # so is this one
        assert loaded == expected
        head = decode_document(
            golden_objects()["sessions/golden-session/head.json.zst"], kind="head", max_bytes=1 << 20, key="head"
        )
        assert any(ref["take"] < ref["count"] for ref in head["segments"])  # a partial reference is covered
        # A format-2 manager reads format-1 heads and segments, but refuses the format-1 index until reindex.
        with pytest.raises(FormatOneIndex, match="run `s3sessions reindex`"):
            await manager.list()
        session.messages.append({"role": "user", "content": "a new question"})
        with pytest.raises(FormatOneIndex):
            await manager.save(session)
        assert await manager.reindex() == 1
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="old/index/0000")["KeyCount"] == 0  # the shards are gone
        listed = await manager.list()
        assert [(m.id, m.name, m.turn_count) for m in listed] == [("golden-session", "Golden ✓", 4)]
        await manager.save(session)
        assert (await manager.resume("golden-session")).metadata.turn_count == 5
        rewound = await manager.rewind("golden-session", 1)  # through the format-1 partial reference
        assert rewound.messages == expected["messages"][: len(rewound.messages)]
        assert (await manager.resume("golden-session")).messages == rewound.messages


def test_public_names_are_exported_sorted():
    assert s3sessions.__all__ == sorted(s3sessions.__all__)
    for name in s3sessions.__all__:
        assert getattr(s3sessions, name) is not None
    public = {name for name in dir(s3sessions) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(s3sessions, name)).__name__ == "module"}
    assert public - modules == set(s3sessions.__all__)
