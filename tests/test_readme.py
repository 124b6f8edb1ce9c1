"""The README's quick start runs as written, against moto (the AWS SDK pointed there by AWS_ENDPOINT_URL)."""

from __future__ import annotations

import re
from pathlib import Path

import boto3

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    [block] = [block for block in blocks if marker in block]
    return block


def test_the_quick_start_runs_as_written(s3_endpoint, monkeypatch, capsys):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="quick-start")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("S3SESSIONS_BUCKET", "quick-start")  # what local-s3's export lines (or the AWS set-up) set
    code = python_block("from s3sessions import ConflictError, S3SessionManager, Session, SessionMetadata")
    exec(compile(code, str(README), "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("conflict: another writer changed this session")
    listed = [line.split() for line in printed[1:]]
    assert len(listed) == 2
    assert listed[0][1:4] == ["refactor", "foo", "3"] and listed[0][-1] == "['prod']"
    assert listed[1][1:3] == ["try", "B"] and listed[1][3] == "1"


def test_the_readme_names_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[cli]' && .venv/bin/s3sessions demo" in text
    assert "./scripts/test.sh" in text
    assert (README.parent / "scripts" / "test.sh").exists()
