"""claude-agent-sdk ``tests/test_session_summary.py``, verbatim,
with ``InMemorySessionStore`` swapped for `ClaudeSessionStore`."""

from _upstream import port, require

require("claude-agent-sdk")

from _backends import InMemorySessionStoreOnS3  # noqa: E402

FRAMEWORK = "claude_agent_sdk"
_TIMING = "in-memory timing"
SKIPS = {
    "TestListSessionsFromStoreFastPath::test_gap_fill_bounded_concurrency": (
        f"{_TIMING}: counts the loads in flight five event-loop yields after listing starts, when a store that"
        " does I/O has not finished listing yet (the SDK's semaphore is what the test is about)"
    ),
}
LOOP_AFFINITY: tuple[str, ...] = ()
MILLISECOND_TIMES = (
    "TestListSessionsFromStoreFastPath::test_fast_path_skips_load",
    "TestListSessionsFromStoreFastPath::test_fast_path_limit_offset",
    "TestListSessionsFromStoreFastPath::test_mixed_sessions_gap_filled",
    "TestListSessionsFromStoreFastPath::test_sidechain_summary_does_not_consume_page_slot",
)

port(
    globals(),
    "claude-agent-sdk",
    "tests/test_session_summary.py",
    swaps={"claude_agent_sdk": {"InMemorySessionStore": InMemorySessionStoreOnS3}},
)
