"""Unit tests of the pure modules: keys, turns, codec, layout."""

from __future__ import annotations

import json
from typing import Any

import pytest
import zstandard

from s3sessions import CorruptObject, InvalidInput
from s3sessions.formats.bodies import (
    decode_document,
    decode_segment,
    encode_record,
    lines_digest,
    lines_size,
    segment_body,
)
from s3sessions.formats.json_values import (
    MAX_INT_BITS,
    MAX_NESTING,
    check_value,
    copy_containers,
    decode_json,
    encode_messages,
    encode_value,
)
from s3sessions.formats.keys import KeyLayout, fanout_bucket_of
from s3sessions.formats.listing import entry_name, parse_entry_name, parse_listing, summary_of
from s3sessions.formats.planning import NewSegment, cut_layout, plan_layout
from s3sessions.formats.records import EntryBody, HeadRecord, SegmentRef, StoredMetadata
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
    legacy = SegmentRef(digest="a" * 64, count=1, take=1, size=1)
    assert layout.segment("s1", legacy) == f"p/sessions/s1/segments/{'a' * 64}.json.zst"
    name = f"{'b' * 32}/{'a' * 64}.{'c' * 12}"
    assert layout.segment("s1", legacy.model_copy(update={"name": name})) == f"p/sessions/s1/segments/{name}.json.zst"
    assert layout.index_bucket(3) == "p/index/3/" and layout.manifest == "p/manifest.json.zst"
    for bad in ["..", "../other", "s1/../../x"]:
        with pytest.raises(InvalidInput):
            layout.head(bad)
    for bad_name in ["../../index/0000", f"{'b' * 32}/../x", "x" * 32]:
        with pytest.raises(InvalidInput):
            layout.segment_named("s1", bad_name)
    with pytest.raises(ValueError):
        SegmentRef(digest="a" * 64, count=1, take=1, size=1, name="../../escape")
    assert layout.session_id_of("p/sessions/s1/head.json.zst") == "s1"
    assert layout.session_id_of("p/index/0/x") is None
    assert layout.is_legacy_shard("p/index/0001.json.zst") and not layout.is_legacy_shard("p/index/0/x")


def test_fanout_buckets_are_stable_and_spread():
    assert fanout_bucket_of("abc", 16) == fanout_bucket_of("abc", 16)
    buckets = {fanout_bucket_of(new_session_id(), 16) for _ in range(400)}
    assert buckets == set(range(16))


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


# --------------------------------------------------------------------------------------------- json values


def test_document_roundtrip_and_plain_zstd():
    body = encode_record(EntryBody(listing="héllo"), max_bytes=1000)
    assert json.loads(zstandard.ZstdDecompressor().decompress(body)) == {
        "format": 2,
        "kind": "entry",
        "listing": "héllo",
        "summary": None,
    }
    assert decode_document(body, kind="entry", max_bytes=1000, key="k")["listing"] == "héllo"


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        b"bytes",
        {1, 2},
        object(),
        {"a": float("-inf")},
        pytest.param(10**5000, id="huge-int"),
        {"a": [b"x"]},
    ],
)
def test_non_json_values_are_invalid_input(value):
    with pytest.raises(InvalidInput, match="not JSON"):
        encode_messages([value])


def test_non_string_keys_and_lone_surrogates_are_refused():
    with pytest.raises(InvalidInput, match="not a string"):
        encode_messages([{"a": {1: "x"}}])
    with pytest.raises(InvalidInput, match="Unicode"):
        encode_messages(["\ud800"])


def test_circular_values_are_refused_at_once():
    looped: list = []
    looped.append(looped)
    branching: list = []
    branching.extend([branching, branching, branching])
    through_dict: dict = {"content": []}
    through_dict["content"].append({"again": through_dict})
    for value in (looped, branching, through_dict):
        with pytest.raises(InvalidInput, match="nested too deeply"):
            check_value(value)


