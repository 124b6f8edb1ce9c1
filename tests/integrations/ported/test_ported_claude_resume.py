"""claude-agent-sdk ``tests/test_session_resume.py``, verbatim,
with ``InMemorySessionStore`` swapped for `ClaudeSessionStore`."""

from _upstream import port, require

require("claude-agent-sdk")

from _backends import InMemorySessionStoreOnS3  # noqa: E402

FRAMEWORK = "claude_agent_sdk"
_MEMORY = "InMemorySessionStore internals"
SKIPS = {
    "TestHappyPath::test_continue_picks_most_recent": f"{_MEMORY}: sets its private _mtimes",
    "TestHappyPath::test_continue_skips_sidechain_sessions": f"{_MEMORY}: sets its private _mtimes",
    "TestHappyPath::test_continue_tie_break_is_deterministic": f"{_MEMORY}: sets its private _mtimes",
    "TestTimeoutsAndErrors::test_list_subkeys_timeout_raises_and_cleans_temp_dir": (
        "in-memory timing: load_timeout_ms=50 must time out list_subkeys, not the load() of a store doing I/O"
    ),
    "TestTimeoutsAndErrors::test_cancelled_after_mkdtemp_cleans_temp_dir": (
        "in-memory timing: expects load() to have returned within 50 event-loop yields, which a store doing I/O"
        " does not (the SDK's clean-up on cancellation is what the test is about)"
    ),
}
LOOP_AFFINITY: tuple[str, ...] = ()

port(
    globals(),
    "claude-agent-sdk",
    "tests/test_session_resume.py",
    swaps={"claude_agent_sdk": {"InMemorySessionStore": InMemorySessionStoreOnS3}},
)
