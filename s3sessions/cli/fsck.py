"""``s3sessions fsck``: report (and with ``--repair`` remove) what crashes leave behind."""

from __future__ import annotations

import dataclasses
import json

import click

from ..admin.fsck import DEFAULT_GRACE_SECONDS, MIN_GRACE_SECONDS, FsckReport, fsck
from ..manager import S3SessionManager
from .options import Settings, connection_options, json_option, pass_settings, run


@click.command("fsck")
@connection_options(from_environment=False)
@click.option("--repair", is_flag=True, help="Delete orphaned objects and rebuild stale or missing index entries.")
@click.option(
    "--grace",
    "grace_seconds",
    type=click.FloatRange(min=MIN_GRACE_SECONDS),
    default=DEFAULT_GRACE_SECONDS,
    show_default=True,
    help="Seconds an unreferenced object is left alone (a save may be uploading it right now); at least 360.",
)
@json_option
@pass_settings
def fsck_command(settings: Settings, repair: bool, grace_seconds: float, as_json: bool) -> None:
    """Checks every session's objects against its head and the index; exits 1 if anything needs repair.

    Orphans are objects no head references (a save or delete that died midway, segments dropped by a rewind);
    stale entries are index rows that lag their head. Neither harms readers. Corrupt heads are reported and
    their objects never touched.
    """

    async def check(manager: S3SessionManager) -> FsckReport:
        return await fsck(manager, repair=repair, grace_seconds=grace_seconds)

    report = run(settings, check)
    if as_json:
        click.echo(json.dumps({**dataclasses.asdict(report), "clean": report.clean}, indent=2))
    else:
        for line in report.summary():
            click.echo(line)
    if not (report.clean or report.repaired) or report.corrupt or report.missing_segments:
        raise SystemExit(1)
