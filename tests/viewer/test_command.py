"""`s3sessions view`: loopback by default, a warning for any other address, one-line errors, and end to end."""

from __future__ import annotations

import asyncio
import http.client
import os
import subprocess
import sys
import time
from typing import ClassVar

from click.testing import CliRunner
from viewer_corpus import seed

from s3sessions import S3SessionManager
from s3sessions.cli import cli


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class _Fake:
    """Stands in for ViewerServer: records how it was made and stops at once."""

    made: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, app, host, port, *, verbose=False):
        self.made.append((host, port))
        self.url = f"http://{host}:{port}/"

    def serve_forever(self):
        raise KeyboardInterrupt

    def close(self):
        pass


def _invoke(arguments, endpoint):
    return CliRunner().invoke(
        cli, ["view", "--bucket", "test-bucket", "--prefix", "t/", "--endpoint-url", endpoint, *arguments]
    )


def test_view_listens_on_loopback_by_default_and_warns_for_another_address(s3_endpoint, monkeypatch):
    monkeypatch.setattr("s3sessions.viewer.command.ViewerServer", _Fake)
    _Fake.made.clear()
    quiet = _invoke([], s3_endpoint)
    assert quiet.exit_code == 0, quiet.output
    assert _Fake.made == [("127.0.0.1", 8765)] and "warning" not in quiet.output
    assert "read-only" in quiet.output and "s3://test-bucket/t/" in quiet.output
    loud = _invoke(["--host", "0.0.0.0", "--port", "9000"], s3_endpoint)
    assert loud.exit_code == 0 and _Fake.made[-1] == ("0.0.0.0", 9000)
    assert "warning: listening on 0.0.0.0" in loud.output


def test_view_says_in_one_line_when_the_bucket_cannot_be_read(s3_endpoint):
    result = CliRunner().invoke(
        cli, ["view", "--bucket", "no-such-bucket", "--endpoint-url", s3_endpoint, "--port", "0"]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    missing = CliRunner().invoke(cli, ["view"])
    assert missing.exit_code == 1 and "no bucket" in missing.output


def test_view_serves_sessions_from_s3(s3_endpoint, tmp_path):
    """`s3sessions view` as a user runs it, against the embedded moto S3, in its own process."""

    async def fill() -> dict[str, str]:
        async with S3SessionManager(bucket="test-bucket", prefix="t/", endpoint_url=s3_endpoint) as manager:
            return await seed(manager)

    ids = asyncio.run(fill())
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "S3SESSIONS_BUCKET": "test-bucket",
        "S3SESSIONS_PREFIX": "t/",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "s3sessions.cli", "view", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None  # both are pipes
    try:
        line = process.stdout.readline()
        assert " on http://127.0.0.1:" in line, (line, process.stderr.read() if process.poll() is not None else "")
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        started = time.monotonic()
        status, body = get(port, "/")
        assert status == 200 and b"argparse questions" in body and b"weather bot" in body
        status, body = get(port, f"/session/{ids['fork']}")
        assert status == 200 and b"Would click be simpler here?" in body and b"diverged at turn 2" in body
        status, body = get(port, f"/compare/{ids['fork']}")
        assert status == 200 and b"Add a test for the group" in body
        assert time.monotonic() - started < 20
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
