"""Unit tests of the pure modules: keys, turns, codec, layout."""

from __future__ import annotations

import json

import pytest
import zstandard

from s3sessions import CorruptObject, InvalidInput
from s3sessions.codec import (
    canonical_json,
    decode_document,
    decode_segment,
    digest_lines,
    encode_document,
    encode_message_lines,
    encode_segment,
)
from s3sessions.keys import KeyLayout, shard_of
from s3sessions.layout import cut_layout, lines_size, plan_layout
from s3sessions.turns import is_turn_start, rewind_cut, turn_starts
from s3sessions.validation import (
    check_name,
    check_session_id,
    check_tags,
    merge_tags,
    new_session_id,
    normalise_prefix,
)

# ---------------------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize("good", ["a", "A-b_c.d", "x" * 200, "0192f1c3", "..a", "a.."])
def test_valid_session_ids(good):
    assert check_session_id(good) == good


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b", "/", "../x", "a\x00b", "a\nb", "x" * 201, "é", "a b", None, 5, "a\\b"]
)
def test_invalid_session_ids_name_the_value(bad):
    with pytest.raises(InvalidInput) as raised:
        check_session_id(bad)
    assert repr(bad) in str(raised.value)


def test_names_and_tags():
    assert check_name("Refactor ✓") == "Refactor ✓"
    for bad in ["", "x" * 257, "a\nb", "\x07", 3]:
        with pytest.raises(InvalidInput, match="invalid session name"):
            check_name(bad)
    assert check_tags(["a", "b", "a"]) == ["a", "b"]
    for bad in ["prod", [""], ["x" * 65], ["a\tb"], [1], None]:
        with pytest.raises(InvalidInput):
            check_tags(bad)
    with pytest.raises(InvalidInput, match="too many tags"):
        check_tags([f"t{i}" for i in range(65)])
    assert merge_tags(["a", "b"], ["b", "c"]) == ["a", "b", "c"]
    with pytest.raises(InvalidInput, match="too many tags"):
        merge_tags([f"t{i}" for i in range(64)], ["new"])


def test_generated_ids_are_time_ordered_and_valid():
    ids = [new_session_id() for _ in range(50)]
    assert all(check_session_id(i) and len(i) == 32 for i in ids)
    assert len(set(ids)) == 50
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)  # millisecond prefix never goes back


@pytest.mark.parametrize(
    ("prefix", "normal"),
    [("", ""), ("agents", "agents/"), ("agents/", "agents/"), ("a/b", "a/b/"), ("a/b//", "a/b/")],
)
def test_prefix_normalisation(prefix, normal):
    assert normalise_prefix(prefix) == normal


@pytest.mark.parametrize("bad", ["/abs", "a/../b", "./a", "a//b", "a\x00", "..", "x*", "a?b", "a[1]"])
def test_bad_prefixes(bad):
    with pytest.raises(InvalidInput, match="invalid prefix"):
        normalise_prefix(bad)


def test_key_layout_never_leaves_the_session_prefix():
    layout = KeyLayout("p")
    assert layout.head("s1") == "p/sessions/s1/head.json.zst"
    assert layout.segment("s1", "a" * 64) == f"p/sessions/s1/segments/{'a' * 64}.json.zst"
    assert layout.index_shard(3) == "p/index/0003.json.zst"
    assert layout.manifest == "p/manifest.json.zst"
    for bad in ["..", "../other", "s1/../../x"]:
        with pytest.raises(InvalidInput):
            layout.head(bad)
    with pytest.raises(InvalidInput):
        layout.segment("s1", "../../index/0000")
    assert layout.session_id_of("p/sessions/s1/head.json.zst") == "s1"
    assert layout.session_id_of("p/index/0001.json.zst") is None


def test_shards_are_stable_and_spread():
    assert shard_of("abc", 16) == shard_of("abc", 16)
    shards = {shard_of(new_session_id(), 16) for _ in range(400)}
    assert shards == set(range(16))


# --------------------------------------------------------------------------------------------------- turns

USER = {"role": "user", "content": "hi"}
ASSISTANT = {"role": "assistant", "content": "hello"}
ANTHROPIC_TOOL_RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
STRANDS_TOOL_RESULT = {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "ok"}]}}]}
OPENAI_TOOL_OUTPUT = {"type": "function_call_output", "call_id": "c", "output": "ok"}
MIXED = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}, {"type": "text", "text": "and"}]}


