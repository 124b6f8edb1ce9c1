"""The ``s3sessions`` console script, driven through click's CliRunner against the moto server."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner, Result

from s3sessions import S3SessionManager, Session, SessionMetadata
from s3sessions.cli import cli

BUCKET = "test-bucket"  # the bucket the s3_endpoint fixture creates
PREFIX = "t/"
ROOT = Path(__file__).resolve().parents[1]


def invoke(endpoint: str, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
    """Runs the CLI in-process with the test bucket, prefix and endpoint as global options."""
    runner = CliRunner()
    options = ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", endpoint]
    return runner.invoke(cli, [*options, *args], input=input, env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def conversation(*questions: str) -> list[Any]:
    """One turn per question in Anthropic's shape; the first has a tool call whose result opens no turn."""
    messages: list[Any] = []
    for number, question in enumerate(questions):
        messages.append({"role": "user", "content": question})
        if number == 0:
            messages.append(
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "grep", "input": {"q": "x"}}],
                }
            )
            messages.append(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x=1"}]}
            )
        messages.append({"role": "assistant", "content": [{"type": "text", "text": f"answer to {question}"}]})
    return messages


def seed(endpoint: str, *sessions: Session) -> None:
    """Saves the sessions in order, each one second after the last, so that `ls` order is deterministic."""
    clock = itertools.count(int(time.time())).__next__

    async def save_all() -> None:
        async with S3SessionManager(BUCKET, PREFIX, endpoint_url=endpoint, clock=clock) as manager:
            for session in sessions:
                await manager.save(session)

    asyncio.run(save_all())


def stored(endpoint: str, session_id: str) -> Session:
    async def resume() -> Session:
        async with S3SessionManager(BUCKET, PREFIX, endpoint_url=endpoint) as manager:
            return await manager.resume(session_id)

    return asyncio.run(resume())


def make(name: str | None, *questions: str, tags: list[str] | None = None, session_id: str | None = None) -> Session:
    metadata = SessionMetadata(name=name, tags=tags or [], agent_name="coder")
    if session_id:
        metadata.id = session_id
    return Session(metadata=metadata, messages=conversation(*questions), state={"step": len(questions)})


# ------------------------------------------------------------------------------------------------ structure


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under the group, nested groups included, with its path of names."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in group.commands.items():
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
    return found


def test_every_command_has_help_text():
    runner = CliRunner()
    assert cli.help
    assert {"demo", "local-s3", "ls", "show", "export", "import", "fork", "rewind", "tag", "rename", "rm",
            "reindex"} <= set(cli.commands)  # fmt: skip
    for path, command in commands(cli):
        assert command.help and command.get_short_help_str(), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts}"
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.stdout, path
    assert "demo" in ok(runner.invoke(cli, ["--help"]))