def test_containers_are_checked_as_the_encoder_walks_them_whatever_a_subclass_says():
    class HidingDict(dict):
        def items(self):  # type: ignore[override]
            return iter(())

    class HidingList(list):
        def __iter__(self):  # type: ignore[override]
            return iter(())

    deep: object = "leaf"
    for _ in range(MAX_NESTING + 1):
        deep = [deep]
    for hiding in (HidingDict(a=deep), HidingList([deep]), HidingDict(a=float("nan")), HidingList([{1: "x"}])):
        with pytest.raises(InvalidInput):
            check_value(hiding)


def test_nesting_is_bounded_the_same_way_on_write_and_on_read():
    deep: object = "leaf"
    for _ in range(MAX_NESTING):
        deep = [deep]
    check_value(deep)  # exactly the bound: fine
    copy_containers([deep], key="k")
    with pytest.raises(InvalidInput, match="nested too deeply"):
        check_value([deep])
    with pytest.raises(CorruptObject, match="nested too deeply"):
        copy_containers([[deep]], key="k")


def test_reads_refuse_huge_numbers_and_deep_documents_whatever_the_stack():
    with pytest.raises(CorruptObject, match="not JSON"):
        decode_json(b"1" * 5000, key="k")
    with pytest.raises(CorruptObject, match="not JSON"):
        decode_json(b"[" * 5000 + b"]" * 5000, key="k")

    def deep_caller(depth: int) -> object:
        return decode_json(b"[" * 100 + b"]" * 100, key="k") if depth == 0 else deep_caller(depth - 1)

    assert deep_caller(900) is not None  # the parser's bound does not depend on the Python stack


def test_copies_share_scalars_and_never_containers():
    original: list[Any] = [{"role": "user", "content": [{"text": "x" * 100}], "n": 1}]
    copied: list[Any] = copy_containers(original, key="k")
    assert copied == original
    assert copied[0] is not original[0] and copied[0]["content"] is not original[0]["content"]
    assert copied[0]["content"][0]["text"] is original[0]["content"][0]["text"]


def test_decode_refuses_garbage_truncation_bombs_and_wrong_kinds():
    good = encode_record(EntryBody(listing="x"), max_bytes=1000)
    for garbage in [b"", b"not zstd at all", good[:-3], good + b"junk"]:
        with pytest.raises(CorruptObject) as raised:
            decode_document(garbage, kind="entry", max_bytes=1000, key="the/key")
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
        encode_record(EntryBody(listing="y" * 2000), max_bytes=1000)
    with pytest.raises(InvalidInput, match="size cap"):
        segment_body([b'"' + b"y" * 2000 + b'"'], max_bytes=1000)


def _ref(lines: list[bytes], **update) -> SegmentRef:
    name = f"{'b' * 32}/{lines_digest(lines)}.{'c' * 12}"
    return NewSegment.of(lines, 0).ref(name).model_copy(update=update)


def test_segments_roundtrip_and_check_the_digest_before_parsing():
    messages = [USER, ASSISTANT, {"role": "user", "content": "ünïcode ✓", "n": 1.5e300}]
    lines = encode_messages(messages)
    body = segment_body(lines, max_bytes=10_000)
    raw = zstandard.ZstdDecompressor().decompress(body)
    assert raw.startswith(b'{"format":2,"kind":"segment","count":3,"messages":[\n') and json.loads(raw)["messages"]
    decoded = decode_segment(body, _ref(lines), max_bytes=10_000, key="k", want_lines=True)
    assert decoded.messages == messages and decoded.lines == lines
    with pytest.raises(CorruptObject, match="digest"):
        decode_segment(body, _ref(lines, digest="0" * 64), max_bytes=10_000, key="k")
    partial = decode_segment(body, _ref(lines, take=2, take_digest=lines_digest(lines[:2])), max_bytes=10_000, key="k")
    assert partial.messages == messages[:2]


def _nested(levels: int) -> bytes:
    """A message line whose containers nest ``levels`` deep (the message itself is the first)."""
    return b'{"role":"user","content":' + b"[" * (levels - 1) + b'"x"' + b"]" * (levels - 1) + b"}"