def test_turn_detection_across_providers():
    assert is_turn_start(USER)
    assert is_turn_start(MIXED)
    assert is_turn_start({"role": "user", "content": [{"text": "hi"}]})
    for not_a_turn in [
        ASSISTANT,
        ANTHROPIC_TOOL_RESULT,
        STRANDS_TOOL_RESULT,
        OPENAI_TOOL_OUTPUT,
        {"role": "tool", "content": "x"},
        {"role": "system", "content": "s"},
        "text",
        None,
    ]:
        assert not is_turn_start(not_a_turn)


def test_claude_agent_sdk_transcript_entries():
    entry = {"type": "user", "uuid": "u1", "message": {"role": "user", "content": "hi"}}
    tool_entry = {"type": "user", "uuid": "u2", "message": ANTHROPIC_TOOL_RESULT}
    reply = {"type": "assistant", "uuid": "u3", "message": {"role": "assistant", "content": "hello"}}
    assert turn_starts([{"type": "summary"}, entry, reply, tool_entry, reply, entry]) == [1, 5]


def test_turn_starts_and_cut():
    system = {"role": "system", "content": "be brief"}
    messages = [system, USER, ASSISTANT, ANTHROPIC_TOOL_RESULT, ASSISTANT, USER, ASSISTANT, USER]
    starts = turn_starts(messages)
    assert starts == [1, 5, 7]
    assert rewind_cut(starts, len(messages), 0) == 5  # system prompt and the whole first turn survive
    assert rewind_cut(starts, len(messages), 1) == 7
    assert rewind_cut(starts, len(messages), 2) == 8


# --------------------------------------------------------------------------------------------------- codec


def test_document_roundtrip_and_plain_zstd():
    body = encode_document({"kind": "head", "text": "héllo"})
    assert json.loads(zstandard.ZstdDecompressor().decompress(body)) == {"format": 1, "kind": "head", "text": "héllo"}
    assert decode_document(body, kind="head", max_bytes=1000, key="k")["text"] == "héllo"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), b"bytes", {1, 2}, object(), {"a": float("-inf")}])
def test_non_json_values_are_invalid_input(value):
    with pytest.raises(InvalidInput, match="not JSON"):
        encode_message_lines([value])


def test_non_string_keys_and_lone_surrogates_are_refused():
    with pytest.raises(InvalidInput, match="not a string"):
        encode_message_lines([{"a": {1: "x"}}])
    with pytest.raises(InvalidInput, match="Unicode"):
        encode_message_lines(["\ud800"])


def test_decode_refuses_garbage_truncation_bombs_and_wrong_kinds():
    good = encode_document({"kind": "head", "x": 1})
    for garbage in [b"", b"not zstd at all", good[:-3], good + b"junk"]:
        with pytest.raises(CorruptObject) as raised:
            decode_document(garbage, kind="head", max_bytes=1000, key="the/key")
        assert "the/key" in str(raised.value)
    with pytest.raises(CorruptObject, match="kind"):
        decode_document(good, kind="segment", max_bytes=1000, key="k")
    with pytest.raises(CorruptObject, match="unknown format"):
        decode_document(
            zstandard.ZstdCompressor().compress(b'{"format":99,"kind":"head"}'), kind="head", max_bytes=1000, key="k"
        )
    with pytest.raises(CorruptObject, match="not JSON"):
        decode_document(zstandard.ZstdCompressor().compress(b"{nope"), kind="head", max_bytes=1000, key="k")
    with pytest.raises(CorruptObject, match="not a JSON object"):
        decode_document(zstandard.ZstdCompressor().compress(b"[1]"), kind="head", max_bytes=1000, key="k")


def test_decompression_bombs_are_stopped_by_header_or_by_running_cap():
    sized_bomb = zstandard.ZstdCompressor().compress(b"0" * 50_000_000)
    assert len(sized_bomb) < 10_000
    with pytest.raises(CorruptObject, match="claims 50000000 bytes"):
        decode_document(sized_bomb, kind="head", max_bytes=1_000_000, key="k")
    # A streaming compressor writes no content size: the running cap must stop it.
    unsized = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    unsized_bomb = unsized.compress(b"0" * 50_000_000) + unsized.flush()
    assert zstandard.get_frame_parameters(unsized_bomb).content_size == zstandard.CONTENTSIZE_UNKNOWN
    with pytest.raises(CorruptObject, match="more than the 1000000-byte cap"):
        decode_document(unsized_bomb, kind="head", max_bytes=1_000_000, key="k")


def test_unsized_frames_decode():
    compressor = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    body = compressor.compress(b'{"format":1,"kind":"head","v":2}') + compressor.flush()
    assert decode_document(body, kind="head", max_bytes=1000, key="k")["v"] == 2


