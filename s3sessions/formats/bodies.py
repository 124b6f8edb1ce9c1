"""Object bodies: records and message segments to bytes and back (pure code).

Every body is one zstd frame of UTF-8 JSON with ``format`` and ``kind`` fields. Messages are written as their
canonical lines, separated by a newline and a comma::

    {"format":2,"kind":"segment","count":3,"messages":[
    {"role":"user",...}
    ,{"role":"assistant",...}
    ,{...}
    ]}

Compact JSON never holds a raw newline, so the first and last newline of a body bound the *message region*:
its digest is one SHA-256 over those bytes, checked before any parsing, and its lines are one ``split`` away.
A head is laid out the same way, with the inline tail last (``..."tail":[\\n ... \\n]}``), so a save reuses the
tail's stored lines instead of encoding those messages again. Format 1 bodies (one line, digest over each
message's line plus a newline) are still read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from ..errors import CorruptObject, InvalidInput
from .frames import compress, decompress
from .json_values import copy_containers, decode_json, encode_checked
from .records import FORMAT, READABLE_FORMATS, HeadRecord, ManifestRecord, Record, SegmentRef, TombstoneRecord

SEPARATOR = b"\n,"
_RecordT = TypeVar("_RecordT", bound=Record)


def region_of(lines: Sequence[bytes]) -> bytes:
    """Returns the stored message region of canonical lines (what a format-2 digest covers)."""
    return SEPARATOR.join(lines)


def region_digest(region: bytes | memoryview) -> str:
    """Returns the format-2 digest of a message region."""
    return hashlib.sha256(region).hexdigest()


def lines_digest(lines: Sequence[bytes]) -> str:
    """Returns the format-2 digest of canonical lines (the digest of their region)."""
    return region_digest(region_of(lines))


def legacy_lines_digest(lines: Sequence[bytes]) -> str:
    """Returns the format-1 digest of canonical lines: SHA-256 over each line followed by a newline."""
    hasher = hashlib.sha256()
    for line in lines:
        hasher.update(line)
        hasher.update(b"\n")
    return hasher.hexdigest()


def ref_digest(ref: SegmentRef, lines: Sequence[bytes]) -> str:
    """Returns the digest of lines in the scheme of the referenced object (format 1 or 2)."""
    return legacy_lines_digest(lines) if ref.name is None else lines_digest(lines)


def lines_size(lines: Sequence[bytes]) -> int:
    """Returns the canonical size of messages (one newline each), as counted against the tail and segment bounds."""
    return sum(map(len, lines)) + len(lines)


def _split_region(raw: bytes, *, key: str, session_id: str | None) -> tuple[bytes, memoryview]:
    """Returns (header, region) of a format-2 body: before the first newline, between the first and last."""
    first = raw.find(b"\n")
    last = raw.rfind(b"\n")
    if first < 0 or last == first:
        raise CorruptObject("body has no message region", session_id=session_id, key=key)
    return raw[:first], memoryview(raw)[first + 1 : last]


def _lines(region: bytes | memoryview) -> list[bytes]:
    data = bytes(region)
    return data.split(SEPARATOR) if data else []


def _document(raw: bytes, *, kind: str, key: str, session_id: str | None) -> dict[str, Any]:
    return _checked(decode_json(raw, key=key, session_id=session_id), kind=kind, key=key, session_id=session_id)


def _checked(document: Any, *, kind: str, key: str, session_id: str | None) -> dict[str, Any]:
    """Returns a parsed document once it is an object of a readable format and of the expected kind."""
    if not isinstance(document, dict):
        raise CorruptObject("not a JSON object", session_id=session_id, key=key)
    if document.get("format") not in READABLE_FORMATS:
        raise CorruptObject(
            f"unknown format {document.get('format')!r} (this version reads {sorted(READABLE_FORMATS)})",
            session_id=session_id,
            key=key,
        )
    if document.get("kind") != kind:
        raise CorruptObject(
            f"expected a {kind} object, found kind {document.get('kind')!r}", session_id=session_id, key=key
        )
    return document


def decode_document(
    body: bytes, *, kind: str, max_bytes: int, key: str, session_id: str | None = None
) -> dict[str, Any]:
    """Returns the JSON document in a zstd frame, checking its format version and kind.

    Raises:
        CorruptObject: undecodable, over the cap, not a JSON object, unknown format, or another kind.
    """
    raw = decompress(body, max_bytes=max_bytes, key=key, session_id=session_id)
    return _document(raw, kind=kind, key=key, session_id=session_id)


def validate(model: type[_RecordT], document: dict[str, Any], *, key: str, session_id: str | None = None) -> _RecordT:
    """Validates a decoded document into a record model; any mismatch is `CorruptObject` naming the field."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise CorruptObject(
            f"malformed {document.get('kind')} object: {where}: {first['msg']}", session_id=session_id, key=key
        ) from exc


