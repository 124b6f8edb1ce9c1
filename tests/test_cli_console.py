"""What a new user meets, through the installed ``s3sessions`` console script (a fresh process per command).

Every expected failure is one line on stderr and nothing written: bad import files, usage errors, a malformed
bucket name, a wrong endpoint (which fails after a bounded number of attempts, not 10 s of retries). Then the
bucket commands against the moto server over plain HTTP: ``bucket create`` and a ``bucket init`` that does not
lock the user out, and an empty listing that says where it looked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import BUCKET
from test_cli import console_script

from s3sessions import S3SessionManager, Session, SessionMetadata
from s3sessions.admin.bucket import TLS_STATEMENT_SID
from s3sessions.cli.options import CLIENT_CONFIG, TOTAL_ATTEMPTS, Settings

PREFIX = "console/"
EXPORTED: dict[str, Any] = {"metadata": {"id": "imported-1", "agent_name": "coder"}, "messages": [], "state": None}


def s3sessions(*args: str, endpoint: str | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Runs the console script; with an endpoint, against the test bucket and prefix."""
    options = ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", endpoint] if endpoint else []
    env = {name: value for name, value in os.environ.items() if not name.startswith("S3SESSIONS_")}
    return subprocess.run(
        [*console_script(), *options, *args], input=stdin, capture_output=True, timeout=60, env=env, check=False
    )


def one_line_error(result: subprocess.CompletedProcess, *fragments: str, status: int = 1) -> str:
    """Asserts the exit status and a single ``Error: ...`` line on stderr holding every fragment; returns it."""
    stderr = result.stderr.decode()
    assert result.returncode == status, (result.stdout, stderr)
    assert result.stdout == b"" and "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def bucket_keys(endpoint: str, bucket: str = BUCKET) -> list[str]:
    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


# ------------------------------------------------------------------------------------------------ import

BAD_FILES = [
    pytest.param(b"\xff\xfe{}", "is not UTF-8 text (byte 0xff at offset 0)", id="not-utf8"),
    pytest.param(b"{not json", "is not JSON: Expecting property name", id="not-json"),
    pytest.param(b"{}", "has no 'metadata' (an object, as `export` writes)", id="empty-object"),
    pytest.param(b"[]", "is an array, not an object", id="array"),
    pytest.param(b'{"metadata": {"id": "a"}}', "has no 'messages' (an array", id="no-messages"),
    pytest.param(b'{"metadata": {"id": "a"}, "messages": {}}', "has an object as 'messages'", id="messages-object"),
    pytest.param(b'{"metadata": {}, "messages": []}', "metadata has no 'id'", id="no-id"),
    pytest.param(b'{"metadata": {"id": "../x"}, "messages": []}', "invalid session id '../x'", id="bad-id"),
    pytest.param(b'{"metadata": {"id": "a", "tags": ["\\u0000"]}, "messages": []}', "invalid tag", id="bad-tag"),
    pytest.param(b'{"metadata": {"id": "a", "name": ""}, "messages": []}', "invalid session name", id="bad-name"),
    pytest.param(b'{"metadata": {"id": "a"}, "messages": [NaN]}', "NaN is not a JSON value", id="nan"),
    pytest.param(b'{"metadata": {"id": "a", "x": 1}, "messages": []}', "metadata.x: Extra inputs", id="extra-key"),
    pytest.param(b'{"metadata": {"id": "a", "turn_count": "many"}, "messages": []}', "turn_count", id="wrong-type"),
    pytest.param(b"[" * 100_000, "nested too deeply", id="deep"),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_import_refuses_a_bad_file_in_one_line_and_writes_nothing(s3_endpoint, tmp_path, content, problem):
    path = tmp_path / "session.json"
    path.write_bytes(content)
    one_line_error(s3sessions("import", str(path), endpoint=s3_endpoint), f"{path} ", problem)
    assert bucket_keys(s3_endpoint) == []


def test_import_from_stdin_names_stdin(s3_endpoint):
    one_line_error(s3sessions("import", "-", endpoint=s3_endpoint, stdin=b"{}"), "stdin is not an exported session")
    assert bucket_keys(s3_endpoint) == []


def test_import_refuses_a_bad_name_option_and_accepts_a_good_file(s3_endpoint, tmp_path):
    path = tmp_path / "session.json"
    path.write_text(json.dumps(EXPORTED), encoding="utf-8")
    one_line_error(s3sessions("import", "--name", "tab\there", str(path), endpoint=s3_endpoint), "invalid session name")
    assert bucket_keys(s3_endpoint) == []
    result = s3sessions("import", str(path), endpoint=s3_endpoint)
    assert result.returncode == 0 and result.stdout.decode() == "imported imported-1: 0 turn(s)\n", result.stderr


# ------------------------------------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["rewind", "some-id"], ["Missing argument 'TURN'", "(see 's3sessions rewind --help')"]),
        (["lss"], ["No such command 'lss'", "(see 's3sessions --help')"]),
        (["ls", "--frobnicate"], ["No such option", "--frobnicate"]),
        (["rewind", "some-id", "two"], ["'two' is not a valid integer"]),
        (["bucket", "init"], ["no bucket: pass --bucket", "(see 's3sessions bucket init --help')"]),
    ],
)
def test_usage_errors_are_one_line(args, fragments):
    one_line_error(s3sessions(*args), *fragments, status=2)


