"""One message as HTML: text, folded tool calls, tool results and reasoning, inline images (pure code).

Built with `s3sessions.viewer.markup`, so every string taken from a message is escaped. Transcript pages cut
long text and many blocks (`TRANSCRIPT_LIMITS`) and link to the message's own page, which shows it whole.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from urllib.parse import quote

from .markup import Markup, breakable, element, join
from .messages import Block, Image, Message, Other, Text, ToolCall, ToolResult

PREVIEW_CHARS = 120
"""How much of a folded block its summary line shows."""


@dataclass(frozen=True)
class Limits:
    """How much of a message a page shows: characters per text or JSON block, and blocks per message."""

    text_chars: int | None
    blocks: int | None


TRANSCRIPT_LIMITS = Limits(text_chars=20_000, blocks=100)
"""A transcript page: enough to read, small enough that a page of messages stays fast."""
MESSAGE_LIMITS = Limits(text_chars=500_000, blocks=None)
"""A message's own page: every block, each up to half a million characters (the JSON download has the rest)."""


def session_path(session_id: str, suffix: str = "") -> str:
    """Returns the viewer's path of a session (ids are ``[A-Za-z0-9._-]``; quoted all the same)."""
    return f"/session/{quote(session_id, safe='')}{suffix}"


def message_path(session_id: str, index: int) -> str:
    """Returns the path of one message's own page."""
    return session_path(session_id, f"/message/{index}")


def message_json_path(session_id: str, index: int) -> str:
    """Returns the path that downloads one message's stored JSON."""
    return session_path(session_id, f"/message/{index}.json")


def human_size(size: int) -> str:
    """Returns a byte count as ``812 B`` / ``4.1 KiB`` / ``2.0 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def timestamp(seconds: float) -> Markup:
    """Returns Unix seconds (int or float) as a ``<time>`` in UTC, to the second."""
    try:
        moment = datetime.datetime.fromtimestamp(float(seconds), tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return element("time", {}, str(seconds))
    iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return element("time", {"datetime": iso, "title": iso}, moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def pretty_json(value: object) -> str:
    """Returns a value as indented JSON (a string argument that holds JSON is parsed first)."""
    if isinstance(value, str):
        try:
            parsed: object = json.loads(value)
        except ValueError:
            return value
        return json.dumps(parsed, indent=2, ensure_ascii=False, default=str)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def clipped(text: str, limit: int | None, whole: str | None, css: str, tag: str = "div") -> Markup:
    """Returns ``text`` in a ``tag`` of class ``css``, cut at ``limit`` with a link to ``whole``."""
    if limit is None or len(text) <= limit:
        return element(tag, {"class": css}, breakable(text))
    note: list[Markup | str] = [f"… {len(text) - limit:,} more characters"]
    if whole is not None:
        note += [": ", element("a", {"href": whole}, "the whole message")]
    return join([element(tag, {"class": css}, breakable(text[:limit])), element("p", {"class": "clipped"}, *note)])


def _fold(css: str, badge: str, summary: list[Markup | str], body: Markup) -> Markup:
    heading = element("summary", {}, element("span", {"class": "badge"}, badge), *summary)
    return element("details", {"class": f"fold {css}"}, heading, body)


def _text_of(blocks: tuple[Block, ...]) -> str:
    parts = [block.text for block in blocks if isinstance(block, Text)]
    return " ".join(parts) if parts else " ".join(pretty_json(b.value) for b in blocks if isinstance(b, Other))


def _image(image: Image) -> Markup:
    if image.data_uri is None:
        return element("p", {"class": "image-missing"}, f"image not shown: {image.problem}")
    caption = f"{image.media_type}, {human_size(image.size)}"
    picture = element("img", {"src": image.data_uri, "alt": caption, "loading": "lazy", "decoding": "async"})
    return element("figure", {"class": "image"}, picture, element("figcaption", {}, caption))


def block_html(block: Block, limits: Limits, full_path: str | None) -> Markup:
    """Returns one block as HTML; tool calls, tool results, reasoning and other JSON are folded."""
    if isinstance(block, Text):
        if not block.thinking:
            return clipped(block.text, limits.text_chars, full_path, "text")
        body = clipped(block.text, limits.text_chars, full_path, "text")
        return _fold("thinking", "thinking", [" ", element("span", {"class": "preview"}, _preview(block.text))], body)
    if isinstance(block, ToolCall):
        arguments = pretty_json(block.arguments)
        summary: list[Markup | str] = [" ", element("code", {"class": "tool-name"}, block.name)]
        if block.call_id:
            summary += [" ", element("span", {"class": "call-id"}, block.call_id)]
        summary += [" ", element("span", {"class": "preview"}, _preview(arguments))]
        return _fold("tool-call", "tool call", summary, clipped(arguments, limits.text_chars, full_path, "json"))
    if isinstance(block, ToolResult):
        inner = join(block_html(item, limits, full_path) for item in block.blocks)
        summary = [" ", element("span", {"class": "call-id"}, block.call_id)] if block.call_id else []
        summary += [" ", element("span", {"class": "preview"}, _preview(_text_of(block.blocks)))]
        badge = "tool error" if block.is_error else "tool result"
        body = element("div", {"class": "result-body"}, inner)
        return _fold("tool-result error" if block.is_error else "tool-result", badge, summary, body)
    if isinstance(block, Image):
        return _image(block)
    rendered = pretty_json(block.value)
    summary = [" ", element("span", {"class": "preview"}, _preview(rendered))]
    return _fold("other", block.label, summary, clipped(rendered, limits.text_chars, full_path, "json"))


ROLE_CLASSES = frozenset({"user", "assistant", "system", "developer", "tool"})


def role_class(message: Message) -> str:
    """Returns the CSS class of a message's role (one of ours: the role itself is data)."""
    if message.only_tool_results:
        return "role-tool"
    return f"role-{message.role}" if message.role in ROLE_CLASSES else "role-other"