def test_imports_stay_lazy():
    """`import s3sessions` loads neither click nor moto; the CLI loads moto only for demo/local-s3."""
    code = (
        "import sys\n"
        "import s3sessions\n"
        "assert 'click' not in sys.modules and 'moto' not in sys.modules, 'library'\n"
        "from s3sessions.cli import cli\n"
        "try:\n"
        "    cli(['--help'], standalone_mode=False)\n"
        "    cli(['ls', '--help'], standalone_mode=False)\n"
        "finally:\n"
        "    assert 'moto' not in sys.modules and 'aioboto3' not in sys.modules, 'cli'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------- reading


def test_ls_table_json_and_tag_filter(s3_endpoint):
    first = make("first one", "a?", "b?", tags=["alpha", "beta"])
    second = make(None, "c?", tags=["beta"])
    seed(s3_endpoint, first, second)

    lines = ok(invoke(s3_endpoint, "ls")).splitlines()
    assert lines[0].split() == ["ID", "NAME", "TAGS", "TURNS", "UPDATED", "(UTC)", "SIZE"]
    assert [line.split()[0] for line in lines[1:]] == [second.id, first.id]  # newest first
    row = lines[2].split()
    assert row[1:4] == ["first", "one", "alpha,beta"] and row[4] == "2" and row[-1] == "B"

    listed = json.loads(ok(invoke(s3_endpoint, "ls", "--json")))
    assert [item["id"] for item in listed] == [second.id, first.id]
    assert listed[1]["name"] == "first one" and listed[1]["turn_count"] == 2
    assert listed[1]["message_bytes"] > 0 and listed[1]["tags"] == ["alpha", "beta"]

    filtered = ok(invoke(s3_endpoint, "ls", "--tag", "alpha")).splitlines()
    assert [line.split()[0] for line in filtered[1:]] == [first.id]
    assert json.loads(ok(invoke(s3_endpoint, "ls", "--tag", "alpha", "--tag", "nope", "--json"))) == []


def test_ls_empty_bucket_says_so(s3_endpoint):
    result = invoke(s3_endpoint, "ls")
    assert ok(result) == ""
    assert f"no sessions in s3://{BUCKET}/{PREFIX}" in result.stderr


def test_show_prints_turns_tools_and_cuts_long_text(s3_endpoint):
    session = make("shown", "first question", "second question")
    session.messages.insert(0, {"role": "system", "content": "be brief"})
    session.messages.append({"role": "user", "content": "long " * 200})
    session.metadata.summary = {"title": "shown"}
    seed(s3_endpoint, session)

    text = ok(invoke(s3_endpoint, "show", session.id))
    assert f"session {session.id}  'shown'" in text and "3 turn(s)" in text
    assert '\n  summary {"title":"shown"}\n' in text
    assert "── before the first turn ──\n[0] system: be brief" in text
    assert "── turn 0 ──\n[1] user: first question" in text
    assert '[2] tool call: grep({"q":"x"})' in text and "[3] tool result: x=1" in text
    assert "── turn 1 ──\n[5] user: second question" in text
    assert "── turn 2 ──" in text and "more characters; --full shows all" in text
    full = ok(invoke(s3_endpoint, "show", "--full", session.id))
    assert "long " * 199 in full and "--full shows all" not in full


def test_export_then_import_round_trips(s3_endpoint, tmp_path):
    session = make("exported", "one?", "two?", tags=["keep"])
    session.metadata.summary = {"title": "exported", "n": [1, 2]}
    seed(s3_endpoint, session)
    exported = ok(invoke(s3_endpoint, "export", session.id))
    document = json.loads(exported)
    assert document["metadata"]["id"] == session.id and document["messages"] == session.messages
    assert document["state"] == {"step": 2}
    path = tmp_path / "session.json"
    path.write_text(exported, encoding="utf-8")

    clash = invoke(s3_endpoint, "import", str(path))
    assert clash.exit_code == 1 and "already exists" in clash.stderr and "--new-id" in clash.stderr

    ok(invoke(s3_endpoint, "rm", "--yes", session.id))
    assert f"imported {session.id} (exported): 2 turn(s)" in ok(invoke(s3_endpoint, "import", str(path)))
    restored = stored(s3_endpoint, session.id)
    assert restored.messages == session.messages and restored.metadata.tags == ["keep"]
    assert restored.metadata.summary == {"title": "exported", "n": [1, 2]}

    copied = ok(invoke(s3_endpoint, "import", "--new-id", "--name", "copy", "-", input=exported))
    copy_id = copied.split()[1]
    assert copy_id != session.id and stored(s3_endpoint, copy_id).metadata.name == "copy"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not JSON"), ('{"messages": 3}', "is not an exported session: it has no 'metadata'")],
)
def test_import_refuses_what_export_did_not_write(s3_endpoint, content, message):
    result = invoke(s3_endpoint, "import", "-", input=content)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------- writing