async def test_rewind_to_turn_minus_one_answers_with_the_range(s3_endpoint):
    session = Session(metadata=SessionMetadata(id="three-turns", agent_name="coder"))
    for number in range(3):
        session.messages += [{"role": "user", "content": f"q{number}"}, {"role": "assistant", "content": "a"}]
    async with S3SessionManager(BUCKET, PREFIX, endpoint_url=s3_endpoint) as manager:
        await manager.save(session)
    result = await asyncio.to_thread(s3sessions, "rewind", "three-turns", "-1", endpoint=s3_endpoint)
    one_line_error(result, "invalid turn index -1", "so use 0..2")


# ------------------------------------------------------------------------------------------------ where to look


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("My Bucket!", "it may contain only letters, digits, '.', '-' and '_', not ' ' '!'"),
        ("x" * 300, "it is 300 characters long (at most 255)"),
    ],
)
def test_a_malformed_bucket_name_is_said_in_words(name, problem):
    line = one_line_error(s3sessions("--bucket", name, "--endpoint-url", "http://127.0.0.1:9", "ls"), problem)
    assert "regex" not in line and len(line) < len(name) + 150


def test_settings_give_every_manager_the_fast_failing_client_config():
    manager = Settings(bucket="b").manager()
    assert manager.store._client_config == CLIENT_CONFIG  # type: ignore[attr-defined]
    assert CLIENT_CONFIG["retries"]["total_max_attempts"] == TOTAL_ATTEMPTS <= 3
    assert CLIENT_CONFIG["connect_timeout"] <= 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_fails_fast_naming_the_endpoint():
    port = free_port()  # nothing listens there: every connection is refused
    started = time.monotonic()
    result = s3sessions("--bucket", "b", "--endpoint-url", f"http://127.0.0.1:{port}", "ls")
    elapsed = time.monotonic() - started
    one_line_error(result, f"cannot reach S3 at http://127.0.0.1:{port}", "--endpoint-url")
    # Three attempts with at most 1 + 2 s of jittered back-off, plus the interpreter's start: the library's
    # default (six attempts, up to 15 s of back-off) took 10.7 s here. The bound leaves room for a busy machine.
    assert elapsed < 8, elapsed


def test_an_endpoint_that_drops_connections_gets_exactly_the_bounded_attempts():
    """A listener that accepts and closes at once: counting its accepts counts the CLI's attempts, no clock."""
    accepted: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)
        done = threading.Event()

        def serve() -> None:
            while not done.is_set():
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                accepted.append(1)
                connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        try:
            result = s3sessions("--bucket", "b", "--endpoint-url", endpoint, "ls")
        finally:
            done.set()
            thread.join()
    one_line_error(result, f"cannot reach S3 at {endpoint}")
    # botocore makes TOTAL_ATTEMPTS attempts; aiohttp itself retries an idempotent GET once when the connection
    # closes before a response, so each attempt may be two connections. The library's default would be 6 (x2).
    assert len(accepted) in (TOTAL_ATTEMPTS, 2 * TOTAL_ATTEMPTS)


def test_an_empty_prefix_names_bucket_and_prefix_and_suggests_prefix(s3_endpoint):
    result = s3sessions("ls", endpoint=s3_endpoint)
    assert result.returncode == 0 and result.stdout == b""
    (line,) = result.stderr.decode().splitlines()
    assert f"no sessions in s3://{BUCKET}/{PREFIX}" in line
    assert f"bucket '{BUCKET}'" in line and f"prefix '{PREFIX}'" in line and "--prefix" in line


# ------------------------------------------------------------------------------------------------ bucket commands


