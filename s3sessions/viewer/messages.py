"""Stored messages as blocks a page can show: text, tool calls and results, images, the rest (pure code).

Sessions hold the provider's messages verbatim, so one session can hold any of these shapes:

- OpenAI chat: ``{"role", "content": str | [parts], "tool_calls": [{"id", "function": {"name", "arguments"}}]}``,
  tool output as ``{"role": "tool", "tool_call_id", "content"}``, images as ``image_url`` parts.
- OpenAI Responses / Agents SDK items: ``{"type": "message", "role", "content": [input_text | output_text |
  input_image]}``, ``function_call``, ``function_call_output``, ``reasoning``.
- Anthropic: ``content`` blocks ``text``, ``thinking``, ``tool_use``, ``tool_result``, ``image`` (base64 source).
- Strands / Bedrock: single-key blocks ``{"text"}``, ``{"toolUse"}``, ``{"toolResult"}``, ``{"image"}``,
  ``{"reasoningContent"}``, with raw bytes stored as ``{"$bytes": "<base64>"}``.
- Claude Agent SDK transcript entries: ``{"type": "user" | "assistant", "uuid", "message": <Anthropic message>}``
  and entries without a message (``system``, ``summary``...).

Anything else becomes an `Other` block, shown as JSON: nothing stored is hidden. Images become ``data:`` URIs
only after the media type is one of PNG, JPEG, GIF and WebP, the base64 decodes strictly, and the bytes start
with that format's signature; the URI is re-encoded from the decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""Larger images are not inlined (the page would carry them as base64 text)."""
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_MEDIA_ALIASES = {"image/jpg": "image/jpeg", "png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}
_MEDIA_ALIASES |= {"gif": "image/gif", "webp": "image/webp"}
_DATA_URL = re.compile(r"data:([\w.+/-]{1,64});base64,(.*)", re.DOTALL | re.IGNORECASE)
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_TEXT_TYPES = frozenset({"text", "input_text", "output_text", "summary_text", "reasoning_text"})
_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "type"})


@dataclass(frozen=True)
class Text:
    """Plain text (``thinking``: the model's reasoning, shown folded)."""

    text: str
    thinking: bool = False


@dataclass(frozen=True)
class ToolCall:
    """A request to run a tool: its name, the provider's call id, and the arguments (JSON or a string)."""

    name: str
    call_id: str | None
    arguments: object


@dataclass(frozen=True)
class Image:
    """An image: a validated ``data:`` URI, or None and the reason it is not shown."""

    data_uri: str | None
    media_type: str | None
    size: int
    problem: str | None = None


