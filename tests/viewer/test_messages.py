"""Every supported message shape becomes the right blocks; images are inlined only when provably raster."""

from __future__ import annotations

import base64

import pytest
from viewer_corpus import (
    PNG_BASE64,
    claude_sdk_entries,
    openai_chat_messages,
    openai_responses_items,
    png,
    strands_messages,
)

from s3sessions.viewer.messages import (
    MAX_IMAGE_BYTES,
    Image,
    Other,
    Text,
    ToolCall,
    ToolResult,
    image_from_base64,
    image_from_url,
    parse_message,
)


def kinds(message):
    return [type(block).__name__ for block in parse_message(message).blocks]


def test_openai_chat():
    system, user, call, tool, answer, image_message, _ = (parse_message(m) for m in openai_chat_messages())
    assert (system.role, system.blocks) == ("system", (Text("You are a weather assistant. Use the tools."),))
    assert user.role == "user" and user.blocks == (Text("What's the weather in Lisbon?"),)
    [tool_call] = call.blocks
    assert tool_call == ToolCall("get_weather", "call_9", '{"city": "Lisbon", "unit": "C"}')
    assert tool.role == "tool" and tool.only_tool_results
    tool_result = tool.blocks[0]
    assert isinstance(tool_result, ToolResult)
    assert tool_result.call_id == "call_9" and tool_result.blocks == (Text('{"temperature": 21, "sky": "clear"}'),)
    assert answer.blocks == (Text("21 °C and clear in Lisbon."),)
    _, image = image_message.blocks
    assert isinstance(image, Image) and image.data_uri == f"data:image/png;base64,{PNG_BASE64}"


def test_openai_responses_items():
    user, reasoning, call, output, message = (parse_message(m) for m in openai_responses_items())
    assert user.blocks == (Text("Do S3 conditional writes work on overwrite?"),)
    assert reasoning.role == "assistant" and reasoning.blocks == (Text("Check If-Match.", thinking=True),)
    assert call.blocks == (ToolCall("search", "call_1", '{"q": "S3 If-Match PUT"}'),)
    assert output.role == "tool" and output.blocks[0] == ToolResult(
        "call_1", (Text("S3 supports If-Match on PutObject."),)
    )
    text = message.blocks[0]
    assert message.shape == "openai-responses" and isinstance(text, Text) and text.text.startswith("Yes: PutObject")


def test_anthropic_blocks():
    message = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a"}},
            {"type": "redacted_thinking", "data": "..."},
        ],
    }
    parsed = parse_message(message)
    assert parsed.shape == "anthropic"
    assert parsed.blocks[:3] == (
        Text("hmm", thinking=True),
        Text("Reading."),
        ToolCall("read", "toolu_1", {"path": "a"}),
    )
    assert isinstance(parsed.blocks[3], Other) and parsed.blocks[3].label == "redacted_thinking"
    result = parse_message(
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "is_error": True,
                    "content": [
                        {"type": "text", "text": "no such file"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}},
                    ],
                }
            ],
        }
    )
    assert result.only_tool_results
    [block] = result.blocks
    assert isinstance(block, ToolResult) and block.is_error and block.call_id == "toolu_1"
    image = block.blocks[1]
    assert block.blocks[0] == Text("no such file") and isinstance(image, Image) and image.data_uri is not None


def test_strands_blocks_with_bytes():
    user, call, result, answer = (parse_message(m) for m in strands_messages())
    assert user.shape == "strands" and user.blocks[0] == Text("Describe this image.")
    image = user.blocks[1]
    assert isinstance(image, Image) and image.data_uri == f"data:image/png;base64,{PNG_BASE64}"
    assert call.blocks == (ToolCall("measure", "tooluse_1", {"what": "bars"}),)
    tool_result = result.blocks[0]
    assert result.only_tool_results and isinstance(tool_result, ToolResult)
    assert tool_result.blocks == (Other("json", {"bars": 4}),)
    assert answer.blocks == (
        Text("Four bars of rising height.", thinking=True),
        Text("A bar chart with four bars, rising to the right."),
    )
    assert all(not isinstance(block, Other) or block.label != "other fields" for block in user.blocks)  # _strands


