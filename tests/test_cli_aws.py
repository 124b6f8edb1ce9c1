"""The bucket as people inspect it by hand: the real aws CLI, zstd and jq against the moto server.

Proves what docs/cli.md promises: ``aws s3 ls --recursive`` shows DESIGN.md's layout, every object is a plain
zstd frame of JSON (``aws s3 cp s3://B/K - | zstd -d | jq .``), and ``aws s3api head-object`` shows a head's
name and turn count. The aws CLI lives in its own virtual environment (scripts/ci-tools.sh), found through
``$S3SESSIONS_AWS_CLI``, ``.venv-tools/bin/aws`` or PATH. Under CI (``CI=true``) a missing tool fails the tests;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from s3sessions import S3SessionManager, Session, SessionMetadata

BUCKET = "test-bucket"  # the bucket the s3_endpoint fixture creates
PREFIX = "inspect/"
ROOT = Path(__file__).resolve().parents[1]
NAME = "Résumé: plan ✓ 100%"


def _missing(tool: str, how: str) -> None:
    reason = f"{tool} not found: {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def aws_cli() -> str:
    """The aws CLI binary."""
    candidates = [os.environ.get("S3SESSIONS_AWS_CLI"), str(ROOT / ".venv-tools" / "bin" / "aws"), shutil.which("aws")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("the aws CLI", "run scripts/ci-tools.sh or set S3SESSIONS_AWS_CLI")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def shell_tools() -> None:
    for tool in ("zstd", "jq", "bash"):
        if shutil.which(tool) is None:
            _missing(tool, "install it (apt-get install zstd jq)")


def aws_environment(tmp_path: Path) -> dict[str, str]:
    """Fake credentials (from the fixture) and no user configuration, pager or instance metadata."""
    env = dict(os.environ)
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    env.pop("AWS_PROFILE", None)
    return env


def shell(command: str, tmp_path: Path) -> str:
    """Runs a shell pipeline as a user would type it; any failing stage fails the test."""
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", command],
        env=aws_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    return result.stdout


def stdlib_source(module: str) -> str:
    """A real source file as a coding agent's read_file would return it (realistic, compressible bytes)."""
    return (Path(sys.modules[module].__file__ or "")).read_text(encoding="utf-8")


@pytest.fixture
def stored_session(s3_endpoint: str) -> Session:
    """A named, tagged session big enough (over the ~64 KiB inline tail) to have segments, plus a fork."""
    import argparse  # noqa: F401
    import json.decoder  # noqa: F401

    messages: list[Any] = []
    for number, module in enumerate(("argparse", "json.decoder")):
        messages += [
            {"role": "user", "content": f"question {number}: explain {module}"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{number}", "name": "read_file",
                                               "input": {"module": module}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{number}",
                                          "content": stdlib_source(module)}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"{module} parses things."}]},
        ]  # fmt: skip
    session = Session(metadata=SessionMetadata(name=NAME, tags=["aws-cli"], agent_name="coder"), messages=messages)

    async def save() -> None:
        async with S3SessionManager(BUCKET, PREFIX, endpoint_url=s3_endpoint) as manager:
            await manager.save(session)
            await manager.fork(session.id, "the fork")

    asyncio.run(save())
    return session


def test_aws_s3_ls_shows_the_documented_layout(aws_cli, stored_session, s3_endpoint, tmp_path):
    listing = shell(
        f"{shlex.quote(aws_cli)} --endpoint-url {s3_endpoint} s3 ls s3://{BUCKET}/{PREFIX} --recursive", tmp_path
    )
    keys = [line.split()[-1] for line in listing.splitlines() if line.strip()]
    session_id = stored_session.id
    layout = re.compile(
        rf"{PREFIX}(manifest\.json\.zst"
        r"|index/\d/\d{13}~[0-9a-f]{32}~[A-Za-z0-9%=&._-]+"
        r"|sessions/(?P<id>[0-9a-f]{32})/(head|segments/[0-9a-f]{32}/[0-9a-f]{64}\.[0-9a-f]{12})\.json\.zst)"
    )  # fmt: skip
    unexpected = [key for key in keys if not layout.fullmatch(key)]
    assert unexpected == [], listing
    assert f"{PREFIX}manifest.json.zst" in keys
    assert any(key.startswith(f"{PREFIX}index/") for key in keys)
    assert f"{PREFIX}sessions/{session_id}/head.json.zst" in keys
    assert any(key.startswith(f"{PREFIX}sessions/{session_id}/segments/") for key in keys)
    session_ids = {match.group("id") for key in keys if (match := layout.fullmatch(key)) and match.group("id")}
    assert len(session_ids) == 2  # the session and its fork
    # The index is readable as it is: one key per session, its name and turns in plain sight.
    entries = [key for key in keys if key.startswith(f"{PREFIX}index/")]
    assert len(entries) == 2
    assert any(f"~{session_id}~" in key and "&tc=2&" in key and "&t=aws-cli" in key for key in entries)
    assert any("&n=the%20fork" in key for key in entries)


def test_aws_s3_cp_zstd_jq_prints_a_session_head(aws_cli, shell_tools, stored_session, s3_endpoint, tmp_path):
    key = f"{PREFIX}sessions/{stored_session.id}/head.json.zst"
    printed = shell(
        f"{shlex.quote(aws_cli)} --endpoint-url {s3_endpoint} s3 cp s3://{BUCKET}/{key} - | zstd -d | jq .", tmp_path
    )
    assert printed.startswith("{\n  ")  # jq's pretty print
    head = json.loads(printed)
    assert head["format"] == 2 and head["kind"] == "head" and head["session_id"] == stored_session.id
    assert head["metadata"]["name"] == NAME and head["metadata"]["turn_count"] == 2
    assert head["metadata"]["tags"] == ["aws-cli"] and head["segments"]


def test_every_object_is_one_zstd_frame_of_json(aws_cli, shell_tools, stored_session, s3_endpoint, tmp_path):
    copy = tmp_path / "copy"
    shell(
        f"{shlex.quote(aws_cli)} --endpoint-url {s3_endpoint} s3 cp s3://{BUCKET}/{PREFIX} {copy} --recursive --quiet",
        tmp_path,
    )
    files = sorted(path for path in copy.rglob("*") if path.is_file())
    entries = [path for path in files if "index" in path.relative_to(copy).parts]
    assert len(entries) == 2 and all(path.stat().st_size == 0 for path in entries)  # an entry's key is its data
    objects = [path for path in files if path not in entries]
    assert len(objects) >= 5
    kinds = shell(
        "for f in " + " ".join(shlex.quote(str(path)) for path in objects) + '; do zstd -d -c -- "$f" | jq -e -r '
        "'if .format == 2 then .kind else error(\"no format\") end'; done",
        tmp_path,
    ).split()
    assert len(kinds) == len(objects)
    assert {"manifest", "head", "segment"} <= set(kinds)


def test_aws_s3api_head_object_shows_name_and_turns(aws_cli, stored_session, s3_endpoint, tmp_path):
    key = f"{PREFIX}sessions/{stored_session.id}/head.json.zst"
    answer = json.loads(
        shell(
            f"{shlex.quote(aws_cli)} --endpoint-url {s3_endpoint} s3api head-object --bucket {BUCKET} --key {key}",
            tmp_path,
        )
    )
    metadata = answer["Metadata"]
    assert metadata["turns"] == "2"
    assert urllib.parse.unquote(metadata["name"]) == NAME
    assert metadata["name"].isascii()