def test_bucket_create_makes_the_bucket_once_and_checks_names(s3_endpoint):
    result = s3sessions("--endpoint-url", s3_endpoint, "bucket", "create", "fresh-sessions")
    assert result.returncode == 0 and result.stdout.decode() == "created bucket fresh-sessions\n", result.stderr
    again = s3sessions("--endpoint-url", s3_endpoint, "bucket", "create", "fresh-sessions")
    assert again.returncode == 0 and b"already exists and is yours" in again.stdout
    one_line_error(s3sessions("--endpoint-url", s3_endpoint, "bucket", "create", "My_Bucket"), "lowercase letters")
    one_line_error(s3sessions("--endpoint-url", s3_endpoint, "bucket", "create", "ab"), "3 to 63")
    buckets = boto3.client("s3", endpoint_url=s3_endpoint).list_buckets()["Buckets"]
    assert sorted(bucket["Name"] for bucket in buckets) == ["fresh-sessions", BUCKET]


def test_bucket_init_on_plain_http_leaves_out_the_tls_statement_and_keeps_the_bucket_usable(s3_endpoint, tmp_path):
    warning = "is plain HTTP: {} out the bucket policy statement that denies non-TLS requests"
    dry = s3sessions("bucket", "init", "--dry-run", endpoint=s3_endpoint)
    assert dry.returncode == 0, dry.stderr
    (line,) = dry.stderr.decode().splitlines()
    assert line.startswith(f"Warning: {s3_endpoint} ") and warning.format("would leave") in line
    assert b"bucket policy" not in dry.stdout

    applied = s3sessions("bucket", "init", endpoint=s3_endpoint)
    assert applied.returncode == 0 and warning.format("left") in applied.stderr.decode()
    assert b"changed versioning" in applied.stdout and b"bucket policy" not in applied.stdout
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=BUCKET)

    path = tmp_path / "session.json"
    path.write_text(json.dumps(EXPORTED), encoding="utf-8")
    assert s3sessions("import", str(path), endpoint=s3_endpoint).returncode == 0  # not locked out
    listed = s3sessions("ls", "--json", endpoint=s3_endpoint)
    assert [item["id"] for item in json.loads(listed.stdout)] == ["imported-1"]
    as_json = json.loads(s3sessions("bucket", "init", "--json", endpoint=s3_endpoint).stdout)
    assert as_json["changes"] == [] and len(as_json["warnings"]) == 1
    assert TLS_STATEMENT_SID not in json.dumps(as_json)


def test_bucket_init_still_adds_the_tls_statement_when_asked(s3_endpoint):
    """`tls_only=True` forces it, and moto then enforces it: the lock-out the default now avoids."""
    from s3sessions.admin.bucket import init_bucket

    messages: list[str] = []
    asyncio.run(init_bucket(BUCKET, tls_only=True, warn=messages.append, endpoint_url=s3_endpoint))
    assert messages == []
    result = s3sessions("ls", endpoint=s3_endpoint)
    one_line_error(result, "access denied", "non-TLS")


def test_paths_in_messages_are_the_users(tmp_path):
    """A missing file is click's usage error, one line too."""
    missing = tmp_path / "nope.json"
    one_line_error(s3sessions("--bucket", "b", "import", str(missing)), "nope.json", status=2)
    assert not Path(missing).exists()


# ------------------------------------------------------------------------------------------------ local-s3


def start_local_s3(*args: str, tmp_path: Path) -> tuple[subprocess.Popen, list[str]]:
    """Starts ``s3sessions local-s3`` with no AWS configuration; returns it and the lines it printed."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "S3SESSIONS_"))}
    env["HOME"] = str(tmp_path)
    server = subprocess.Popen(
        [*console_script(), "local-s3", "--port", "0", *args], env=env, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("then try:"):
        line = server.stdout.readline()
        assert line, lines  # it exited early
        lines.append(line.rstrip("\n"))
    return server, lines


def test_local_s3_takes_its_own_bucket_and_prefix_and_stops_on_sigterm(tmp_path):
    server, lines = start_local_s3("--bucket", "my-bucket", "--prefix", "agents", tmp_path=tmp_path)
    try:
        endpoint = next(line for line in lines if line.startswith("export AWS_ENDPOINT_URL=")).partition("=")[2]
        assert any(line.endswith("S3SESSIONS_BUCKET=my-bucket S3SESSIONS_PREFIX=agents/") for line in lines), lines
        assert [bucket["Name"] for bucket in boto3.client("s3", endpoint_url=endpoint).list_buckets()["Buckets"]] == [
            "my-bucket"
        ]
    finally:
        server.terminate()  # SIGTERM: what `kill` sends to a local-s3 running in the background
        server.wait(timeout=30)
        assert server.stdout is not None
        server.stdout.close()
    assert server.returncode == 0


def test_local_s3_refuses_a_bucket_name_s3_would_refuse():
    one_line_error(s3sessions("local-s3", "--bucket", "Not_Valid"), "invalid bucket name 'Not_Valid'")