@pytest.mark.parametrize("take", [None, 1], ids=["whole", "taken-part"])
def test_a_segment_read_keeps_the_write_bounds_on_what_it_hands_out(take):
    def decode(line: bytes) -> Any:
        lines = [line, encode_value(USER)] if take is None else [encode_value(USER), line]
        update = {} if take is None else {"take": 1, "take_digest": lines_digest(lines[:1])}
        body = segment_body(lines, max_bytes=100_000)
        return decode_segment(body, _ref(lines, **update), max_bytes=100_000, key="seg-key", session_id="s1")

    deepest = _nested(MAX_NESTING)
    check_value(json.loads(deepest))  # the write bound accepts it...
    assert copy_containers(decode(deepest).messages, key="k")[0] == json.loads(
        deepest if take is None else encode_value(USER)
    )
    refused = {
        _nested(MAX_NESTING + 1): "nested too deeply",
        _nested(150): "nested too deeply",
        b'{"role":"user","content":"x","n":1e400}': "float inf",
        b'{"role":"user","content":"x","n":[-1e999]}': "float -inf",
        b'{"role":"user","content":"x","n":' + b"7" * 4250 + b"}": "bits is too large",
    }
    for line, reason in refused.items():
        with pytest.raises(InvalidInput):
            check_value(json.loads(line))
        handed_out = decode(line).messages  # what a read hands out is copied, and checked as it is copied
        if take is not None:  # a message the head does not take is never handed out
            assert copy_containers(handed_out, key="seg-key") == [USER]
            continue
        with pytest.raises(CorruptObject, match=reason) as raised:
            copy_containers(handed_out, key="seg-key")
        assert "seg-key" in str(raised.value)


def test_a_reads_number_bounds_are_the_writes_to_the_last_bit():
    largest_int = (1 << MAX_INT_BITS) - 1
    storable = [largest_int, -largest_int, 1.7976931348623157e308, -1.7976931348623157e308, -0.0, True, None]
    for value in storable:
        check_value(value)
        assert copy_containers([[value], {"n": value}], key="k") == [[value], {"n": value}]
    for value in (largest_int + 1, -largest_int - 1, float("inf"), float("-inf"), float("nan")):
        with pytest.raises(InvalidInput):
            check_value(value)
        for container in ([value], {"n": value}):
            with pytest.raises(CorruptObject):
                copy_containers([container], key="k")


def test_canonical_json_is_compact_and_keeps_key_order():
    assert encode_value({"b": 1, "a": [1, "é"]}) == '{"b":1,"a":[1,"é"]}'.encode()


# -------------------------------------------------------------------------------------------------- index


def _head(**metadata) -> HeadRecord:
    stored = StoredMetadata(created_at=1_700_000_000.5, updated_at=1_700_000_001.25, **metadata)
    return HeadRecord(
        session_id="s1", incarnation="a" * 32, revision=3, metadata=stored, message_count=0, content_digest="0" * 64
    )


def test_index_entries_carry_the_listing_and_parse_back_validated():
    head = _head(name="Résumé ✓ ~&=%", tags=["prod", "a b"], agent_name="coder")
    entry = entry_name("s1", head, '"abc123"', prefix_bytes=20)
    assert entry.body_listing is None and "~" not in entry.name.split("~", 2)[2]
    parsed = parse_entry_name(entry.name)
    assert parsed is not None and parsed.session_id == "s1" and parsed.version == "abc123"
    listing = parse_listing(parsed, parsed.listing or "")
    assert listing.metadata.name == "Résumé ✓ ~&=%" and listing.metadata.tags == ["prod", "a b"]
    assert listing.metadata.updated_at == 1_700_000_001.25 and listing.metadata.created_at == 1_700_000_000.5
    assert listing.metadata.version == '"abc123"' and listing.revision == 3
    later = entry_name("s1", _head().model_copy(update={"metadata": StoredMetadata(created_at=1, updated_at=2e9)}), "v",
                       prefix_bytes=20)  # fmt: skip
    assert later.name < entry.name  # newer sorts first