def test_fork_rewind_tag_rename(s3_endpoint):
    session = make("base", "q0", "q1", "q2")
    seed(s3_endpoint, session)

    forked = json.loads(ok(invoke(s3_endpoint, "fork", session.id, "--json")))
    assert forked["parent_id"] == session.id and forked["forked_at_turn"] == 3 and forked["name"] == "base (fork)"
    named = ok(invoke(s3_endpoint, "fork", session.id, "--name", "other"))
    assert named.startswith(f"forked {session.id} -> ") and named.rstrip().endswith("(other)")

    assert "kept turns 0..1: 6 message(s)" in ok(invoke(s3_endpoint, "rewind", session.id, "1"))
    assert stored(s3_endpoint, session.id).metadata.turn_count == 2
    bad = invoke(s3_endpoint, "rewind", session.id, "5")
    assert bad.exit_code == 1 and "invalid turn index 5" in bad.stderr

    assert "tagged" in ok(invoke(s3_endpoint, "tag", session.id, "x", "y"))
    assert json.loads(ok(invoke(s3_endpoint, "tag", session.id, "z", "x", "--json")))["tags"] == ["x", "y", "z"]
    assert ok(invoke(s3_endpoint, "rename", session.id, "new name")) == f"renamed {session.id} to 'new name'\n"
    metadata = stored(s3_endpoint, session.id).metadata
    assert metadata.name == "new name" and metadata.tags == ["x", "y", "z"]


def test_rm_asks_first_unless_yes(s3_endpoint):
    first, second, third = make("a", "q"), make("b", "q"), make("c", "q")
    seed(s3_endpoint, first, second, third)

    declined = invoke(s3_endpoint, "rm", first.id, input="n\n")
    assert declined.exit_code == 1 and "Delete 1 session(s)" in declined.stdout
    stored(s3_endpoint, first.id)

    assert f"deleted {first.id}" in ok(invoke(s3_endpoint, "rm", first.id, input="y\n"))
    deleted = ok(invoke(s3_endpoint, "rm", "-y", second.id, third.id))
    assert deleted.splitlines() == [f"deleted {second.id}", f"deleted {third.id}"]
    assert json.loads(ok(invoke(s3_endpoint, "ls", "--json"))) == []
    again = invoke(s3_endpoint, "rm", "--yes", first.id)
    assert again.exit_code == 1 and "no such session" in again.stderr


def test_reindex_rebuilds_a_lost_index_and_reports_progress(s3_endpoint):
    sessions = [make(f"s{number}", "q") for number in range(3)]
    seed(s3_endpoint, *sessions)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}index/")["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    assert json.loads(ok(invoke(s3_endpoint, "ls", "--json"))) == []

    result = invoke(s3_endpoint, "reindex", "--progress")
    assert ok(result) == f"reindexed s3://{BUCKET}/{PREFIX}: 3 session(s)\n"
    assert "reindex: 1/3 heads read" in result.stderr and "reindex: 3/3 heads read" in result.stderr
    assert len(json.loads(ok(invoke(s3_endpoint, "ls", "--json")))) == 3
    quiet = invoke(s3_endpoint, "reindex")
    assert ok(quiet) and quiet.stderr == ""


# ---------------------------------------------------------------------------------------- options, errors


def test_options_come_from_the_environment_and_subcommands_override(s3_endpoint):
    session = make("env", "q")
    seed(s3_endpoint, session)
    env: dict[str, str | None] = {
        "S3SESSIONS_BUCKET": BUCKET,
        "S3SESSIONS_PREFIX": PREFIX,
        "AWS_ENDPOINT_URL": s3_endpoint,
    }
    runner = CliRunner()
    assert session.id in ok(runner.invoke(cli, ["ls"], env=env))
    elsewhere = runner.invoke(cli, ["ls", "--prefix", "other/"], env=env)
    assert ok(elsewhere) == "" and "s3://test-bucket/other/" in elsewhere.stderr
    assert session.id in ok(runner.invoke(cli, ["--prefix", "nope/", "ls", "--prefix", PREFIX], env=env))


