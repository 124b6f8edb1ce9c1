"""zstd frames: every stored body is one standard frame, decoded under a size cap (pure code).

So ``aws s3 cp s3://b/k - | zstd -d | jq .`` works on any object. Decoding never trusts the object: the frame
header's claimed size is checked before decompressing, decompression stops at a running cap (frames written by
streaming compressors carry no size), and anything undecodable is `CorruptObject` naming the key. Frames written
now carry zstd's content checksum, which the decompressor verifies for free.
"""

from __future__ import annotations

import threading

import zstandard

from ..errors import CorruptObject

DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024
COMPRESSION_LEVEL = 3
_UNSIZED_INPUT_STEP = 1024
_KNOWN = (zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR)


class _Contexts(threading.local):
    """One compressor and one decompressor per thread: a zstd context (and every ``decompressobj`` made from
    it) must never be used by two threads at once, and libzstd releases the GIL while it works, so one shared
    pair corrupts frames as soon as a manager serves several threads (``SyncSessionManager``, thread pools)."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL, write_checksum=True)
        self.decompressor = zstandard.ZstdDecompressor()


_contexts = _Contexts()


def compress(raw: bytes) -> bytes:
    """Returns ``raw`` as one zstd frame that declares its content size and carries a checksum."""
    return _contexts.compressor.compress(raw)


def decompress(body: bytes, *, max_bytes: int, key: str, session_id: str | None = None) -> bytes:
    """Returns the decompressed frame, refusing frames that claim or produce more than ``max_bytes``.

    Raises:
        CorruptObject: not a zstd frame, truncated, damaged, trailing bytes, or over the cap.
    """
    try:
        params = zstandard.get_frame_parameters(body)
    except zstandard.ZstdError as exc:
        raise CorruptObject(f"not a zstd frame: {exc}", session_id=session_id, key=key) from exc
    declared = params.content_size not in _KNOWN
    if declared and params.content_size > max_bytes:
        raise CorruptObject(
            f"object claims {params.content_size} bytes, over the {max_bytes}-byte cap",
            session_id=session_id,
            key=key,
        )
    # A frame that declares its size (ours do) is bounded by that declaration, which libzstd enforces; a
    # frame without one is fed in small pieces under a running cap, so a bomb stops one piece past the cap.
    step = max(len(body), 1) if declared else _UNSIZED_INPUT_STEP
    decompressor = _contexts.decompressor.decompressobj()
    pieces: list[bytes] = []
    produced = 0
    offset = 0
    try:
        for offset in range(0, max(len(body), 1), step):
            piece = decompressor.decompress(body[offset : offset + step])
            produced += len(piece)
            if produced > max_bytes:
                raise CorruptObject(
                    f"object decompresses to more than the {max_bytes}-byte cap", session_id=session_id, key=key
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
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