def test_long_listings_move_into_the_entry_body():
    head = _head(name="n" * 256, tags=[f"tag-{i:02d}-" + "x" * 50 for i in range(20)])
    entry = entry_name("s1", head, "v", prefix_bytes=600)
    assert entry.name.endswith("~+") and entry.body_listing is not None and len(entry.name) + 600 <= 900
    parsed = parse_entry_name(entry.name)
    assert parsed is not None and parsed.listing is None
    assert parse_listing(parsed, entry.body_listing).metadata.tags == head.metadata.tags


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x~y~z",
        "0000000000000~../x~r=1",
        "0000000000000~s1~r=1&i=aaaaaaaaaaaa&v=v&c=1&tc=1&b=1&tk=1&a=%1B",
        "0000000000000~s1~r=1&i=aaaaaaaaaaaa&v=v&c=1&tc=1&b=1&tk=1&a=x&n=",
        "0000000000000~s1~r=-1&i=aaaaaaaaaaaa&v=v&c=1&tc=1&b=1&tk=1&a=x",
        "0000000000000~s1~r=1&i=aaaaaaaaaaaa&v=v&c=1&tc=1&b=1&tk=1&a=x&p=..%2F..",
    ],
)
def test_planted_entries_are_refused(name):
    parsed = parse_entry_name(name)
    if parsed is not None:
        with pytest.raises(InvalidInput):
            parse_listing(parsed, parsed.listing or "")


# -------------------------------------------------------------------------------------------------- layout


def _lines(count: int, size: int = 100) -> list[bytes]:
    return encode_messages([{"role": "user", "content": f"{i:05d}" + "w" * size} for i in range(count)])


def _plan(kept: list[SegmentRef], lines: list[bytes], position: int, **bounds):
    return plan_layout(
        kept,
        lines[position:],
        [True] * (len(lines) - position),
        kept_lines=lambda i: lines[sum(r.take for r in kept[:i]) :][: kept[i].take],
        **bounds,
    )


def _named(layout) -> list[SegmentRef]:
    return layout.refs(lambda segment: f"{'b' * 32}/{segment.digest}.{'c' * 12}")


def test_small_histories_stay_inline():
    layout = _plan([], _lines(5), 0, tail_bytes=10_000, segment_bytes=50_000)
    assert layout.kept == [] and layout.new_segments == [] and len(layout.tail) == 5
    assert layout.tail_turn_starts == [0, 1, 2, 3, 4]