def assert_one_line_error(result: Result, *fragments: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for fragment in fragments:
        assert fragment in lines[0]


def test_expected_failures_are_one_line_errors(s3_endpoint, tmp_path):
    assert_one_line_error(invoke(s3_endpoint, "show", "nope"), "no such session", "'nope'")
    assert_one_line_error(invoke(s3_endpoint, "show", "../x"), "invalid session id")
    missing = CliRunner().invoke(cli, ["--bucket", "no-such-bucket", "--endpoint-url", s3_endpoint, "ls"])
    assert_one_line_error(missing, "bucket 'no-such-bucket' does not exist")
    assert_one_line_error(CliRunner().invoke(cli, ["ls"]), "no bucket", "S3SESSIONS_BUCKET")

    no_aws: dict[str, str | None] = dict.fromkeys(
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    )
    no_aws.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    assert_one_line_error(invoke(s3_endpoint, "ls", env=no_aws), "no AWS credentials found")
    assert_one_line_error(invoke(s3_endpoint, "--profile", "ghost", "ls", env=no_aws), "ghost")


# ------------------------------------------------------------------------------------ demo and local-s3


def console_script() -> list[str]:
    """The installed ``s3sessions`` script beside this Python, else ``python -m s3sessions.cli``."""
    script = Path(sys.executable).parent / "s3sessions"
    if script.exists():
        return [str(script)]
    if os.environ.get("CI") == "true":
        pytest.fail(f"the s3sessions console script is not installed beside {sys.executable}")
    return [sys.executable, "-m", "s3sessions.cli"]


_SETTINGS_PREFIXES = ("AWS_", "S3SESSIONS_")
"""Environment variables that configure AWS or this library: a fresh machine has none."""


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """A fresh machine: no AWS variables, no ~/.aws."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(_SETTINGS_PREFIXES)}
    env["HOME"] = str(tmp_path)
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never wait for an instance metadata service
    return env


def test_demo_runs_with_no_aws_configuration(tmp_path):
    env = clean_environment(tmp_path)
    env["AWS_PROFILE"] = "does-not-exist"  # the demo must ignore the user's AWS setup
    result = subprocess.run([*console_script(), "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("1. create", "2. fork", "3. rewind", "4. tag", "5. list", "6. delete", "7. the fork"):
        assert step in out
    assert "2 sessions left" in out and "Bucket layout" in out
    assert "demo/manifest.json.zst" in out and "/head.json.zst" in out and "/segments/" in out
    assert result.stderr == ""


def as_a_terminal_starts_it(command: list[str]) -> list[str]:
    """The command, started with SIGINT at its default, as a terminal starts it: a CI job run in the background
    inherits SIGINT ignored (POSIX shells ignore it for asynchronous commands), and Python then never turns
    Ctrl-C into KeyboardInterrupt. A Python launcher resets it and execs the command (``preexec_fn`` would do it
    in the forked child of this threaded process, which Python documents as unsafe)."""
    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
    return [sys.executable, "-c", reset, *command]


def _read_lines(stream: Any, count: int, timeout: float) -> list[str]:
    """The next ``count`` lines of a child's output, or AssertionError after ``timeout`` seconds (never a hang)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream.readline() for _ in range(count)), daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"no {count} lines within {timeout} s: {lines}"
    return lines


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_local_s3_serves_until_interrupted(tmp_path, stop):
    command = as_a_terminal_starts_it([*console_script(), "--prefix", "p/", "local-s3", "--port", "0", "--with-demo"])
    with subprocess.Popen(
        command, env=clean_environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stdout is not None
            lines = _read_lines(server.stdout, 4, timeout=120)
            exported = dict(
                assignment.split("=", 1)
                for line in lines
                if line.startswith("export ")
                for assignment in line.split()[1:]
            )
            assert exported.get("S3SESSIONS_BUCKET") == "s3sessions" and exported.get("S3SESSIONS_PREFIX") == "p/", (
                lines
            )
            assert exported.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:"), lines
            # what the printed lines export is all another shell needs (no credentials of this test run)
            unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith(_SETTINGS_PREFIXES)}
            listed = CliRunner().invoke(cli, ["ls"], env={**unset, **exported})
            assert "argparse questions" in ok(listed) and "argparse vs click" in listed.stdout
            server.send_signal(stop)
            _, stderr = server.communicate(timeout=30)
        finally:
            if server.poll() is None:  # never leave it (or Popen's exit, which waits for it) hanging
                server.kill()
                server.wait()
    assert server.returncode == 0, stderr
    assert stderr.strip().endswith("stopped"), stderr


def test_version_names_the_installed_distribution():
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert ok(result).strip() == f"s3sessions, version {version('s3-agent-sessions')}"