def test_encode_refuses_objects_over_the_cap():
    with pytest.raises(InvalidInput, match="size cap"):
        encode_document({"kind": "head", "x": "y" * 2000}, max_bytes=1000)


def test_segments_roundtrip_and_check_digest():
    messages = [USER, ASSISTANT, {"role": "user", "content": "ünïcode ✓", "n": 1.5e300}]
    lines = encode_message_lines(messages)
    digest = digest_lines(lines)
    body = encode_segment(lines)
    decoded, decoded_lines = decode_segment(body, digest=digest, max_bytes=10_000, key="k")
    assert decoded == messages and decoded_lines == lines
    with pytest.raises(CorruptObject, match="digest"):
        decode_segment(body, digest="0" * 64, max_bytes=10_000, key="k")


def test_canonical_json_is_compact_and_keeps_key_order():
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"b":1,"a":[1,"é"]}'


# -------------------------------------------------------------------------------------------------- layout


def _lines(count: int, size: int = 100) -> list[bytes]:
    return encode_message_lines([{"role": "user", "content": f"{i:05d}" + "w" * size} for i in range(count)])


def test_small_histories_stay_inline():
    layout = plan_layout([], _lines(5), tail_bytes=10_000, segment_bytes=50_000)
    assert layout.segments == [] and len(layout.tail) == 5


def test_bulk_save_seals_into_large_segments_and_keeps_them():
    lines = _lines(1000)  # ~ 120 KB
    layout = plan_layout([], lines, tail_bytes=4_000, segment_bytes=30_000)
    assert layout.tail == []
    assert all(ref.size <= 30_000 for ref in layout.segments)
    assert len(layout.segments) == -(-lines_size(lines) // 30_000)
    # Saving again with one more message keeps every segment and uploads only the new message.
    again = plan_layout(layout.segments, [*lines, *_lines(1)], tail_bytes=4_000, segment_bytes=30_000)
    assert again.segments == layout.segments and again.new_segments == [] and len(again.tail) == 1


def test_incremental_saves_merge_segments_like_a_binary_counter():
    lines: list[bytes] = []
    refs = []
    uploaded = 0
    for _step in range(400):
        lines = lines + _lines(1)
        layout = plan_layout(refs, lines, tail_bytes=1_000, segment_bytes=16_000)
        uploaded += sum(lines_size(segment.lines) for segment in layout.new_segments)
        refs = layout.segments
        assert sum(ref.take for ref in refs) + len(layout.tail) == len(lines)
        assert len(refs) <= lines_size(lines) // 16_000 + 6
    assert uploaded <= 6 * lines_size(lines)  # write amplification stays logarithmic


def test_an_edited_old_message_is_detected_by_digest():
    lines = _lines(300)
    layout = plan_layout([], lines, tail_bytes=1_000, segment_bytes=8_000)
    edited = list(lines)
    edited[3] = encode_message_lines([{"role": "user", "content": "changed"}])[0]
    again = plan_layout(layout.segments, edited, tail_bytes=1_000, segment_bytes=8_000)
    assert again.segments[0] != layout.segments[0]
    assert any(edited[3] in segment.lines for segment in again.new_segments)


def test_cut_layout_references_a_segment_partially():
    lines = _lines(100)
    layout = plan_layout([], lines, tail_bytes=1_000, segment_bytes=5_000)
    per_segment = []
    position = 0
    for ref in layout.segments:
        per_segment.append(lines[position : position + ref.take])
        position += ref.take
    cut = cut_layout(layout.segments, per_segment, [], 45)
    assert sum(ref.take for ref in cut.segments) == 45
    partial = cut.segments[-1]
    assert partial.take < partial.count and partial.take_digest == digest_lines(lines[45 - partial.take : 45])
    # The cut layout is itself a valid base: saving the 45 kept messages uploads nothing.
    again = plan_layout(cut.segments, lines[:45], tail_bytes=1_000, segment_bytes=5_000)
    assert again.new_segments == [] and again.tail == []


@pytest.mark.parametrize("bad", ["a/../b", "a//b", "x*", "agents/?"])
def test_bucket_init_and_the_manager_refuse_the_same_prefixes(bad):
    from s3sessions.bucket import agent_policy

    with pytest.raises(InvalidInput, match="invalid prefix"):
        normalise_prefix(bad)
    with pytest.raises(InvalidInput, match="invalid prefix"):
        agent_policy("b", prefix=bad)
