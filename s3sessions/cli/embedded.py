"""`demo` and `local-s3`: an embedded S3 (moto) on 127.0.0.1, so nothing needs an AWS account.

moto is imported only here, and only when one of these commands runs (it needs the ``cli`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ..admin.bucket_names import check_bucket_name
from ..manager import S3SessionManager
from ..models import Session, SessionMetadata
from ..validation import normalise_prefix
from .options import Settings, pass_settings, translated_errors
from .render import human_size, session_table, transcript

DEMO_BUCKET = "s3sessions-demo"
DEMO_PREFIX = "demo/"
LOCAL_BUCKET = "s3sessions"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_SERVER_MODULES = ("moto", "flask", "flask_cors")  # what moto's S3 server imports (the cli extra)
Echo = Callable[[str], None]


def _local_s3(port: int = 0) -> Any:
    """Returns a not yet started `LocalS3`, or explains how to install moto."""
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise click.ClickException(
            f"the embedded S3 needs {', '.join(missing)}: install the cli extra (from a clone: pip install '.[cli]')"
        )
    from ..testing.local_s3 import LocalS3

    return LocalS3(port=port)


@contextlib.contextmanager
def _without_aws_profile() -> Iterator[None]:
    """Hides AWS_PROFILE while talking to the embedded S3: the user's profiles play no part there."""
    saved = {name: os.environ.pop(name) for name in _PROFILE_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _aws_session() -> Any:
    """Returns an aioboto3 session with fake credentials, for the embedded S3 only."""
    from ..storage.s3 import credentials_session

    return credentials_session(
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def _store(session: Any, endpoint_url: str, bucket: str) -> Any:
    """The embedded S3's bucket as a store: every request of the CLI goes through the store's one request path."""
    from ..storage.s3 import S3ObjectStore

    return S3ObjectStore(bucket, session=session, endpoint_url=endpoint_url)


async def _create_bucket(session: Any, endpoint_url: str, bucket: str) -> None:
    store = _store(session, endpoint_url, bucket)
    try:
        await store.call("create_bucket")
    finally:
        await store.close()


# ------------------------------------------------------------------------------------------------------ demo


def _read_file_result() -> str:
    """What the demo agent's read_file tool returns: a real source file, as a coding agent would read."""
    try:
        return Path(argparse.__file__).read_text(encoding="utf-8")
    except OSError:  # a Python installed without its sources
        return argparse.__doc__ or "(source not available)"


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _tool_turn(
    question: str, tool_id: str, tool: str, tool_input: dict[str, Any], result: str, answer: str
) -> list[Any]:
    """One turn in Anthropic's shape: question, tool call, tool result (no new turn), answer."""
    return [
        _user(question),
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": tool, "input": tool_input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}]},
        _assistant(answer),
    ]


def _demo_turns() -> list[list[Any]]:
    return [
        _tool_turn(
            "How does argparse decide that two options are mutually exclusive?",
            "toolu_01",
            "read_file",
            {"path": "Lib/argparse.py"},
            _read_file_result(),
            "add_mutually_exclusive_group() returns a _MutuallyExclusiveGroup; while parsing, "
            "parse_known_args records each action seen and raises 'not allowed with argument' on a conflict.",
        ),
        [
            _user("Show me a minimal example with --json and --table."),
            _assistant(
                "group = parser.add_mutually_exclusive_group()\n"
                "group.add_argument('--json', action='store_true')\n"
                "group.add_argument('--table', action='store_true')"
            ),
        ],
        [
            _user("Can the group be required?"),
            _assistant("Yes: add_mutually_exclusive_group(required=True) makes argparse demand one of them."),
        ],
    ]


async def _layout(session: Any, endpoint_url: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """Returns (key, size) of every object under the prefix, as ``aws s3 ls --recursive`` shows them."""
    store = _store(session, endpoint_url, bucket)
    try:
        return [(item.key, item.size) for item in await store.list_objects(prefix)]
    finally:
        await store.close()


async def run_demo(endpoint_url: str, bucket: str, prefix: str, echo: Echo) -> None:
    """Runs the scripted conversation in a new bucket of the S3 at ``endpoint_url``, printing each step."""
    aws = _aws_session()
    await _create_bucket(aws, endpoint_url, bucket)
    async with S3SessionManager(bucket, prefix, session=aws, endpoint_url=endpoint_url) as sessions:
        session = Session(metadata=SessionMetadata(agent_name="coder", name="argparse questions"))
        echo(f"\n1. create: session {session.id} ({session.metadata.name!r}), one save per turn")
        for turn in _demo_turns():
            session.messages.extend(turn)
            await sessions.save(session)
            history = human_size(len(json.dumps(session.messages)))
            echo(f"   saved turn {session.metadata.turn_count - 1}: {len(session.messages)} messages ({history} JSON)")

        copy = await sessions.fork(session.id)
        echo(f"\n2. fork: {copy.id} ({copy.name!r}) shares {copy.forked_at_turn} turns, copied server-side")
        forked = await sessions.resume(copy.id)
        forked.messages.extend([_user("Rather use click for this?"), _assistant("click.Choice or two flags...")])
        await sessions.save(forked)
        echo(f"   added a turn to the fork: {forked.metadata.turn_count} turns")

        kept = await sessions.rewind(session.id, 1)
        echo(f"\n3. rewind the original to turn 1: {kept.metadata.turn_count} turns, {len(kept.messages)} messages")

        tagged = await sessions.tag(session.id, ["demo", "python"])
        renamed = await sessions.rename(copy.id, "argparse vs click")
        echo(f"\n4. tag the original: {', '.join(tagged.tags)}; rename the fork: {renamed.name!r}")

        scratch = Session(metadata=SessionMetadata(agent_name="coder", name="scratch"))
        scratch.messages.extend([_user("hello?"), _assistant("Hello!")])
        await sessions.save(scratch)
        echo(f"\n5. list (a third session, {scratch.id}, was just created):\n")
        echo(session_table(await sessions.list()))

        await sessions.delete(scratch.id)
        echo(f"\n6. delete {scratch.id}: {len(await sessions.list())} sessions left")

        echo(f"\n7. the fork as `s3sessions show {copy.id}` prints it:\n")
        echo(transcript(await sessions.resume(copy.id), limit=100))

    echo(f"\nBucket layout (aws s3 ls s3://{bucket}/{prefix} --recursive):")
    for key, size in await _layout(aws, endpoint_url, bucket, prefix):
        echo(f"  {human_size(size):>10}  {key}")


@click.command()
@click.option("--prefix", default=None, help=f"Key prefix for the demo sessions (default: {DEMO_PREFIX}).")
@pass_settings
def demo(settings: Settings, prefix: str | None) -> None:
    """Runs a scripted agent conversation on an embedded S3 and shows the bucket it leaves (no AWS needed).

    Creates a session, saves several turns, forks, rewinds, tags, renames, lists and deletes, then prints
    every object key. The embedded S3 lives in memory and stops when the demo ends.
    """
    server = _local_s3()
    with _without_aws_profile(), server:
        click.echo(f"Embedded S3 (moto) at {server.endpoint_url}, bucket {DEMO_BUCKET} (in memory, no AWS account)")
        with translated_errors():
            asyncio.run(
                run_demo(server.endpoint_url, DEMO_BUCKET, prefix or settings.prefix or DEMO_PREFIX, click.echo)
            )
    click.echo(
        "\nEvery object with a body is one zstd frame of JSON (an index entry is an empty object: its key is its"
        " listing). To inspect them yourself (aws s3 ls, aws s3 cp ... - | zstd -d"
    )
    click.echo("| jq .), keep an S3 with these sessions running:  s3sessions local-s3 --with-demo   (see docs/cli.md)")


def _stop_on_sigterm() -> None:
    """Makes SIGTERM stop the server like Ctrl-C (a background job ignores SIGINT, so `kill` is how it ends)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (e.g. under a test runner): leave it
        signal.signal(signal.SIGTERM, interrupt)


@click.command("local-s3")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--bucket", "bucket_option", help=f"Bucket to create (default: $S3SESSIONS_BUCKET, else {LOCAL_BUCKET}).")
@click.option("--prefix", "prefix_option", help="Prefix to export as S3SESSIONS_PREFIX (and of --with-demo).")
@click.option("--with-demo", is_flag=True, help="Fill the bucket with the demo's sessions (under --prefix or demo/).")
@pass_settings
def local_s3(
    settings: Settings, port: int, bucket_option: str | None, prefix_option: str | None, with_demo: bool
) -> None:
    """Runs the embedded S3 in the foreground (until Ctrl-C or SIGTERM) with one bucket, and prints what to export.

    The bucket is --bucket (or the group's --bucket / $S3SESSIONS_BUCKET), else "s3sessions"; --with-demo fills
    it with the demo's sessions, then keeps serving. The export lines it prints point the library, this CLI
    and the aws CLI of another shell at it. Data lives in memory only.
    """
    bucket = bucket_option or settings.bucket or LOCAL_BUCKET
    prefix = prefix_option if prefix_option is not None else settings.prefix
    prefix = prefix or (DEMO_PREFIX if with_demo else "")
    with translated_errors():
        check_bucket_name(bucket, new=True)
        prefix = normalise_prefix(prefix)
    server = _local_s3(port)
    with _without_aws_profile():
        try:
            server.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
        with translated_errors():
            if with_demo:
                asyncio.run(run_demo(server.endpoint_url, bucket, prefix, lambda _: None))
            else:
                asyncio.run(_create_bucket(_aws_session(), server.endpoint_url, bucket))
    seeded = f", seeded with the demo's sessions under {prefix}" if with_demo else ""
    click.echo(f"Embedded S3 (moto) on {server.endpoint_url}, bucket {bucket!r}{seeded}; in memory, Ctrl-C stops it.")
    click.echo("In another shell:")
    click.echo(f"export AWS_ENDPOINT_URL={server.endpoint_url}")
    credentials = " ".join(f"{name}={value}" for name, value in FAKE_CREDENTIALS.items())
    click.echo(f"export {credentials} S3SESSIONS_BUCKET={bucket}" + (f" S3SESSIONS_PREFIX={prefix}" if prefix else ""))
    click.echo(f"then try: s3sessions ls; aws s3 ls s3://{bucket}/ --recursive", nl=True)
    sys.stdout.flush()
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
