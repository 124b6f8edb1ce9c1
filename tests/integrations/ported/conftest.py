"""The frameworks' own session test suites, run on the s3sessions adapters (see `_upstream` and `_backends`).

Each ``test_ported_*.py`` shim runs one upstream test file and declares, beside the tests concerned:

- ``FRAMEWORK``: the marker of its framework (``strands``, ``openai_agents``, ``claude_agent_sdk``).
- ``SKIPS``: pattern -> reason, for the tests about another backend's internals (its files, SQL, Redis
  commands, private attributes). A pattern matches ``Class::test[params]`` with or without the parameters
  (``*`` matches anything); one that matches nothing is an error, so the table follows the upstream file.
- ``MILLISECOND_TIMES``: patterns of the tests that order sessions written within one second (the
  ``millisecond_times`` marker).
- ``WARNINGS``: warning filters for warnings the upstream suite itself provokes (our pytest configuration makes
  every warning an error; the frameworks' own configurations do not).
- ``LOOP_AFFINITY``: patterns of the tests that drive one manager from several event loops or threads (the
  ``loop_affinity`` marker: ``-m loop_affinity`` selects them).

In a pattern only ``*`` is special (any characters), so ``test_x[run_sync]`` means exactly that.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import _backends
import _upstream
import pytest


def pytest_configure(config: pytest.Config) -> None:
    _upstream.set_config(config)


def _names(item: pytest.Item) -> list[str]:
    suffix = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.name
    return [suffix, suffix.split("[", 1)[0]]


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _matching(item: pytest.Item, patterns: Any) -> list[str]:
    return [pattern for pattern in patterns if any(_glob(pattern).fullmatch(name) for name in _names(item))]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    used: dict[Any, set[str]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is None or not hasattr(module, "UPSTREAM_FILE"):
            continue
        item.add_marker(getattr(pytest.mark, module.FRAMEWORK))
        skips: dict[str, str] = getattr(module, "SKIPS", {})
        matched = _matching(item, skips)
        used.setdefault(module, set()).update(matched)
        if matched:
            item.add_marker(pytest.mark.skip(reason=f"{module.FRAMEWORK}: {skips[matched[0]]}"))
        if _matching(item, getattr(module, "LOOP_AFFINITY", ())):
            item.add_marker(pytest.mark.loop_affinity)
        if _matching(item, getattr(module, "MILLISECOND_TIMES", ())):
            item.add_marker(pytest.mark.millisecond_times)
        for warning_filter in getattr(module, "WARNINGS", ()):
            item.add_marker(pytest.mark.filterwarnings(warning_filter))
    for module, patterns in used.items():
        stale = set(getattr(module, "SKIPS", {})) - patterns
        if stale and not any("::" in argument for argument in config.args):
            raise pytest.UsageError(f"{module.__name__}: SKIPS patterns that match no test: {sorted(stale)}")


@pytest.fixture
def anyio_backend() -> str:
    """The SDK runs its tests on asyncio and trio; s3sessions (aiobotocore) runs on asyncio only."""
    return "asyncio"


@pytest.fixture(scope="session")
def ported_s3(local_s3: Any) -> Any:
    """The moto server with `_backends.BUCKET`; kept across tests (each test writes under prefixes of its own)."""
    import boto3

    client = boto3.client("s3", endpoint_url=local_s3.endpoint_url, region_name="us-east-1")

    def reset() -> None:
        local_s3.reset()
        client.create_bucket(Bucket=_backends.BUCKET)

    reset()
    local_s3.reset_bucket = reset
    return local_s3


@pytest.fixture(autouse=True)
async def ported_backend(
    request: pytest.FixtureRequest, ported_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[_backends.Backend]:
    """The test's backend; the original backends' AWS clients (boto3) reach moto through the environment.

    Moto is reset only for modules whose tests create buckets themselves (``RESET_S3 = True``): resetting costs
    more than most tests, and every location of every test gets a prefix of its own anyway.
    """
    if getattr(request.module, "RESET_S3", False):
        ported_s3.reset_bucket()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", ported_s3.endpoint_url)
    backend = _backends.Backend(ported_s3.endpoint_url)
    with _backends.active(backend):
        yield backend
    await backend.close()
