"""Framework integration tests: one marker per framework; skipped when the framework is missing, except under CI."""

from __future__ import annotations

import gc
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def collect_what_loop_tests_leave(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that drives a manager from several loops, collects garbage at once, so that a client left
    open on a closed loop is reported against that test, not against whichever test the collector next runs in."""
    yield
    if request.node.get_closest_marker("loop_affinity") is not None:
        gc.collect()