def encode_record(record: Record, *, max_bytes: int, extra: bytes = b"") -> bytes:
    """Encodes a small record (manifest, tombstone, index entry body) as one zstd frame of JSON."""
    fields = record.model_dump(mode="json")
    if "kind" in fields:
        fields = {"kind": fields["kind"], **fields}
    raw = b'{"format":%d,' % FORMAT + encode_checked(fields)[1:]
    return _frame(raw, max_bytes=max_bytes)


def _frame(raw: bytes, *, max_bytes: int) -> bytes:
    if len(raw) > max_bytes:
        raise InvalidInput(f"object of {len(raw)} bytes exceeds the {max_bytes}-byte object size cap")
    return compress(raw)


# ------------------------------------------------------------------------------------------------ segments


def segment_body(lines: Sequence[bytes], *, max_bytes: int) -> bytes:
    """Returns a format-2 segment object holding the given canonical lines.

    Raises:
        InvalidInput: the segment would exceed the object size cap.
    """
    raw = b'{"format":%d,"kind":"segment","count":%d,"messages":[\n%s\n]}' % (FORMAT, len(lines), region_of(lines))
    return _frame(raw, max_bytes=max_bytes)


@dataclass(frozen=True)
class DecodedSegment:
    """A segment's taken messages (a private snapshot copy is made by the caller) and, when needed, their lines."""

    messages: list[Any]
    lines: list[bytes] | None


def decode_segment(
    body: bytes, ref: SegmentRef, *, max_bytes: int, key: str, session_id: str | None = None, want_lines: bool = False
) -> DecodedSegment:
    """Returns the messages a head takes from a segment object, checked against the reference's digests.

    Raises:
        CorruptObject: undecodable, malformed, or not the messages the reference names.
    """
    raw = decompress(body, max_bytes=max_bytes, key=key, session_id=session_id)
    if ref.name is None:
        return _decode_legacy_segment(raw, ref, key=key, session_id=session_id)
    first, last = raw.find(b"\n"), raw.rfind(b"\n")
    region = memoryview(raw)[first + 1 : last] if 0 <= first < last else None
    if region is None or region_digest(region) != ref.digest:
        raise CorruptObject("segment content does not match its digest", session_id=session_id, key=key)
    document = _document(raw, kind="segment", key=key, session_id=session_id)
    messages = document.get("messages")
    if not isinstance(messages, list) or len(messages) != ref.count or document.get("count") != ref.count:
        raise CorruptObject("segment does not hold the messages its reference counts", session_id=session_id, key=key)
    lines = _lines(region) if (want_lines or ref.take < ref.count) else None
    if ref.take < ref.count:
        assert lines is not None
        if len(lines) != ref.count or lines_digest(lines[: ref.take]) != ref.take_digest:
            raise CorruptObject("segment does not match the head's reference", session_id=session_id, key=key)
        lines = lines[: ref.take]
        messages = messages[: ref.take]
    return DecodedSegment(messages, lines)


def _decode_legacy_segment(raw: bytes, ref: SegmentRef, *, key: str, session_id: str | None) -> DecodedSegment:
    """Format 1: the digest is over each message's canonical line, so the messages are encoded once more."""
    from .json_values import encode_messages

    document = _document(raw, kind="segment", key=key, session_id=session_id)
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise CorruptObject("segment has no message list", session_id=session_id, key=key)
    copy_containers(messages, key=key, session_id=session_id)  # the nesting bound of every read
    try:
        lines = encode_messages(messages)
    except InvalidInput as exc:
        raise CorruptObject(f"segment holds a non-canonical value: {exc}", session_id=session_id, key=key) from exc
    if legacy_lines_digest(lines) != ref.digest or len(lines) != ref.count:
        raise CorruptObject("segment content does not match its digest", session_id=session_id, key=key)
    if ref.take_digest is not None and legacy_lines_digest(lines[: ref.take]) != ref.take_digest:
        raise CorruptObject("segment does not match the head's reference", session_id=session_id, key=key)
    return DecodedSegment(messages[: ref.take], lines[: ref.take])


# --------------------------------------------------------------------------------------------------- heads


