"""Sessions for the viewer's tests and screenshots: every supported message shape, forks, and hostile data.

Everything is written through the public API (`save`, `fork`), so it works on any manager.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from s3sessions import Session, SessionManager, SessionMetadata

XSS_FLAG = "__xss"
"""What a successful injection sets: ``window.__xss``. The browser tests check that it stays undefined."""
_XSS = f"window.{XSS_FLAG}=1"


def png(width: int = 96, height: int = 48) -> bytes:
    """Returns a small RGB PNG (a few bars), made without any imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    colours = [(47, 111, 159), (208, 138, 0), (76, 145, 89), (160, 70, 140)]
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            bar = x * len(colours) // width
            filled = y >= height - (bar + 1) * height // (len(colours) + 1)
            row += bytes(colours[bar]) if filled else b"\xf6\xf6\xf4"
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


PNG_BASE64 = base64.b64encode(png()).decode("ascii")

SOURCE = "\n".join(
    f"{number:4d}  " + line
    for number, line in enumerate(
        [
            "class _MutuallyExclusiveGroup(_ArgumentGroup):",
            "    def __init__(self, container, required=False):",
            "        super().__init__(container)",
            "        self.required = required",
            "        self._container = container",
            "",
            "    def _add_action(self, action):",
            "        if action.required:",
            "            raise ValueError('mutually exclusive arguments must be optional')",
            "        action = self._container._add_action(action)",
            "        self._group_actions.append(action)",
            "        return action",
        ]
        * 6,
        start=1660,
    )
)


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def anthropic_turns() -> list[list[Any]]:
    """Three turns in Anthropic's shape: a tool call and its result, an image, a failing then passing tool."""
    return [
        [
            _user("Where does argparse check that two options are mutually exclusive?"),
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me read the source."},
                    {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "Lib/argparse.py"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": SOURCE}]},
            _assistant(
                "In `_MutuallyExclusiveGroup`: while parsing, `parse_known_args` remembers which actions it saw and "
                "raises 'not allowed with argument' when a second one of a group turns up."
            ),
        ],
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Here is our usage chart: which option do people pass most?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Four bars, rising left to right; the last one is tallest."},
                    {"type": "text", "text": "The fourth bar, --json, is the tallest: most runs ask for JSON."},
                ],
            },
        ],
        [
            _user("Add a test for the group, please."),
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_02",
                        "name": "write_file",
                        "input": {"path": "/tests/test_group.py", "text": "def test_group(): ..."},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_02", "content": "permission denied", "is_error": True}
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_03",
                        "name": "write_file",
                        "input": {"path": "tests/test_group.py", "text": "def test_group(): ..."},
                    }
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_03", "content": "written"}]},
            _assistant("Added tests/test_group.py."),
        ],
    ]


def openai_chat_messages() -> list[Any]:
    """OpenAI chat completions: a system prompt, a tool call with its ``role: tool`` output, an image part."""
    return [
        {"role": "system", "content": "You are a weather assistant. Use the tools."},
        _user("What's the weather in Lisbon?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lisbon", "unit": "C"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": '{"temperature": 21, "sky": "clear"}'},
        {"role": "assistant", "content": "21 °C and clear in Lisbon."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this forecast chart?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}},
            ],
        },
        {"role": "assistant", "content": "Warming through the week."},
    ]


def openai_responses_items() -> list[Any]:
    """OpenAI Responses / Agents SDK items: reasoning, a function call and its output, output text."""
    return [
        {"role": "user", "content": "Do S3 conditional writes work on overwrite?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Check If-Match."}]},
        {"type": "function_call", "call_id": "call_1", "name": "search", "arguments": '{"q": "S3 If-Match PUT"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "S3 supports If-Match on PutObject."},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Yes: PutObject honours If-Match and If-None-Match."}],
        },
    ]