def message_html(
    message: Message,
    *,
    session_id: str,
    index: int,
    limits: Limits = TRANSCRIPT_LIMITS,
    anchor_prefix: str = "m-",
    whole: str | None = None,
) -> Markup:
    """Returns one message as an ``<article>``: its number, role and shape, then its blocks.

    What is cut links to ``whole``: by default the message's own page, which is linked from the header too.
    """
    full_path = whole or message_path(session_id, index)
    anchor = f"{anchor_prefix}{index}"
    role = "tool result" if message.only_tool_results and message.role != "tool" else message.role
    header: list[Markup | str] = [
        element("a", {"class": "index", "href": f"#{anchor}", "title": "message number"}, f"#{index}"),
        " ",
        element("span", {"class": "role"}, role),
    ]
    if message.shape != "text":
        header += [" ", element("span", {"class": "shape", "title": "read as this message shape"}, message.shape)]
    for name, value in message.details.items():
        header += [" ", element("span", {"class": "detail", "title": name}, value)]
    if whole is None:
        header += [" ", element("a", {"class": "whole", "href": full_path}, "open")]
    blocks = message.blocks if limits.blocks is None else message.blocks[: limits.blocks]
    body = [block_html(block, limits, full_path) for block in blocks]
    if len(blocks) < len(message.blocks):
        more = f"… {len(message.blocks) - len(blocks):,} more blocks: "
        body.append(element("p", {"class": "clipped"}, more, element("a", {"href": full_path}, "the whole message")))
    if not message.blocks:
        body.append(element("p", {"class": "empty"}, "(no content)"))
    return element(
        "article",
        {"class": f"msg {role_class(message)}", "id": anchor, "data-index": index},
        element("header", {}, *header),
        element("div", {"class": "blocks"}, *body),
    )


__all__ = [
    "MESSAGE_LIMITS",
    "TRANSCRIPT_LIMITS",
    "Limits",
    "block_html",
    "clipped",
    "human_size",
    "message_html",
    "message_json_path",
    "message_path",
    "pretty_json",
    "role_class",
    "session_path",
    "timestamp",
]