def test_bulk_save_seals_into_large_segments_that_count_their_turns():
    lines = _lines(1000)  # ~ 120 KB
    layout = _plan([], lines, 0, tail_bytes=4_000, segment_bytes=30_000)
    refs = _named(layout)
    assert layout.tail == [] and all(ref.size <= 30_000 for ref in refs)
    assert len(refs) == -(-lines_size(lines) // 30_000)
    assert sum(ref.turns for ref in refs) == 1000
    # Saving again with one more message keeps every segment and uploads only the new message.
    again = _plan(refs, [*lines, *_lines(1)], 1000, tail_bytes=4_000, segment_bytes=30_000)
    assert again.kept == refs and again.new_segments == [] and len(again.tail) == 1


def test_incremental_saves_merge_segments_like_a_binary_counter():
    lines: list[bytes] = []
    refs: list[SegmentRef] = []
    uploaded = 0
    for _step in range(400):
        lines = lines + _lines(1)
        position = sum(ref.take for ref in refs)
        layout = _plan(refs, lines, position, tail_bytes=1_000, segment_bytes=16_000)
        uploaded += sum(lines_size(segment.lines) for segment in layout.new_segments)
        refs = _named(layout)
        assert sum(ref.take for ref in refs) + len(layout.tail) == len(lines)
        assert len(refs) <= lines_size(lines) // 16_000 + 6
        if layout.tail:  # the tail is never re-sealed: keep it for the next round
            refs = refs
    assert uploaded <= 6 * lines_size(lines)  # write amplification stays logarithmic


def test_cut_layout_references_a_segment_partially():
    lines = _lines(100)
    refs = _named(_plan([], lines, 0, tail_bytes=1_000, segment_bytes=5_000))
    position = 0
    for ref in refs:
        if position + ref.take > 45:
            cut_lines = lines[position : position + ref.take]
            break
        position += ref.take
    cut = cut_layout(
        refs, 45, cut_lines=cut_lines, cut_turn_starts=[True] * len(cut_lines), tail=[], tail_turn_starts=[]
    )
    assert sum(ref.take for ref in cut.kept) == 45
    partial = cut.kept[-1]
    assert partial.take < partial.count and partial.take_digest == lines_digest(lines[45 - partial.take : 45])
    assert partial.turns == partial.take


@pytest.mark.parametrize("bad", ["a/../b", "a//b", "x*", "agents/?"])
def test_bucket_init_and_the_manager_refuse_the_same_prefixes(bad):
    from s3sessions.admin.bucket import agent_policy

    with pytest.raises(InvalidInput, match="invalid prefix"):
        normalise_prefix(bad)
    with pytest.raises(InvalidInput, match="invalid prefix"):
        agent_policy("b", prefix=bad)


def test_the_metadata_field_table_matches_the_model_the_head_and_the_index_entry():
    """`formats.fields` declares each field once; a field added to one shape and not the others fails here."""
    from s3sessions import SessionMetadata
    from s3sessions.engine.objects import HeadState
    from s3sessions.engine.reading import metadata_of
    from s3sessions.formats.fields import LISTING_CODES, METADATA_FIELDS, REQUIRED_CODES

    assert [field.name for field in METADATA_FIELDS] == list(SessionMetadata.model_fields)
    assert {field.name for field in METADATA_FIELDS if field.head == "metadata"} == set(StoredMetadata.model_fields)
    assert {field.name for field in METADATA_FIELDS if field.head == "record"} <= set(HeadRecord.model_fields)
    tail = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    stored = StoredMetadata(
        name="every field set", tags=["x", "y"], agent_name="coder", created_at=1_700_000_000.5,
        updated_at=1_700_000_001.25, turn_count=2, total_tokens=42, parent_id="p1", forked_at_turn=1,
        summary={"title": "short"},
    )  # fmt: skip
    head = HeadRecord(
        session_id="s1", incarnation="a" * 32, revision=3, metadata=stored, message_count=3, message_bytes=77,
        content_digest="0" * 64, tail=tail, tail_turn_starts=[0, 2],
    )  # fmt: skip
    entry = entry_name("s1", head, '"abc123"', prefix_bytes=20)
    parsed = parse_entry_name(entry.name)
    assert parsed is not None and entry.body_listing is None
    codes = {pair.split("=", 1)[0] for pair in (parsed.listing or "").split("&")}
    assert codes == LISTING_CODES and codes >= REQUIRED_CODES
    listing = parse_listing(parsed, parsed.listing or "")
    listed = listing.metadata.model_copy(update={"summary": summary_of(listing, key="k")})
    expected = metadata_of("s1", HeadState(etag='"abc123"', record=head, tail_lines=[], state_json=b"null"))
    assert listed.model_dump() == expected.model_dump()
    defaults = SessionMetadata(id="other", created_at=0, updated_at=0)
    for field in METADATA_FIELDS:  # every field was set away from its default, so the round trip proves it is carried
        assert getattr(expected, field.name) != getattr(defaults, field.name), field.name


def test_frames_encode_and_decode_from_many_threads_at_once():
    """A zstd context shared by threads corrupts frames (libzstd runs without the GIL): seen as 'Restored data
    doesn't match checksum' when 8 threads drove one manager on Ceph RGW."""
    import os
    import threading

    from s3sessions.formats.frames import compress, decompress

    bodies = [os.urandom(200) * (50 + index * 37) for index in range(8)]
    frames = [compress(body) for body in bodies]
    failures: list[str] = []

    def work(start: int) -> None:
        try:
            for step in range(300):
                index = (start + step) % len(bodies)
                assert decompress(frames[index], max_bytes=1 << 26, key="k") == bodies[index]
                assert compress(bodies[index]) == frames[index]
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=work, args=(start,)) for start in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == [] and not any(thread.is_alive() for thread in threads)