def strands_messages() -> list[Any]:
    """Strands / Bedrock blocks, bytes stored as ``{"$bytes": ...}`` as the s3sessions adapter writes them."""
    meta = {"message_id": 0, "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z"}
    return [
        {
            "role": "user",
            "content": [
                {"text": "Describe this image."},
                {"image": {"format": "png", "source": {"bytes": {"$bytes": PNG_BASE64}}}},
            ],
            "_strands": meta,
        },
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "measure", "input": {"what": "bars"}}}],
            "_strands": {**meta, "message_id": 1},
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "status": "success", "content": [{"json": {"bars": 4}}]}}
            ],
            "_strands": {**meta, "message_id": 2},
        },
        {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Four bars of rising height.", "signature": "sig"}}},
                {"text": "A bar chart with four bars, rising to the right."},
            ],
            "_strands": {**meta, "message_id": 3},
        },
    ]


def claude_sdk_entries() -> list[Any]:
    """Claude Agent SDK transcript entries wrapping Anthropic messages, and a summary entry."""
    common = {"sessionId": "cc-1", "cwd": "/work"}
    return [
        {**common, "type": "user", "uuid": "u-1", "timestamp": "2026-11-01T10:00:00Z", "message": _user("ls")},
        {
            **common,
            "type": "assistant",
            "uuid": "u-2",
            "timestamp": "2026-11-01T10:00:01Z",
            "message": {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {"command": "ls"}}],
            },
        },
        {
            **common,
            "type": "user",
            "uuid": "u-3",
            "timestamp": "2026-11-01T10:00:02Z",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "README.md\nsrc\n"}],
            },
        },
        {**common, "type": "summary", "uuid": "u-4", "summary": "Listed the project files.", "leafUuid": "u-3"},
    ]


async def _save(manager: SessionManager, metadata: SessionMetadata, messages: list[Any], state: Any = None) -> str:
    session = Session(metadata=metadata, messages=messages, state=state if state is not None else {})
    await manager.save(session)
    return session.id


async def seed(manager: SessionManager) -> dict[str, str]:
    """Writes the corpus and returns the session ids by role: original, fork, fork_of_fork, openai..."""
    ids: dict[str, str] = {}
    turns = anthropic_turns()
    original = Session(
        metadata=SessionMetadata(name="argparse questions", agent_name="coder", tags=["demo", "python"]),
        state={"cwd": "/work/cli", "model": "claude-sonnet", "budget": {"tokens": 200000}},
    )
    original.metadata.total_tokens = 18_250
    for turn in turns[:2]:
        original.messages.extend(turn)
        await manager.save(original)
    ids["original"] = original.id
    fork = await manager.fork(original.id, "argparse vs click")
    ids["fork"] = fork.id
    forked = await manager.resume(fork.id)
    forked.messages.extend([_user("Would click be simpler here?"), _assistant("Yes: a click.Choice or two flags.")])
    await manager.save(forked)
    original.messages.extend(turns[2])
    await manager.save(original)
    grandchild = await manager.fork(fork.id, "click with rich help")
    ids["fork_of_fork"] = grandchild.id
    resumed = await manager.resume(grandchild.id)
    resumed.messages.extend([_user("And coloured help?"), _assistant("rich-click gives coloured help.")])
    await manager.save(resumed)
    ids["openai_chat"] = await _save(
        manager, SessionMetadata(name="weather bot", agent_name="support", tags=["prod"]), openai_chat_messages()
    )
    ids["openai_responses"] = await _save(
        manager, SessionMetadata(name="S3 research", agent_name="researcher"), openai_responses_items()
    )
    strands_state = {"strands": {"format": 1, "agent": {"state": {"user": "ana"}}}}
    ids["strands"] = await _save(
        manager, SessionMetadata(name="image description", agent_name="default"), strands_messages(), strands_state
    )
    ids["claude_sdk"] = await _save(
        manager, SessionMetadata(name="claude code: ls", agent_name="claude-code"), claude_sdk_entries()
    )
    return ids


# ------------------------------------------------------------------------------------------------------ hostile

