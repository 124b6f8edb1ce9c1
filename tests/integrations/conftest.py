"""Framework integration tests: one marker per framework; skipped when the framework is missing, except under CI."""

from __future__ import annotations

import pytest

MARKERS = {
    "strands": "needs strands-agents (the s3sessions[strands] extra)",
    "openai_agents": "needs openai-agents (the s3sessions[openai-agents] extra)",
    "claude_agent_sdk": "needs claude-agent-sdk (the s3sessions[claude-agent-sdk] extra)",
    "loop_affinity": "drives one s3sessions manager from several event loops or threads",
    "millisecond_times": "orders sessions written within one second (needs updated_at in milliseconds)",
    # Marks the frameworks' own suites (tests/integrations/ported) use:
    "serial": "(openai-agents) requires exclusive execution",
    "allow_call_model_methods": "(openai-agents) allows calls to real model implementations",
    "requires_native_macos_sandbox": "(openai-agents) needs its own macOS sandbox",
    "review_optional": "(openai-agents) slow subsystem-specific test",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
