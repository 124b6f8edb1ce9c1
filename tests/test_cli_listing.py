"""``s3sessions ls`` pages through the index (first page, the hint for the next, --limit, --all, --cursor,
--tag, --agent) and ``show --last K`` prints only the last turns."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner, Result
from conftest import BUCKET

from s3sessions import S3SessionManager, Session, SessionMetadata
from s3sessions.cli import cli
from s3sessions.testing.conformance import SettableClock, turn

PREFIX = "pages/"


def invoke(endpoint: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--bucket", BUCKET, "--prefix", PREFIX, "--endpoint-url", endpoint, *args])


def seed(endpoint: str, count: int) -> list[str]:
    clock = SettableClock()

    async def make() -> list[str]:
        ids = []
        async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint, clock=clock) as manager:
            for index in range(count):
                clock.now += 1
                session = Session(
                    metadata=SessionMetadata(
                        id=f"s{index:03d}", tags=["odd"] if index % 2 else ["even"], agent_name=f"a{index % 3}"
                    ),
                    messages=turn(index) + turn(index + 100),
                )
                await manager.save(session)
                ids.append(session.id)
        return ids

    return asyncio.run(make())


def ids_in(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines()[1:] if line.strip()]


def test_ls_shows_a_page_and_how_to_get_the_next(s3_endpoint):
    ids = seed(s3_endpoint, 7)
    first = invoke(s3_endpoint, "ls", "--limit", "3")
    assert first.exit_code == 0, first.output
    assert ids_in(first.stdout) == ids[::-1][:3]
    hint = next(line for line in first.stderr.splitlines() if line.startswith("more: "))
    cursor = hint.split("--cursor ")[1].split()[0]
    second = invoke(s3_endpoint, "ls", "--limit", "3", "--cursor", cursor)
    assert ids_in(second.stdout) == ids[::-1][3:6]
    everything = invoke(s3_endpoint, "ls", "--all")
    assert ids_in(everything.stdout) == ids[::-1] and "more:" not in everything.stderr
    assert ids_in(invoke(s3_endpoint, "ls", "--tag", "odd").stdout) == [i for i in ids[::-1] if int(i[1:]) % 2]
    assert ids_in(invoke(s3_endpoint, "ls", "--agent", "a1").stdout) == [i for i in ids[::-1] if int(i[1:]) % 3 == 1]


def test_ls_of_an_empty_prefix_names_where_it_looked(s3_endpoint):
    result = invoke(s3_endpoint, "ls")
    assert result.exit_code == 0
    assert f"no sessions in s3://{BUCKET}/{PREFIX}" in result.stderr and "--prefix" in result.stderr
    bad = invoke(s3_endpoint, "ls", "--cursor", "nonsense")
    assert bad.exit_code == 1 and "invalid cursor 'nonsense'" in bad.output


def test_show_last_prints_only_the_last_turns(s3_endpoint):
    seed(s3_endpoint, 1)
    full = invoke(s3_endpoint, "show", "s000")
    last = invoke(s3_endpoint, "show", "s000", "--last", "1")
    assert full.exit_code == 0 and last.exit_code == 0
    assert "question 0" in full.stdout and "question 100" in full.stdout
    assert "question 0:" not in last.stdout and "question 100" in last.stdout
    assert "── 2 earlier message(s) not shown ──" in last.stdout and "── turn 1 ──" in last.stdout
    assert "[2] user: question 100" in last.stdout
