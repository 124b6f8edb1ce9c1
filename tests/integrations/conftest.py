"""Framework integration tests: one marker per framework; skipped when the framework is missing, except under CI."""

from __future__ import annotations

import pytest

MARKERS = {
    "strands": "needs strands-agents (the s3sessions[strands] extra)",
    "openai_agents": "needs openai-agents (the s3sessions[openai-agents] extra)",
    "claude_agent_sdk": "needs claude-agent-sdk (the s3sessions[claude-agent-sdk] extra)",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
