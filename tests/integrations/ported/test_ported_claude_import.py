"""claude-agent-sdk ``tests/test_session_import.py``, verbatim,
with ``InMemorySessionStore`` swapped for `ClaudeSessionStore`."""

from _upstream import port, require

require("claude-agent-sdk")

from _backends import InMemorySessionStoreOnS3  # noqa: E402

FRAMEWORK = "claude_agent_sdk"
SKIPS: dict[str, str] = {}
LOOP_AFFINITY: tuple[str, ...] = ()

port(
    globals(),
    "claude-agent-sdk",
    "tests/test_session_import.py",
    swaps={"claude_agent_sdk": {"InMemorySessionStore": InMemorySessionStoreOnS3}},
)
