"""``s3sessions migrate``: convert sessions written by other stores into s3sessions sessions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ..errors import AgentError

if TYPE_CHECKING:
    from ..integrations.strands_migrate import MigrationResult


@click.group()
def migrate() -> None:
    """Convert sessions written by an agent framework's own store into s3sessions sessions."""


@migrate.command("strands")
@click.argument("source", metavar="s3://BUCKET/PREFIX")
@click.argument("session_id", metavar="[SESSION_ID]", required=False)
@click.option(
    "--to",
    "destination",
    metavar="s3://BUCKET/PREFIX",
    help="Where to write the s3sessions sessions (default: the source bucket and prefix; the layouts do not overlap).",
)
@click.option("--endpoint-url", envvar="S3SESSIONS_ENDPOINT_URL", help="S3 endpoint (e.g. a local S3 for tests).")
@click.option("--region", help="AWS region.")
@click.option("--profile", help="AWS profile.")
@click.option("--overwrite", is_flag=True, help="Replace target sessions that diverged from their Strands source.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per converted agent.")
def strands(
    source: str,
    session_id: str | None,
    destination: str | None,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Convert sessions written by Strands' S3SessionManager (session_<id>/...) under SOURCE.

    Agents and multi-agent (Swarm, Graph) states become s3sessions sessions, read through the destination's
    object store when SOURCE is in the same bucket (else through one opened with --endpoint-url/--region/--profile).

    Converts SESSION_ID, or every session under the prefix (with a progress bar) when no id is given.
    Lossless and idempotent: running it again writes nothing for sessions that did not change.
    """
    from ..integrations.strands_migrate import migrate_strands, parse_s3_url
    from ..manager import S3SessionManager

    try:
        bucket, prefix = parse_s3_url(destination or source)
    except AgentError as exc:
        raise click.BadParameter(str(exc)) from exc

    async def run() -> list[MigrationResult]:
        with contextlib.ExitStack() as stack:
            bar: Any = None

            def listed(count: int) -> None:
                nonlocal bar
                if session_id is None:
                    bar = stack.enter_context(
                        click.progressbar(length=count, label="migrating Strands sessions", file=sys.stderr)
                    )

            def migrated(_: str, __: list[MigrationResult]) -> None:
                if bar is not None:
                    bar.update(1)

            async with S3SessionManager(
                bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, region_name=region, profile_name=profile
            ) as manager:
                return await migrate_strands(
                    source,
                    manager,
                    session_id,
                    endpoint_url=endpoint_url,
                    region_name=region,
                    profile_name=profile,
                    overwrite=overwrite,
                    on_listed=listed,
                    on_migrated=migrated,
                )

    try:
        results = asyncio.run(run())
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    for result in results:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "session_id": result.session_id,
                        "agent_id": result.agent_id,
                        "storage_id": result.storage_id,
                        "messages": result.messages,
                        "outcome": result.outcome,
                        "skipped": result.skipped,
                        "kind": result.kind,
                    }
                )
            )
        else:
            what = {"agent": "agent ", "multi_agent": "multi-agent ", "session": "session record"}[result.kind]
            click.echo(
                f"{result.outcome:9} {result.session_id} ({what}{result.agent_id}) -> {result.storage_id}:"
                f" {result.messages} messages"
            )
    for key in sorted({key for result in results for key in result.skipped}):
        click.echo(f"warning: not converted: {key}", err=True)
    if not as_json:
        agents = sum(result.kind == "agent" for result in results)
        multi_agents = sum(result.kind == "multi_agent" for result in results)
        extra = f", {multi_agents} multi-agent(s)" if multi_agents else ""
        click.echo(f"{agents} agent(s){extra} from {len({r.session_id for r in results})} session(s)", err=True)