@dataclass(frozen=True)
class Other:
    """Any other block or field, shown as JSON under a label."""

    label: str
    value: object


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned, for the call with ``call_id``."""

    call_id: str | None
    blocks: tuple[Block, ...]
    is_error: bool = False


Block = Text | ToolCall | ToolResult | Image | Other


@dataclass(frozen=True)
class Message:
    """One stored message as a role and blocks; ``shape`` names the provider format it was read as."""

    role: str
    blocks: tuple[Block, ...]
    shape: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def only_tool_results(self) -> bool:
        """True for a message that only carries tool output (shown as the tool's, not the user's)."""
        return bool(self.blocks) and all(isinstance(block, ToolResult) for block in self.blocks)


# ------------------------------------------------------------------------------------------------------ images


def image_from_base64(media_type: object, data: object) -> Image:
    """Returns an `Image` whose URI is safe to put in ``<img src>``, or one that says why it is not shown."""
    declared = str(media_type).strip().lower() if isinstance(media_type, str) else None
    declared = _MEDIA_ALIASES.get(declared or "", declared)
    if declared not in _SIGNATURES:
        return Image(None, declared, 0, f"media type {media_type!r} is not PNG, JPEG, GIF or WebP")
    if not isinstance(data, str):
        return Image(None, declared, 0, "no base64 data")
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", data), validate=True)
    except (binascii.Error, ValueError):
        return Image(None, declared, 0, "the data is not valid base64")
    if len(raw) > MAX_IMAGE_BYTES:
        return Image(None, declared, len(raw), f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    if not raw.startswith(_SIGNATURES[declared]) or (declared == "image/webp" and raw[8:12] != b"WEBP"):
        return Image(None, declared, len(raw), f"the bytes are not a {declared.split('/')[1].upper()} image")
    return Image(f"data:{declared};base64,{base64.b64encode(raw).decode('ascii')}", declared, len(raw))


def image_from_url(url: object) -> Image:
    """Returns the image of a ``data:`` URL; any other URL is never loaded (no external resources)."""
    if not isinstance(url, str):
        return Image(None, None, 0, "no image data")
    match = _DATA_URL.fullmatch(url.strip())
    if match is None:
        return Image(None, None, 0, f"an external image, not loaded: {url[:200]}")
    return image_from_base64(match.group(1), match.group(2))


def _bytes_field(value: object) -> object:
    """Returns the base64 text of a Strands ``bytes`` field (``{"$bytes": ...}`` or already a string)."""
    if isinstance(value, dict) and set(value) == {"$bytes"}:
        return value["$bytes"]
    return value


def _strands_image(image: object) -> Image:
    if not isinstance(image, dict):
        return Image(None, None, 0, "no image data")
    source = image.get("source")
    data = _bytes_field(source.get("bytes")) if isinstance(source, dict) else None
    return image_from_base64(image.get("format"), data)


def _anthropic_image(source: object) -> Image:
    if not isinstance(source, dict):
        return Image(None, None, 0, "no image source")
    if source.get("type") == "url":
        return image_from_url(source.get("url"))
    return image_from_base64(source.get("media_type"), source.get("data"))


# ------------------------------------------------------------------------------------------------------ blocks


def _label(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _optional_id(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def content_blocks(content: object) -> tuple[Block, ...]:
    """Returns the blocks of a ``content`` field: a string, a list of blocks, one block, or anything else."""
    if content is None:
        return ()
    if isinstance(content, str):
        return (Text(content),)
    if isinstance(content, list):
        return tuple(parse_block(block) for block in content)
    return (parse_block(content),)


def _strands_block(key: str, value: object) -> Block | None:
    if key == "text" and isinstance(value, str):
        return Text(value)
    if key == "toolUse" and isinstance(value, dict):
        return ToolCall(_label(value.get("name"), "tool"), _optional_id(value.get("toolUseId")), value.get("input"))
    if key == "toolResult" and isinstance(value, dict):
        blocks = content_blocks(value.get("content"))
        return ToolResult(_optional_id(value.get("toolUseId")), blocks, value.get("status") == "error")
    if key == "image":
        return _strands_image(value)
    if key == "reasoningContent" and isinstance(value, dict):
        reasoning = value.get("reasoningText")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            return Text(reasoning["text"], thinking=True)
    return None


def parse_block(block: object) -> Block:
    """Returns one content block of any of the supported shapes as a `Block`."""
    if isinstance(block, str):
        return Text(block)
    if not isinstance(block, dict):
        return Other("value", block)
    kind = block.get("type")
    if kind is None and len(block) == 1:
        ((key, value),) = block.items()
        parsed = _strands_block(key, value)
        return parsed if parsed is not None else Other(key, value)
    if kind in _TEXT_TYPES and isinstance(block.get("text"), str):
        return Text(block["text"])
    if kind == "refusal" and isinstance(block.get("refusal"), str):
        return Text(block["refusal"])
    if kind == "thinking" and isinstance(block.get("thinking"), str):
        return Text(block["thinking"], thinking=True)
    if kind in {"tool_use", "server_tool_use"}:
        return ToolCall(_label(block.get("name"), "tool"), _optional_id(block.get("id")), block.get("input"))
    if kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
        blocks = content_blocks(block.get("content"))
        return ToolResult(_optional_id(block.get("tool_use_id")), blocks, block.get("is_error") is True)
    if kind == "image":
        return _anthropic_image(block.get("source"))
    if kind == "image_url":
        image_url = block.get("image_url")
        return image_from_url(image_url.get("url") if isinstance(image_url, dict) else image_url)
    if kind == "input_image":
        return image_from_url(block.get("image_url"))
    if kind in {"function_call", "function_call_output"}:
        return _item_blocks(block)[0]
    return Other(_label(kind, "block"), block)


# ---------------------------------------------------------------------------------------------------- messages


def _item_blocks(item: dict[str, object]) -> tuple[Block, ...]:
    """Returns the blocks of an OpenAI Responses item that is not a message."""
    kind = item.get("type")
    if kind == "function_call":
        call_id = _optional_id(item.get("call_id")) or _optional_id(item.get("id"))
        return (ToolCall(_label(item.get("name"), "function"), call_id, item.get("arguments")),)
    if kind == "function_call_output":
        return (ToolResult(_optional_id(item.get("call_id")), content_blocks(item.get("output"))),)
    if kind == "reasoning":
        summary = item.get("summary")
        texts = [part for part in content_blocks(summary) if isinstance(part, Text)] if summary else []
        if texts:
            return tuple(Text(text.text, thinking=True) for text in texts)
    return (Other(_label(kind, "item"), item),)


def _extra_fields(message: dict[str, object], consumed: frozenset[str]) -> tuple[Block, ...]:
    rest = {key: value for key, value in message.items() if key not in consumed}
    return (Other("other fields", rest),) if rest else ()


def _role_message(message: dict[str, object], shape: str) -> Message:
    role = _label(message.get("role"), "?")
    if role == "tool":  # OpenAI chat tool output
        result = ToolResult(_optional_id(message.get("tool_call_id")), content_blocks(message.get("content")))
        rest = _extra_fields(message, _MESSAGE_KEYS | {"tool_call_id"})
        return Message("tool", (result, *rest), shape)
    blocks = list(content_blocks(message.get("content")))
    tool_calls = message.get("tool_calls")
    for call in tool_calls if isinstance(tool_calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(call, dict) and isinstance(function, dict):
            name = _label(function.get("name"), "function")
            blocks.append(ToolCall(name, _optional_id(call.get("id")), function.get("arguments")))
        else:
            blocks.append(Other("tool call", call))
    blocks.extend(_extra_fields(message, _MESSAGE_KEYS | {"_strands"}))
    return Message(role, tuple(blocks), shape)


def _shape(message: dict[str, object]) -> str:
    content = message.get("content")
    if "tool_calls" in message or message.get("role") == "tool":
        return "openai-chat"
    if message.get("type") == "message":
        return "openai-responses"
    if "_strands" in message:
        return "strands"
    if isinstance(content, list) and content:
        first = content[0]
        if isinstance(first, dict) and "type" not in first and len(first) == 1:
            return "strands"
        if isinstance(first, dict) and first.get("type") in {"input_text", "output_text", "input_image"}:
            return "openai-responses"
        return "anthropic"
    return "text"


def _sdk_entry(entry: dict[str, object]) -> Message:
    """Returns a Claude Agent SDK transcript entry, judged by the message it wraps when it has one."""
    details = {key: value for key in ("uuid", "timestamp") if isinstance(value := entry.get(key), str)}
    inner = entry.get("message")
    if isinstance(inner, dict):
        parsed = _role_message(inner, "claude-agent-sdk")
        return Message(parsed.role, parsed.blocks, "claude-agent-sdk", details)
    kind = _label(entry.get("type"), "entry")
    text = entry.get("summary") if kind == "summary" else entry.get("content")
    blocks: list[Block] = [Text(text)] if isinstance(text, str) else []
    blocks.append(Other("entry", entry))
    return Message(kind, tuple(blocks), "claude-agent-sdk", details)


def _is_sdk_entry(message: dict[str, object]) -> bool:
    if message.get("type") in {"user", "assistant"} and isinstance(message.get("message"), dict):
        return True
    return "uuid" in message and ("sessionId" in message or "session_id" in message) and "role" not in message


def parse_message(message: object) -> Message:
    """Returns one stored message, of any supported shape, as a role and blocks."""
    if not isinstance(message, dict):
        return Message("?", (Text(message) if isinstance(message, str) else Other("value", message),), "unknown")
    if _is_sdk_entry(message):
        return _sdk_entry(message)
    kind = message.get("type")
    if kind in {"function_call", "reasoning"}:
        return Message("assistant", _item_blocks(message), "openai-responses")
    if kind == "function_call_output":
        return Message("tool", _item_blocks(message), "openai-responses")
    if "role" in message:
        return _role_message(message, _shape(message))
    return Message(_label(kind, "?"), (Other(_label(kind, "item"), message),), "unknown")


__all__ = [
    "MAX_IMAGE_BYTES",
    "Block",
    "Image",
    "Message",
    "Other",
    "Text",
    "ToolCall",
    "ToolResult",
    "content_blocks",
    "image_from_base64",
    "image_from_url",
    "parse_block",
    "parse_message",
]
