"""Bytes on the wire: JSON documents in one zstd frame, and message digests (pure code, no I/O).

Every object we write is one standard zstd frame of compact UTF-8 JSON with a ``format`` field, so
``aws s3 cp s3://b/k - | zstd -d | jq .`` works on any of them. Decoding never trusts the object: the frame
header's claimed size is checked before decompressing, decompression stops at a size cap (frames written by
streaming compressors carry no size), and anything undecodable is `CorruptObject` naming the key.

Messages are hashed as the concatenation of ``canonical_json(message) + "\\n"``; a JSON text never holds a raw
newline, so the digest of a prefix of messages can be computed incrementally and segments can be referenced
partially (rewind) and checked by content (save).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import zstandard

from .errors import CorruptObject, InvalidInput

FORMAT_VERSION = 1
KNOWN_FORMATS = frozenset({1})
DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024
COMPRESSION_LEVEL = 3
_UNSIZED_INPUT_STEP = 1024

_compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL)
_decompressor = zstandard.ZstdDecompressor()


def canonical_json(value: object) -> str:
    """Returns the compact JSON text of a value, refusing anything that would not round-trip.

    Raises:
        InvalidInput: for NaN/Infinity, non-string keys, or values JSON cannot represent (bytes, datetime, ...).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_refuse)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"value is not JSON-serialisable: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInput("value is not JSON-serialisable: nested too deeply") from exc
    return text


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} {value!r:.80}")


def check_string_keys(value: object) -> None:
    """Raises InvalidInput if any dict in the value has a non-string key (json.dumps would coerce it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidInput(f"value is not JSON-serialisable: dict key {key!r} is not a string")
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def encode_message_lines(messages: Iterable[object], *, label: str = "messages") -> list[bytes]:
    """Returns each message's canonical JSON as UTF-8 bytes (the unit of hashing and size accounting).

    Raises:
        InvalidInput: naming the first offending message, e.g. ``messages[3]: value is not JSON-serialisable``.
    """
    lines = []
    for index, message in enumerate(messages):
        try:
            check_string_keys(message)
            lines.append(_utf8(canonical_json(message)))
        except InvalidInput as exc:
            raise InvalidInput(f"{label}[{index}]: {exc}") from exc.__cause__
    return lines


def check_state(state: object) -> bytes:
    """Returns the canonical JSON of a session's state.

    Raises:
        InvalidInput: ``state: ...`` if it is not JSON.
    """
    try:
        check_string_keys(state)
        return _utf8(canonical_json(state))
    except InvalidInput as exc:
        raise InvalidInput(f"state: {exc}") from exc.__cause__


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"value is not valid Unicode: {exc}") from exc


def digest_lines(lines: Sequence[bytes]) -> str:
    """Returns the SHA-256 hex digest of messages given as canonical JSON lines."""
    hasher = hashlib.sha256()
    for line in lines:
        hasher.update(line)
        hasher.update(b"\n")
    return hasher.hexdigest()


def encode_document(document: dict[str, Any], *, max_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> bytes:
    """Returns the document as compact JSON in one zstd frame (with its content size in the header).

    Raises:
        InvalidInput: if the document is not JSON, or its JSON is larger than ``max_bytes`` (we would not be
            able to read it back).
    """
    document = {"format": FORMAT_VERSION, **document}
    try:
        raw = canonical_json(document).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"value is not valid Unicode: {exc}") from exc
    if len(raw) > max_bytes:
        raise InvalidInput(f"object of {len(raw)} bytes exceeds the {max_bytes}-byte object size cap")
    return _compressor.compress(raw)


def content_digest(lines: Sequence[bytes], state: object) -> str:
    """Returns the digest of a session's content (messages and state): what a conflict is judged on."""
    hasher = hashlib.sha256()
    hasher.update(digest_lines(lines).encode("ascii"))
    hasher.update(check_state(state))
    return hasher.hexdigest()


