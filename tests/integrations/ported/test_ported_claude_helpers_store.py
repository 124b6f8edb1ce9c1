"""claude-agent-sdk ``tests/test_session_helpers_store.py``, verbatim,
with ``InMemorySessionStore`` swapped for `ClaudeSessionStore`."""

from _upstream import port, require

require("claude-agent-sdk")

from _backends import InMemorySessionStoreOnS3  # noqa: E402

FRAMEWORK = "claude_agent_sdk"
_TIMING = "in-memory timing"
SKIPS = {
    "TestListSessionsFromStore::test_load_concurrency_is_bounded": (
        f"{_TIMING}: counts the loads in flight five event-loop yields after listing starts, when a store that"
        " does I/O has not finished list_sessions yet (the SDK's semaphore is what the test is about)"
    ),
}
LOOP_AFFINITY: tuple[str, ...] = ()

port(
    globals(),
    "claude-agent-sdk",
    "tests/test_session_helpers_store.py",
    swaps={"claude_agent_sdk": {"InMemorySessionStore": InMemorySessionStoreOnS3}},
)
