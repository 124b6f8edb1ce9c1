"""The ``s3sessions`` console script: a click group with one short command per operation.

Needs the ``cli`` extra (click; moto for ``demo`` and ``local-s3``). ``import s3sessions`` never imports this
package, and this package imports moto only when ``demo`` or ``local-s3`` runs.

Example:
    $ s3sessions demo
    $ s3sessions --bucket my-bucket --prefix agents/ ls --tag urgent
"""

from __future__ import annotations

import click

from ..storage.user_agent import DISTRIBUTION
from ..viewer.command import view
from .bucket import bucket
from .commands import export, fork, import_session, list_sessions, reindex, remove, rename, rewind, show, tag
from .embedded import demo, local_s3
from .fsck import fsck_command
from .inspect import check, history, restore
from .migrate import migrate
from .options import OneLineUsageGroup, Settings, connection_options


@click.group(cls=OneLineUsageGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@connection_options(from_environment=True)
@click.version_option(package_name=DISTRIBUTION, prog_name="s3sessions")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Store and inspect AI-agent sessions in Amazon S3.

    Start with `s3sessions demo` (no AWS account needed). The bucket, prefix and endpoint come from the
    options below, which every command also accepts, or from S3SESSIONS_BUCKET, S3SESSIONS_PREFIX and the
    usual AWS variables (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, credentials).
    """
    ctx.ensure_object(Settings)


for _command in (
    demo,
    local_s3,
    list_sessions,
    show,
    export,
    import_session,
    fork,
    rewind,
    tag,
    rename,
    remove,
    reindex,
    fsck_command,
    check,
    history,
    restore,
    bucket,
    migrate,
    view,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``s3sessions`` console script."""
    cli(prog_name="s3sessions")


__all__ = ["cli", "main"]
