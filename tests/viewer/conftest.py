"""The viewer's tests: rendering and HTTP tests, and `browser` tests in Debian's headless chromium.

``scripts/ci-viewer.sh`` runs this folder (after installing chromium and chromedriver when missing); the core
run of ``scripts/test.sh`` (``pytest`` over ``tests/``) leaves it out, so nothing runs twice. Name the folder or
a file in it to run it by hand: ``pytest tests/viewer``. Without a browser the browser tests are skipped,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from viewer_corpus import seed, seed_hostile, seed_long
from viewer_support import CHROMEDRIVER, CHROMIUM, start_chromium

from s3sessions import InMemorySessionManager
from s3sessions.loop_thread import LoopThread
from s3sessions.viewer import ReadOnlySessions, ViewerApp, ViewerServer

HERE = Path(__file__).resolve().parent


def _named_explicitly(config: pytest.Config) -> bool:
    for argument in config.invocation_params.args:
        if argument.startswith("-"):
            continue
        path = Path(config.invocation_params.dir, argument.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leaves this folder to scripts/ci-viewer.sh unless the command line names it (or a file in it)."""
    if collection_path.resolve() != HERE and HERE in collection_path.resolve().parents:
        return None if _named_explicitly(config) else True
    return None


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    """The private event loop the viewer runs its manager calls on (as `s3sessions view` does)."""
    thread = LoopThread("viewer-tests")
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def corpus(loop: LoopThread) -> dict[str, Any]:
    """An in-memory store with every message shape, a family of forks, a hostile and a 10,000-message session."""
    manager = InMemorySessionManager()
    ids = loop.run(seed(manager))
    ids["hostile"] = loop.run(seed_hostile(manager))
    ids["long"] = loop.run(seed_long(manager))
    return {"manager": manager, "ids": ids}


@pytest.fixture(scope="session")
def app(corpus: dict[str, Any], loop: LoopThread) -> ViewerApp:
    return ViewerApp(ReadOnlySessions(corpus["manager"]), loop.run, "memory://viewer-tests", snapshot_seconds=0)


@pytest.fixture(scope="session")
def server(app: ViewerApp) -> Iterator[ViewerServer]:
    viewer = ViewerServer(app, port=0).start()
    yield viewer
    viewer.close()


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install chromium chromium-driver (scripts/ci-viewer.sh does)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium through chromedriver; its console is kept for the checks."""
    problem = _missing_browser()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests need a browser under CI: {problem}")
        pytest.skip(problem)
    profile = tempfile.mkdtemp(prefix="s3sessions-viewer-chromium-")
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
