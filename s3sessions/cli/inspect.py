"""``check``, ``history`` and ``restore``: what a store can do, and undoing a rewind from a head's history."""

from __future__ import annotations

import json

import click

from ..manager import S3SessionManager
from .options import Settings, connection_options, json_option, pass_settings, run
from .render import table, timestamp

session_options = connection_options(from_environment=False)


@click.command()
@session_options
@json_option
@pass_settings
def check(settings: Settings, as_json: bool) -> None:
    """Probes the store's conditional writes on a scratch key; exits 1 if it would lose updates.

    Prints each check (create-only, update with the current ETag quoted or not, stale ETag refused, conditional
    delete) and the dialect a new prefix records in its manifest.
    """
    report = run(settings, S3SessionManager.check)
    if as_json:
        payload = {
            "safe": report.safe,
            "dialect": report.dialect.model_dump(),
            "checks": [c.model_dump() for c in report.checks],
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(f"store {settings.location}")
        for line in report.lines():
            click.echo(line)
    if not report.safe:
        raise SystemExit(1)


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Versions to show.")
@json_option
@pass_settings
def history(settings: Settings, session_id: str, limit: int, as_json: bool) -> None:
    """Lists the stored versions of a session's head, newest first (needs a bucket with versioning).

    Each row is a commit: when, revision, turns, messages and name. `s3sessions restore ID VERSION` brings one
    back (the undo of a rewind).
    """
    versions = run(settings, lambda manager: manager.history(session_id, limit=limit))
    if as_json:
        click.echo(json.dumps([vars(version) for version in versions], indent=2, ensure_ascii=False))
        return
    rows = [
        [
            version.version_id,
            timestamp(version.modified),
            "deleted" if version.deleted else str(version.revision or "?"),
            str(version.turn_count if version.turn_count is not None else "-"),
            str(version.message_count if version.message_count is not None else "-"),
            (version.name or "-") + ("  (current)" if version.current else ""),
        ]
        for version in versions
    ]
    click.echo(table(["version", "written (UTC)", "revision", "turns", "messages", "name"], rows, right=(2, 3, 4)))


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.argument("version_id", metavar="VERSION")
@json_option
@pass_settings
def restore(settings: Settings, session_id: str, version_id: str, as_json: bool) -> None:
    """Makes an older version of a session (from `history`) its next revision: undoes a rewind.

    The old messages and state come back as a new commit; name and tags stay as they are now.
    """
    metadata = run(settings, lambda manager: manager.restore(session_id, version_id))
    if as_json:
        from .render import metadata_json

        click.echo(json.dumps(metadata_json(metadata), indent=2, ensure_ascii=False))
    else:
        click.echo(f"restored {session_id} from version {version_id}: {metadata.turn_count} turn(s)")