def test_claude_agent_sdk_entries():
    user, call, result, summary = (parse_message(m) for m in claude_sdk_entries())
    assert user.shape == "claude-agent-sdk" and user.role == "user" and user.blocks == (Text("ls"),)
    assert user.details == {"uuid": "u-1", "timestamp": "2026-11-01T10:00:00Z"}
    assert call.blocks == (ToolCall("Bash", "toolu_9", {"command": "ls"}),)
    assert result.only_tool_results
    assert summary.role == "summary" and summary.blocks[0] == Text("Listed the project files.")
    assert isinstance(summary.blocks[1], Other)


@pytest.mark.parametrize(
    "message",
    [None, 42, "plain", [1, 2], {"weird": True}, {"role": "user"}, {"role": "user", "content": {"a": 1}}],
)
def test_anything_else_is_shown_not_dropped(message):
    parsed = parse_message(message)
    assert parsed.role
    if message not in ({"role": "user"},):
        assert parsed.blocks


def test_unknown_fields_are_shown():
    parsed = parse_message({"role": "assistant", "content": "hi", "refusal": None, "audio": {"id": "a"}})
    assert parsed.blocks[-1] == Other("other fields", {"refusal": None, "audio": {"id": "a"}})


# ------------------------------------------------------------------------------------------------------ images


@pytest.mark.parametrize("media_type", ["image/png", "IMAGE/PNG", "png"])
def test_a_real_png_is_inlined_and_reencoded(media_type):
    spaced = "\n".join(PNG_BASE64[i : i + 60] for i in range(0, len(PNG_BASE64), 60))
    image = image_from_base64(media_type, spaced)
    assert image.problem is None and image.data_uri == f"data:image/png;base64,{PNG_BASE64}"
    assert image.size == len(png())


@pytest.mark.parametrize(
    ("media_type", "data", "problem"),
    [
        ("image/svg+xml", base64.b64encode(b"<svg onload=alert(1)>").decode(), "not PNG"),
        ('image/png" onerror="alert(1)', PNG_BASE64, "not PNG"),
        ("text/html", PNG_BASE64, "not PNG"),
        (None, PNG_BASE64, "not PNG"),
        ("image/png", 'AAAA"><script>', "not valid base64"),
        ("image/png", base64.b64encode(b"<script>alert(1)</script>").decode(), "not a PNG"),
        ("image/jpeg", PNG_BASE64, "not a JPEG"),
        ("image/webp", base64.b64encode(b"RIFF\0\0\0\0WAVEfmt ").decode(), "not a WEBP"),
        ("image/png", None, "no base64"),
    ],
)
def test_anything_else_is_described_not_inlined(media_type, data, problem):
    image = image_from_base64(media_type, data)
    assert image.data_uri is None and problem in (image.problem or "")


def test_images_past_the_limit_are_not_inlined():
    big = base64.b64encode(png() + b"\0" * MAX_IMAGE_BYTES).decode()
    image = image_from_base64("image/png", big)
    assert image.data_uri is None and "larger than" in (image.problem or "")


@pytest.mark.parametrize(
    ("url", "inlined"),
    [
        (f"data:image/png;base64,{PNG_BASE64}", True),
        (f"data:image/svg+xml;base64,{PNG_BASE64}", False),
        ("https://example.com/a.png", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_image_urls(url, inlined):
    assert (image_from_url(url).data_uri is not None) is inlined


def test_gif_jpeg_webp_signatures():
    for media_type, raw in [
        ("image/gif", b"GIF89a" + b"\0" * 10),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 10),
        ("image/webp", b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 10),
    ]:
        image = image_from_base64(media_type, base64.b64encode(raw).decode())
        assert image.data_uri is not None and image.data_uri.startswith(f"data:{media_type};base64,")
