"""Text for people: the session table, sizes and times, and readable transcripts (pure code, no I/O)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from ..models import Session, SessionMetadata
from ..turns import turn_starts

DEFAULT_BLOCK_CHARS = 400
"""How much of each message block `transcript` shows unless asked for everything."""
_NAME_COLUMN = 40


def human_size(size: int) -> str:
    """Returns a byte count as ``812 B`` / ``4.1 KiB`` / ``2.0 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def timestamp(seconds: float) -> str:
    """Returns Unix seconds as ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """Returns rows as aligned columns under the headers; column numbers in ``right`` align right."""
    widths = [max([len(header), *(len(row[column]) for row in rows)]) for column, header in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def session_table(listed: Sequence[SessionMetadata]) -> str:
    """Returns the ``ls`` table: id, name, tags, turns, updated (UTC), size of the messages' JSON."""
    rows = [
        [
            metadata.id,
            _clip(metadata.name or "-", _NAME_COLUMN),
            _clip(",".join(metadata.tags) or "-", _NAME_COLUMN),
            str(metadata.turn_count),
            timestamp(metadata.updated_at),
            human_size(metadata.message_bytes),
        ]
        for metadata in listed
    ]
    return table(["ID", "NAME", "TAGS", "TURNS", "UPDATED (UTC)", "SIZE"], rows, right=(3, 5))


def metadata_json(metadata: SessionMetadata, **extra: Any) -> dict[str, Any]:
    """Returns the metadata as a JSON-ready dict (plus any extra fields)."""
    return {**metadata.model_dump(mode="json"), **extra}


def compact(value: object) -> str:
    """Returns a value as compact one-line JSON (non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# ------------------------------------------------------------------------------------------------ transcripts


def _text_of(content: object) -> str:
    """Returns the text of a tool result's content: a string, or a list of text/JSON blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            _text_of(block.get("text", block.get("json", block))) if isinstance(block, dict) else _text_of(block)
            for block in content
        )
    return compact(content)


def _call(name: object, arguments: object) -> str:
    rendered = arguments if isinstance(arguments, str) else compact(arguments)
    return f"{name}({rendered})"


def _block(role: str, block: object) -> list[tuple[str, str]]:
    """Returns (speaker, text) parts for one content block of the OpenAI, Anthropic or Strands shapes."""
    if isinstance(block, str):
        return [(role, block)]
    if not isinstance(block, dict):
        return [(role, compact(block))]
    kind = block.get("type")
    if kind == "tool_use":
        return [("tool call", _call(block.get("name"), block.get("input")))]
    if kind in {"tool_result", "function_call_output"}:
        return [("tool result", _text_of(block.get("content", block.get("output"))))]
    if kind == "function_call":
        return [("tool call", _call(block.get("name"), block.get("arguments")))]
    if isinstance(block.get("toolUse"), dict):
        use = block["toolUse"]
        return [("tool call", _call(use.get("name"), use.get("input")))]
    if isinstance(block.get("toolResult"), dict):
        return [("tool result", _text_of(block["toolResult"].get("content")))]
    if isinstance(block.get("text"), str):
        return [(role, block["text"])]
    return [(role, compact(block))]


def message_parts(message: object) -> list[tuple[str, str]]:
    """Returns (speaker, text) parts of one stored message, whatever provider shape it has."""
    if not isinstance(message, dict):
        return [("?", compact(message))]
    role = str(message.get("role") or message.get("type") or "?")
    if role in {"function_call", "function_call_output"}:  # OpenAI Responses items carry no role
        return _block(role, message)
    if role == "tool":  # OpenAI chat tool output
        return [("tool result", _text_of(message.get("content")))]
    parts: list[tuple[str, str]] = []
    content = message.get("content")
    if isinstance(content, list):
        for block in content:
            parts.extend(_block(role, block))
    elif isinstance(content, str):
        parts.append((role, content))
    elif content is not None:
        parts.append((role, compact(content)))
    for call in message.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        parts.append(("tool call", _call(function.get("name"), function.get("arguments"))))
    if not parts:
        parts.append((role, compact({key: value for key, value in message.items() if key != "role"})))
    return parts


def _shorten(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters; --full shows all)"


def transcript(session: Session, *, limit: int | None = DEFAULT_BLOCK_CHARS) -> str:
    """Returns a readable transcript: a header, then messages grouped under their turn numbers.

    Args:
        session: The session to show.
        limit: Characters shown per message part (None: everything).
    """
    metadata = session.metadata
    lines = [f"session {metadata.id}" + (f"  {metadata.name!r}" if metadata.name else "")]
    facts = [
        f"agent {metadata.agent_name}",
        f"{metadata.turn_count} turn(s)",
        f"{len(session.messages)} message(s)",
        f"tags {', '.join(metadata.tags) or '-'}",
    ]
    lines.append("  " + " · ".join(facts))
    lines.append(f"  created {timestamp(metadata.created_at)} · updated {timestamp(metadata.updated_at)} (UTC)")
    if metadata.parent_id:
        lines.append(f"  forked from {metadata.parent_id} after {metadata.forked_at_turn} turn(s)")
    if metadata.summary is not None:
        lines.append(f"  summary {_shorten(compact(metadata.summary), limit)}")
    if session.state not in (None, {}, []):
        lines.append(f"  state {_shorten(compact(session.state), limit)}")
    # A partial session (``show --last K``) numbers its messages and turns as the whole session does.
    offset = session.omitted_messages
    visible_starts = turn_starts(session.messages)
    first_turn = metadata.turn_count - len(visible_starts)
    starts = {start: first_turn + turn for turn, start in enumerate(visible_starts)}
    if offset:
        lines.append("")
        lines.append(f"── {offset} earlier message(s) not shown ──")
    elif session.messages and 0 not in starts:
        lines.append("")
        lines.append("── before the first turn ──")
    for index, message in enumerate(session.messages):
        if index in starts:
            lines.append("")
            lines.append(f"── turn {starts[index]} ──")
        for speaker, text in message_parts(message):
            body = _shorten(text, limit).replace("\n", "\n      ")
            lines.append(f"[{offset + index}] {speaker}: {body}")
    return "\n".join(lines)
