"""infra/build_layer.py, the example function's build: the layer it makes is complete and fits the template.

``sam build --use-container`` cannot install s3sessions from a local path (it mounts only the function's
folder), and Docker is not available here anyway, so the layer script is what gets tested: once for this
machine, then the example handler runs with nothing but the standard library, the layer and its own folder on
``sys.path`` (as on Lambda); once for the template's target (python3.14, arm64), checked file by file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import BUCKET

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "infra" / "build_layer.py"
HANDLER_DIR = ROOT / "examples" / "lambda_agent"
COMPILED = ("aiohttp", "frozenlist", "multidict", "propcache", "pydantic_core", "yarl", "zstandard")
"""The dependencies that ship C extensions: each must be there, built for the layer's platform."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once as the script itself builds it, for the module's two layers."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from build_layer import build_wheel
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def build(output: Path, *options: str) -> Path:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(output), *options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MiB unzipped" in result.stdout
    return output / "python"


def project_version() -> str:
    (version,) = re.findall(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    return str(version)


def test_the_native_layer_alone_runs_the_handler(s3_endpoint, tmp_path, wheel):
    site = build(tmp_path / "layer", "--native", "--wheel", str(wheel))
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(HANDLER_DIR)!r}, {str(site)!r}]  # Lambda: the function's folder, then /opt/python
        import handler, s3sessions, aioboto3, pydantic, zstandard
        result = handler.handler({{"session_id": "layered", "message": "hi"}}, None)
        handler.sessions.close()
        modules = [s3sessions, aioboto3, pydantic, zstandard]
        print(json.dumps({{"result": result, "files": [module.__file__ for module in modules]}}))
        """
    )
    environment = {
        **{name: value for name, value in os.environ.items() if name.startswith("AWS_")},
        "S3SESSIONS_BUCKET": BUCKET,
        "S3SESSIONS_PREFIX": "layer/",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
    }
    # -I -S: no site-packages, no user site, no PYTHONPATH: only the standard library and the two folders.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60, env=environment
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)
    assert outcome["result"]["turn_count"] == 1 and outcome["result"]["reply"] == "Turn 1: you said 'hi'."
    assert all(file.startswith(str(site)) for file in outcome["files"]), outcome["files"]


@pytest.fixture(scope="module")
def lambda_layer(tmp_path_factory, wheel) -> Path:
    """The layer the template deploys (python3.14 on arm64): the script's default target."""
    return build(tmp_path_factory.mktemp("lambda") / "layer", "--wheel", str(wheel))


def test_the_lambda_layer_holds_the_library_and_arm64_wheels_for_python_3_14(lambda_layer):
    site = lambda_layer
    assert (site / "s3sessions" / "__init__.py").is_file() and (site / "s3sessions" / "py.typed").is_file()
    assert (site / f"s3_agent_sessions-{project_version()}.dist-info").is_dir()
    for package in ("aioboto3", "aiobotocore", "botocore", "pydantic", *COMPILED):
        assert (site / package).is_dir(), package
    extensions = [path.relative_to(site) for path in site.rglob("*.so")]
    packages_with_extensions = {path.parts[0] for path in extensions}
    assert set(COMPILED) <= packages_with_extensions
    for path in extensions:
        assert path.name.endswith((".cpython-314-aarch64-linux-gnu.so", ".abi3.so")), path
        assert "x86_64" not in path.name, path
    assert not (site / "bin").exists() and not list(site.rglob("__pycache__"))


def test_the_lambda_layer_fits_and_needs_no_requirements_file(lambda_layer):
    size = sum(path.stat().st_size for path in lambda_layer.rglob("*") if path.is_file())
    assert size < 100 * 2**20  # Lambda allows 250 MB unzipped, function and layers together
    assert not (HANDLER_DIR / "requirements.txt").exists()  # nothing for `sam build` to resolve in the container