HOSTILE_TEXTS = [
    f"<script>{_XSS}</script>",
    f'<img src=x onerror="{_XSS}">',
    f'<a href="javascript:{_XSS}">click me</a>',
    f"</div></details></article><script>{_XSS}</script>",
    f'"><svg onload="{_XSS}"><iframe srcdoc="<script>parent.{XSS_FLAG}=1</script>">',
    "<style>body { display: none !important }</style>",
    f"[link](javascript:{_XSS}) {{{{constructor.constructor('{_XSS}')()}}}}",
    "\u202eright-to-left override\u202c and a NUL \u0000 and <!-- an unclosed comment",
    "<base href='//evil.example/'><link rel=stylesheet href='//evil.example/x.css'>",
    f"<meta http-equiv=refresh content='0;url=javascript:{_XSS}'>",
]
HUGE_MESSAGE_CHARS = 2_000_000


def hostile_messages() -> list[Any]:
    """Messages that try every injection we know, a 2-million-character message and one with 3,000 blocks."""
    svg = base64.b64encode(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{_XSS}"/>'.encode()).decode()
    fake_png = base64.b64encode(f"<script>{_XSS}</script>".encode()).decode()
    images = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/svg+xml", "data": svg}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": f'image/png" onerror="{_XSS}', "data": PNG_BASE64},
        },
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": f'AAAA"><script>{_XSS}'}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": fake_png}},
        {"type": "image_url", "image_url": {"url": f"javascript:{_XSS}"}},
        {"type": "image_url", "image_url": {"url": f"data:text/html;base64,{fake_png}"}},
        {"type": "input_image", "image_url": "https://evil.example/tracker.png"},
    ]
    messages: list[Any] = [_user(text) for text in HOSTILE_TEXTS]
    messages.append({"role": "user", "content": [{"type": "text", "text": "images:"}, *images]})
    messages.append(
        {
            "role": f'assistant"><script>{_XSS}</script>',
            "content": [
                {
                    "type": "tool_use",
                    "id": f'"><script>{_XSS}</script>',
                    "name": f"<img src=x onerror={_XSS}>",
                    "input": {"<b>": "</pre>"},
                },
                {"type": f"<script>{_XSS}</script>", "payload": f"<img src=x onerror={_XSS}>"},
            ],
        }
    )
    messages.append(
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "x",
                    "content": [{"type": "text", "text": f"<script>{_XSS}</script>"}],
                }
            ],
        }
    )
    messages.append(_user("A" * (HUGE_MESSAGE_CHARS - 40) + f"<script>{_XSS}</script>"))
    messages.append(
        {"role": "assistant", "content": [{"type": "text", "text": f"block {n} <b>{n}</b>"} for n in range(3000)]}
    )
    messages.append(_assistant("the last message"))
    return messages


async def seed_hostile(manager: SessionManager) -> str:
    """Writes the hostile session, with hostile metadata and state too, and returns its id."""
    metadata = SessionMetadata(
        name=f"<script>{_XSS}</script> hostile",
        agent_name=f'"><svg onload="{_XSS}">',
        tags=[f"<img src=x onerror={_XSS}>", "javascript:alert(1)"],
    )
    state = {f"<script>{_XSS}</script>": f"<img src=x onerror={_XSS}>"}
    return await _save(manager, metadata, hostile_messages(), state)


async def seed_long(manager: SessionManager, messages: int = 10_000) -> str:
    """Writes a session of ``messages`` messages (user/assistant pairs, every fifth with a tool call)."""
    content: list[Any] = []
    for turn in range(messages // 2):
        content.append(_user(f"question {turn}: what is {turn} squared?"))
        if turn % 5 == 0:
            content.append(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": f"{turn} squared is {turn * turn}."},
                        {"type": "tool_use", "id": f"t{turn}", "name": "calc", "input": {"x": turn}},
                    ],
                }
            )
        else:
            content.append(_assistant(f"{turn} squared is {turn * turn}."))
    return await _save(manager, SessionMetadata(name="ten thousand messages", agent_name="load"), content[:messages])
