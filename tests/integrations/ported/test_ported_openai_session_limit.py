"""openai-agents ``tests/memory/test_session_limit.py``, verbatim, with ``SQLiteSession`` swapped for
`OpenAIAgentsSession` (its helper ``run_agent_async`` comes from the sdist's ``tests/memory/test_session.py``)."""

from _upstream import port, require

require("openai-agents")

from _backends import SQLiteSessionOnS3  # noqa: E402

FRAMEWORK = "openai_agents"
SKIPS: dict[str, str] = {}
LOOP_AFFINITY = ("*[run_sync]",)

port(
    globals(),
    "openai-agents",
    "tests/memory/test_session_limit.py",
    swaps={"agents": {"SQLiteSession": SQLiteSessionOnS3}},
)
