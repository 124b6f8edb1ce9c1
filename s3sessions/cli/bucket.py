"""``s3sessions bucket``: create a session bucket, set it up without SAM (``init``), print an agent's IAM policy.

``s3sessions bucket create NAME`` makes a bucket (on AWS or a local S3). ``s3sessions bucket init`` applies the
settings of ``infra/template.yaml`` to an existing bucket through the S3 API (see
`s3sessions.bucket.init_bucket`): idempotent, it prints each setting it changed, or that nothing needed to
change; on a plain-HTTP endpoint it leaves out the TLS-only policy statement, with a warning. ``s3sessions bucket
policy`` prints the least-privilege IAM policy for the agent's role.
"""

from __future__ import annotations

import asyncio
import json

import click

from ..admin.bucket import DEFAULT_NONCURRENT_DAYS, agent_policy, create_bucket, init_bucket
from ..admin.bucket_names import check_bucket_name
from .options import CLIENT_CONFIG, Settings, connection_options, json_option, pass_settings, translated_errors

kms_key_option = click.option(
    "--kms-key-arn",
    default=None,
    help="A customer-managed KMS key: SSE-KMS default encryption (init), kms:Decrypt/GenerateDataKey (policy).",
)


def _bucket_of(settings: Settings) -> str:
    if not settings.bucket:
        raise click.UsageError("no bucket: pass --bucket or set S3SESSIONS_BUCKET")
    with translated_errors():
        return check_bucket_name(settings.bucket)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


@click.group(name="bucket")
def bucket() -> None:
    """Create and set up the session bucket, and the agent's permissions (infra/template.yaml's, without SAM)."""


@bucket.command(name="create")
@connection_options(from_environment=False)
@click.argument("name")
@pass_settings
def create(settings: Settings, name: str) -> None:
    """Create bucket NAME (in --region / the configured region); an existing bucket of yours is left as it is.

    The name must follow S3's rules for new buckets (3-63 lowercase letters, digits, '.' and '-'); what is wrong
    is said in words. Then `s3sessions bucket init --bucket NAME` gives it the session-bucket settings.
    """
    with translated_errors():
        created = asyncio.run(
            create_bucket(
                name,
                endpoint_url=settings.endpoint_url,
                region_name=settings.region,
                profile_name=settings.profile,
                client_config=CLIENT_CONFIG,
            )
        )
    click.echo(f"created bucket {name}" if created else f"bucket {name} already exists and is yours: left as it is")


@bucket.command(name="init")
@connection_options(from_environment=False)
@kms_key_option
@click.option(
    "--noncurrent-days",
    type=click.IntRange(min=1),
    default=DEFAULT_NONCURRENT_DAYS,
    show_default=True,
    help="Days an old object version is kept (the undo window).",
)
@click.option("--dry-run", is_flag=True, help="Only print what would change.")
@json_option
@pass_settings
def init(settings: Settings, kms_key_arn: str | None, noncurrent_days: int, dry_run: bool, as_json: bool) -> None:
    """Apply the session-bucket settings to an existing bucket, changing only what differs.

    Versioning on; default encryption (SSE-S3, or SSE-KMS with --kms-key-arn); all public access blocked; a
    bucket policy denying non-TLS requests (left out, with a warning, on a plain http:// endpoint such as a local
    S3, which would then refuse every request); lifecycle rules under the prefix (expire noncurrent versions
    after --noncurrent-days, abort incomplete multipart uploads). Lifecycle rules and policy statements of
    others are kept. Needs s3:GetBucket*/s3:PutBucket* rights for versioning, encryption, public access block,
    lifecycle and policy. Running it again changes nothing.
    """
    name = _bucket_of(settings)
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        if not as_json:
            _warn(message)

    with translated_errors():
        changes = asyncio.run(
            init_bucket(
                name,
                prefix=settings.prefix or "",
                noncurrent_days=noncurrent_days,
                kms_key_arn=kms_key_arn,
                dry_run=dry_run,
                warn=warn,
                endpoint_url=settings.endpoint_url,
                region_name=settings.region,
                profile_name=settings.profile,
                client_config=CLIENT_CONFIG,
            )
        )
    if as_json:
        listed = [{"setting": change.setting, "before": change.before, "after": change.after} for change in changes]
        click.echo(json.dumps({"bucket": name, "dry_run": dry_run, "changes": listed, "warnings": warnings}))
        return
    verb = "would change" if dry_run else "changed"
    for change in changes:
        click.echo(f"{verb} {change}")
    if not changes:
        click.echo(f"bucket {name} already has every session-bucket setting: nothing changed")


@bucket.command(name="policy")
@connection_options(from_environment=False)
@kms_key_option
@click.option("--partition", default="aws", show_default=True, help="ARN partition (aws-cn, aws-us-gov, ...).")
@pass_settings
def policy(settings: Settings, kms_key_arn: str | None, partition: str) -> None:
    """Print the least-privilege IAM policy for an agent's role: the S3 actions the library uses, under the
    prefix only (and the KMS key's two actions with --kms-key-arn)."""
    with translated_errors():
        document = agent_policy(
            _bucket_of(settings), prefix=settings.prefix or "", kms_key_arn=kms_key_arn, partition=partition
        )
    click.echo(json.dumps(document, indent=2))


__all__ = ["bucket"]
