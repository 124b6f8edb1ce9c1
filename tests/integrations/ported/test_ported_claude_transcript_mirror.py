"""claude-agent-sdk ``tests/test_transcript_mirror.py``, verbatim, with ``InMemorySessionStore`` swapped for
`ClaudeSessionStore`."""

from _upstream import port, require

require("claude-agent-sdk")

from _backends import InMemorySessionStoreOnS3  # noqa: E402

FRAMEWORK = "claude_agent_sdk"
SKIPS = {
    "TestReceiveLoopFramePeeling::test_eager_flush_mode_appends_per_frame_before_result": (
        "in-memory timing: expects each eager append to finish within ten event-loop yields of the mock"
        " transport, which a store doing I/O does not"
    ),
    "TestBuildMirrorBatcherFlushMode::test_eager_mode_flushes_per_frame": (
        "wall-clock timing: waits at most 1 s per append, which a store doing I/O on a loaded 2-core CI machine"
        " can exceed; test_claude_agent_sdk.py::test_eager_flush_mode_appends_each_frame_in_order checks the same"
        " without a deadline"
    ),
}
LOOP_AFFINITY: tuple[str, ...] = ()
# The SDK's Query leaves anyio memory streams open in tests that build one without a session store; the SDK's
# own pytest configuration does not turn warnings into errors.
WARNINGS = ("ignore:Exception ignored in.*MemoryObject:pytest.PytestUnraisableExceptionWarning",)

port(
    globals(),
    "claude-agent-sdk",
    "tests/test_transcript_mirror.py",
    swaps={"claude_agent_sdk": {"InMemorySessionStore": InMemorySessionStoreOnS3}},
)
