"""Realistic agent transcripts (pure code): what a coding agent's session holds.

Messages use the Bedrock Converse / Strands shape (``{"role", "content": [blocks]}``), which every store under
test accepts verbatim. Per DESIGN.md "Measuring honestly", the bytes are real text, never repeated characters
nor random hex: tool results are slices of Python standard-library source files read from the running
interpreter, user and assistant prose comes from those modules' docstrings, and tool calls carry JSON arguments.
A turn is: user question, assistant text + ``toolUse``, user ``toolResult`` (a few KB of source), assistant answer.
"""

from __future__ import annotations

import ast
import functools
import random
import sysconfig
from pathlib import Path
from typing import Any

Message = dict[str, Any]
_TOOL_RESULT_BYTES = (1500, 6000)


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[list[tuple[str, str]], list[str]]:
    """Returns (relative path, source) of stdlib modules and a list of docstring paragraphs."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files: list[tuple[str, str]] = []
    prose: list[str] = []
    for path in sorted(root.glob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(source) < 4000:
            continue
        files.append((path.name, source))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 80:
                    prose.append(" ".join(doc.split()))
        if len(files) >= 120:
            break
    if not files or not prose:
        raise RuntimeError(f"no standard-library sources found under {root}")
    return files, prose


class TranscriptGenerator:
    """Deterministic transcripts: the same seed gives the same messages."""

    def __init__(self, seed: int = 1) -> None:
        self._random = random.Random(seed)
        self._tool_ids = 0

    def _prose(self, low: int, high: int) -> str:
        _, prose = _corpus()
        text = ""
        target = self._random.randint(low, high)
        while len(text) < target:
            text += (" " if text else "") + self._random.choice(prose)
        return text[:target]

    def _source_slice(self) -> tuple[str, int, int, str]:
        files, _ = _corpus()
        name, source = self._random.choice(files)
        lines = source.splitlines(keepends=True)
        size = self._random.randint(*_TOOL_RESULT_BYTES)
        start = self._random.randrange(0, max(1, len(lines) - 20))
        chunk: list[str] = []
        total = 0
        end = start
        while end < len(lines) and total < size:
            chunk.append(lines[end])
            total += len(lines[end])
            end += 1
        return name, start + 1, end, "".join(chunk)

    def user_text(self) -> Message:
        question = self._prose(80, 400)
        return {"role": "user", "content": [{"text": f"Please look into this: {question}"}]}

    def turn(self) -> list[Message]:
        """Returns one turn of four messages: question, tool call, tool result, answer."""
        name, start, end, source = self._source_slice()
        self._tool_ids += 1
        tool_id = f"tooluse_{self._tool_ids:06d}"
        tool_name = self._random.choice(["read_file", "read_file", "grep"])
        arguments: dict[str, Any] = (
            {"path": f"Lib/{name}", "start_line": start, "end_line": end}
            if tool_name == "read_file"
            else {"pattern": "def |class ", "path": f"Lib/{name}", "context_lines": 3, "max_results": 40}
        )
        return [
            self.user_text(),
            {
                "role": "assistant",
                "content": [
                    {"text": self._prose(60, 300)},
                    {"toolUse": {"toolUseId": tool_id, "name": tool_name, "input": arguments}},
                ],
            },
            {
                "role": "user",
                "content": [{"toolResult": {"toolUseId": tool_id, "status": "success", "content": [{"text": source}]}}],
            },
            {"role": "assistant", "content": [{"text": self._prose(200, 1200)}]},
        ]

    def short_turn(self) -> list[Message]:
        """Returns a two-message turn (question, answer) with no tool call."""
        return [self.user_text(), {"role": "assistant", "content": [{"text": self._prose(200, 900)}]}]

    def messages(self, count: int) -> list[Message]:
        """Returns ``count`` messages (``count`` even) of whole turns, mostly with a tool call."""
        if count % 2:
            raise ValueError("message count must be even (whole turns)")
        messages: list[Message] = []
        while len(messages) < count:
            remaining = count - len(messages)
            messages.extend(self.turn() if remaining >= 4 else self.short_turn())
        return messages


def turn_count(messages: list[Message]) -> int:
    """Counts turns as DESIGN.md defines them: user messages that are not only tool results."""
    return sum(
        1
        for message in messages
        if message["role"] == "user" and not all("toolResult" in block for block in message["content"])
    )
