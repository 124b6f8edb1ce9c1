"""Turn detection: where each turn of a conversation starts (pure code).

A turn starts at a user message that is not only tool results. That covers the three message shapes our users
store: OpenAI chat/Responses (``role: user`` text; tool output as ``function_call_output`` items or
``role: tool``), Anthropic (``tool_result`` blocks inside a user message), Strands/Bedrock (``toolResult``
blocks) and Claude Agent SDK transcript entries (which wrap an Anthropic message). ``turn_count`` is always
derived here, never trusted from the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

_TOOL_RESULT_BLOCK_TYPES = frozenset({"tool_result", "function_call_output", "toolResult"})


def _is_tool_result_block(block: object) -> bool:
    if not isinstance(block, dict):
        return False
    if block.get("type") in _TOOL_RESULT_BLOCK_TYPES:
        return True
    # Strands/Bedrock blocks are single-key objects: {"toolResult": {...}}.
    return "toolResult" in block and len(block) == 1


def is_turn_start(message: object) -> bool:
    """Returns True if the message opens a new turn: a user message that is not only tool results.

    A Claude Agent SDK transcript entry (``{"type": "user", "message": {"role": "user", ...}}``) is judged by
    the message it wraps.
    """
    if isinstance(message, dict) and message.get("type") == "user" and isinstance(message.get("message"), dict):
        message = message["message"]
    if not isinstance(message, dict) or message.get("role") != "user":
        return False
    content = message.get("content")
    if isinstance(content, list) and content:
        return not all(_is_tool_result_block(block) for block in content)
    return True


def turn_starts(messages: Sequence[object]) -> list[int]:
    """Returns the message index at which each turn starts, in order.

    Messages before the first user message (a system prompt, say) belong to no turn: rewinding to turn 0 keeps
    them together with turn 0.
    """
    return [index for index, message in enumerate(messages) if is_turn_start(message)]


def rewind_cut(messages_turn_starts: Sequence[int], message_count: int, turn_index: int) -> int:
    """Returns how many messages to keep so that turns ``0..turn_index`` survive and later ones are dropped."""
    if turn_index + 1 < len(messages_turn_starts):
        return messages_turn_starts[turn_index + 1]
    return message_count


def turn_offset(messages: Sequence[object], turn: int) -> int | None:
    """Returns the index among ``messages`` at which their ``turn``-th turn start (zero-based) is, or None."""
    seen = -1
    for index, message in enumerate(messages):
        if is_turn_start(message):
            seen += 1
            if seen == turn:
                return index
    return None