def head_body(head: HeadRecord, *, state_json: bytes, tail_lines: Sequence[bytes], max_bytes: int) -> bytes:
    """Returns a format-2 head object: the record's fields, the state, then the tail as a message region.

    The state and tail are passed pre-encoded (they were checked when the caller's session was), so nothing of
    the caller's values is serialised through pydantic, whose depth limit is not ours.
    """
    fields = {"kind": head.kind, **head.model_dump(mode="json", exclude={"state", "tail"})}
    header = encode_checked(fields)[1:-1]
    raw = b'{"format":%d,%s,"state":\n%s\n,"tail":[\n%s\n]}' % (FORMAT, header, state_json, region_of(tail_lines))
    return _frame(raw, max_bytes=max_bytes)


def content_digest(refs: Sequence[SegmentRef], tail_lines: Sequence[bytes], state_json: bytes) -> str:
    """Returns the digest of a session's content (messages and state): what a conflict is judged on.

    Built from the segments' digests and the tail and state bytes, so computing it never touches the sealed
    history. Only equality matters: a stale save merges when the head's content still equals what it read.
    """
    hasher = hashlib.sha256(b"s3sessions-content-2")
    for ref in refs:
        hasher.update(ref.taken_digest.encode("ascii"))
    hasher.update(hashlib.sha256(region_of(tail_lines)).digest())
    hasher.update(hashlib.sha256(state_json).digest())
    return hasher.hexdigest()


@dataclass(frozen=True)
class DecodedHead:
    """A head object read back: the record, its tail's canonical lines, and the state's canonical JSON."""

    record: HeadRecord
    tail_lines: list[bytes]
    state_json: bytes


def decode_head_object(body: bytes, *, max_bytes: int, key: str, session_id: str) -> DecodedHead | TombstoneRecord:
    """Returns what is stored at a head key: a live head (with its tail lines), or a delete's tombstone.

    Raises:
        CorruptObject: undecodable, malformed, self-contradicting, or belonging to another session.
    """
    from .json_values import encode_messages, encode_value

    raw = decompress(body, max_bytes=max_bytes, key=key, session_id=session_id)
    document = decode_json(raw, key=key, session_id=session_id)
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind == "tombstone":
        tombstone = validate(
            TombstoneRecord, _checked(document, kind="tombstone", key=key, session_id=session_id), key=key
        )
        _check_owner(tombstone.session_id, session_id, key)
        return tombstone
    document = _checked(document, kind="head", key=key, session_id=session_id)
    tail = document.get("tail")
    state = document.get("state")
    copy_containers([state, *(tail if isinstance(tail, list) else [])], key=key, session_id=session_id)
    record = validate(HeadRecord, document, key=key, session_id=session_id)
    _check_owner(record.session_id, session_id, key)
    try:
        if document["format"] == 1:
            tail_lines = encode_messages(record.tail)
            state_json = encode_value(record.state, label="state")
        else:
            state_json, tail_lines = _head_regions(raw, key=key, session_id=session_id)
    except InvalidInput as exc:
        raise CorruptObject(
            f"head holds a value that is not storable JSON: {exc}", session_id=session_id, key=key
        ) from exc
    if len(tail_lines) != len(record.tail):
        raise CorruptObject("head's tail region does not match its tail", session_id=session_id, key=key)
    return DecodedHead(record, tail_lines, state_json)


def _head_regions(raw: bytes, *, key: str, session_id: str) -> tuple[bytes, list[bytes]]:
    """Returns the state's JSON and the tail's lines of a format-2 head, from the newlines that bound them."""
    state_start = raw.find(b"\n") + 1
    state_end = raw.find(b"\n", state_start)
    tail_start = raw.find(b"\n", state_end + 1) + 1
    tail_end = raw.rfind(b"\n")
    if not 0 < state_start <= state_end < tail_start <= tail_end:
        raise CorruptObject("head has no state and tail regions", session_id=session_id, key=key)
    return raw[state_start:state_end], _lines(memoryview(raw)[tail_start:tail_end])


def _check_owner(stored: str, session_id: str, key: str) -> None:
    if stored != session_id:
        raise CorruptObject(f"head belongs to session {stored!r}", session_id=session_id, key=key)


def decode_manifest(body: bytes, *, max_bytes: int, key: str) -> ManifestRecord:
    """Returns a prefix's manifest (format 1 or 2).

    Raises:
        CorruptObject: undecodable or malformed.
    """
    return validate(ManifestRecord, decode_document(body, kind="manifest", max_bytes=max_bytes, key=key), key=key)
