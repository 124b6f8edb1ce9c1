"""The viewer's tests: rendering and HTTP tests, and `browser` tests in Debian's headless chromium.

``scripts/ci-viewer.sh`` runs this folder (after installing chromium and chromedriver when missing); the core
run of ``scripts/test.sh`` (``pytest`` over ``tests/``) leaves it out, so nothing runs twice. Name the folder or
a file in it to run it by hand: ``pytest tests/viewer``. Without a browser the browser tests are skipped,
except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("S3SESSIONS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("S3SESSIONS_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,900",
    "--lang=en-US",
]


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