def encode_segment(lines: Sequence[bytes], *, max_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> bytes:
    """Returns a segment object: ``{"format":1,"kind":"segment","messages":[...]}`` assembled from canonical
    lines without serialising the messages again.

    Raises:
        InvalidInput: if the segment would exceed the object size cap.
    """
    raw = b'{"format":%d,"kind":"segment","messages":[%s]}' % (FORMAT_VERSION, b",".join(lines))
    if len(raw) > max_bytes:
        raise InvalidInput(f"segment of {len(raw)} bytes exceeds the {max_bytes}-byte object size cap")
    return _compressor.compress(raw)


def decode_segment(
    body: bytes, *, digest: str, max_bytes: int, key: str, session_id: str | None = None
) -> tuple[list[Any], list[bytes]]:
    """Returns a segment's messages and their canonical lines, checking them against the expected digest.

    Raises:
        CorruptObject: undecodable, malformed, or the messages do not match ``digest``.
    """
    document = decode_document(body, kind="segment", max_bytes=max_bytes, key=key, session_id=session_id)
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise CorruptObject("segment has no message list", session_id=session_id, key=key)
    try:
        lines = encode_message_lines(messages)
    except InvalidInput as exc:
        raise CorruptObject(f"segment holds a non-canonical value: {exc}", session_id=session_id, key=key) from exc
    if digest_lines(lines) != digest:
        raise CorruptObject("segment content does not match its digest", session_id=session_id, key=key)
    return messages, lines


def decompress(body: bytes, *, max_bytes: int, key: str, session_id: str | None = None) -> bytes:
    """Returns the decompressed frame, refusing frames that claim or produce more than ``max_bytes``.

    Raises:
        CorruptObject: not a zstd frame, truncated, or over the cap.
    """
    try:
        params = zstandard.get_frame_parameters(body)
    except zstandard.ZstdError as exc:
        raise CorruptObject(f"not a zstd frame: {exc}", session_id=session_id, key=key) from exc
    if params.content_size not in (zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR) and (
        params.content_size > max_bytes
    ):
        raise CorruptObject(
            f"object claims {params.content_size} bytes, over the {max_bytes}-byte cap",
            session_id=session_id,
            key=key,
        )
    # A frame that declares its size (ours do) is bounded by that declaration, which libzstd enforces; a
    # frame without one (written by a streaming compressor) is fed in small pieces under a running cap, so a
    # bomb is stopped after at most one piece's worth of output past the cap.
    declared = params.content_size not in (zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR)
    step = max(len(body), 1) if declared else _UNSIZED_INPUT_STEP
    decompressor = _decompressor.decompressobj()
    pieces: list[bytes] = []
    produced = 0
    try:
        for offset in range(0, max(len(body), 1), step):
            piece = decompressor.decompress(body[offset : offset + step])
            produced += len(piece)
            if produced > max_bytes:
                raise CorruptObject(
                    f"object decompresses to more than the {max_bytes}-byte cap",
                    session_id=session_id,
                    key=key,
                )
            pieces.append(piece)
            if decompressor.eof:
                break
    except zstandard.ZstdError as exc:
        raise CorruptObject(f"damaged zstd frame: {exc}", session_id=session_id, key=key) from exc
    if not decompressor.eof:
        raise CorruptObject("truncated zstd frame", session_id=session_id, key=key)
    if decompressor.unused_data or offset + step < len(body):
        raise CorruptObject("trailing bytes after the zstd frame", session_id=session_id, key=key)
    return b"".join(pieces)


def decode_document(
    body: bytes, *, kind: str, max_bytes: int, key: str, session_id: str | None = None
) -> dict[str, Any]:
    """Returns the JSON document in a zstd frame, checking its format version and kind.

    Raises:
        CorruptObject: undecodable, over the cap, not a JSON object, unknown format, or another kind.
    """
    raw = decompress(body, max_bytes=max_bytes, key=key, session_id=session_id)
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptObject(f"not JSON: {exc}", session_id=session_id, key=key) from exc
    except RecursionError as exc:
        raise CorruptObject("JSON nested too deeply", session_id=session_id, key=key) from exc
    if not isinstance(document, dict):
        raise CorruptObject("not a JSON object", session_id=session_id, key=key)
    if document.get("format") not in KNOWN_FORMATS:
        raise CorruptObject(
            f"unknown format {document.get('format')!r} (this version reads {sorted(KNOWN_FORMATS)})",
            session_id=session_id,
            key=key,
        )
    if document.get("kind") != kind:
        raise CorruptObject(
            f"expected a {kind} object, found kind {document.get('kind')!r}", session_id=session_id, key=key
        )
    return document
