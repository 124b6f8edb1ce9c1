"""The session bucket done right: the settings `infra/template.yaml` declares, applied to an existing bucket.

This module is the library's side of one source of truth: `desired_settings` says what a session bucket must
look like (versioning, default encryption, public access blocked, a TLS-only policy, lifecycle rules) and
`agent_policy` says which IAM permissions an agent using `S3SessionManager` needs, no more. The SAM template
declares the same things; ``tests/test_infra_template.py`` proves the two agree setting by setting, and
``tests/test_infra_iam.py`` proves the policy's actions are exactly those the library's requests use.

`init_bucket` applies the settings through the S3 API, idempotently: it reads each setting, changes only what
differs, keeps what others put there (other lifecycle rules and policy statements are merged by id, never
dropped) and returns what it changed. On a plain-HTTP endpoint (a local S3) it leaves out the TLS-only policy
statement, which would refuse every request there. `create_bucket` makes a new bucket, `check_bucket_name`
says in words what is wrong with a name. This is an adapter on top of the store layer: it opens its client
through `S3ObjectStore.client()` (or uses one given) and imports no AWS SDK until called; the per-setting
steps live in ``bucket_settings.py``.

Example:
    >>> changes = await init_bucket("my-sessions", prefix="agents/", noncurrent_days=30)  # doctest: +SKIP
    >>> for change in changes:  # doctest: +SKIP
    ...     print(change)
    versioning: Suspended -> Enabled
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, ObjectMissing, StorageError
from ..validation import normalise_prefix
from .bucket_names import bucket_name_problem, check_bucket_name

log = logging.getLogger(__name__)

DEFAULT_NONCURRENT_DAYS = 30
"""How long a replaced or deleted object version is kept (the undo window of a rewind)."""
ABORT_MULTIPART_DAYS = 1
"""Incomplete multipart uploads are aborted after this many days (the library never leaves one; others may)."""
NONCURRENT_RULE_ID = "s3sessions-expire-noncurrent-versions"
MULTIPART_RULE_ID = "s3sessions-abort-incomplete-multipart-uploads"
TLS_STATEMENT_SID = "S3SessionsDenyInsecureTransport"

S3_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject")
"""Object-level actions, on ``{prefix}*`` only. GetObject/PutObject also cover CopyObject (fork's segment copies);
DeleteObjectVersion is what DeleteObjects needs for the version ids that delete() removes."""
S3_BUCKET_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions")
"""Bucket-level actions (ListObjectsV2 for reindex, ListObjectVersions for delete), limited by ``s3:prefix``."""
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
"""With SSE-KMS: GenerateDataKey to write (PutObject, CopyObject), Decrypt to read (GetObject, CopyObject)."""


@dataclass(frozen=True)
class BucketSettings:
    """A session bucket's settings, in the shapes of the S3 API's Put/GetBucket* calls."""

    versioning: dict[str, str]
    encryption: dict[str, Any]
    public_access_block: dict[str, bool]
    lifecycle_rules: list[dict[str, Any]]
    policy_statements: list[dict[str, Any]]


@dataclass(frozen=True)
class Change:
    """One setting `init_bucket` changed (or, in a dry run, would change)."""

    setting: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.before} -> {self.after}"


def desired_settings(
    bucket: str,
    *,
    prefix: str = "",
    noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    kms_key_arn: str | None = None,
    partition: str = "aws",
    tls_only: bool = True,
) -> BucketSettings:
    """Returns the settings a session bucket must have.

    Args:
        bucket: The bucket name.
        prefix: The sessions' key prefix; the lifecycle rules apply under it only.
        noncurrent_days: Days a noncurrent object version is kept before it expires.
        kms_key_arn: Default encryption with this KMS key (SSE-KMS, with an S3 Bucket Key); None: SSE-S3.
        partition: The ARN partition (``aws``, ``aws-cn``, ``aws-us-gov``).
        tls_only: Include the policy statement that denies requests without TLS (leave it out only for a
            plain-HTTP endpoint such as a local S3: there it refuses every request).
    """
    prefix = normalise_prefix(prefix)
    if isinstance(noncurrent_days, bool) or not isinstance(noncurrent_days, int) or noncurrent_days < 1:
        raise InvalidInput(f"invalid noncurrent_days {noncurrent_days!r}: must be a positive int")
    if kms_key_arn:
        encryption: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn},
            "BucketKeyEnabled": True,
        }
    else:
        encryption = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return BucketSettings(
        versioning={"Status": "Enabled"},
        encryption=encryption,
        public_access_block={
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        lifecycle_rules=[
            {
                "ID": NONCURRENT_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": prefix},
                "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
            },
            {
                "ID": MULTIPART_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": prefix},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
            },
        ],
        policy_statements=[
            {
                "Sid": TLS_STATEMENT_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if tls_only
        else [],
    )


def agent_policy(
    bucket: str, *, prefix: str = "", kms_key_arn: str | None = None, partition: str = "aws"
) -> dict[str, Any]:
    """Returns the least-privilege IAM policy document for an agent that uses `S3SessionManager`.

    Only the actions the library's requests need, only under ``prefix``: object actions on ``{prefix}*``,
    listing with an ``s3:prefix`` condition, and the two KMS actions when objects are encrypted with a key.
    """
    prefix = normalise_prefix(prefix)
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "SessionObjects",
            "Effect": "Allow",
            "Action": list(S3_OBJECT_ACTIONS),
            "Resource": f"{bucket_arn}/{prefix}*",
        },
        {
            "Sid": "ListSessionKeys",
            "Effect": "Allow",
            "Action": list(S3_BUCKET_ACTIONS),
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}},
        },
    ]
    if kms_key_arn:
        statements.append(
            {"Sid": "SessionObjectsKey", "Effect": "Allow", "Action": list(KMS_ACTIONS), "Resource": kms_key_arn}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def is_plain_http(endpoint_url: str | None) -> bool:
    """Whether requests to this endpoint go without TLS (a local S3), where a TLS-only policy refuses them all."""
    return bool(endpoint_url) and str(endpoint_url).lower().startswith("http://")


def tls_statement_warning(endpoint_url: str, *, dry_run: bool) -> str:
    """The one-line warning `init_bucket` gives when it leaves the TLS-only statement out."""
    verb = "would leave" if dry_run else "left"
    return (
        f"{endpoint_url} is plain HTTP: {verb} out the bucket policy statement that denies non-TLS requests"
        " (it would refuse every request to this endpoint); on AWS it is added"
    )


# ------------------------------------------------------------------------------------------------ S3 requests


async def init_bucket(
    bucket: str,
    *,
    prefix: str = "",
    noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    kms_key_arn: str | None = None,
    dry_run: bool = False,
    tls_only: bool | None = None,
    warn: Callable[[str], None] | None = None,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
    client_config: Mapping[str, Any] | None = None,
) -> list[Change]:
    """Brings an existing bucket to `desired_settings`, changing only what differs, and returns the changes.

    Idempotent: a second run changes nothing and returns ``[]``. Lifecycle rules and policy statements that
    are not ours are kept (ours are recognised by their ids). Public access is blocked first, so the bucket is
    never more open than before at any step.

    S3 requests: GetPublicAccessBlock, GetBucketEncryption, GetBucketVersioning, GetBucketLifecycleConfiguration,
    GetBucketPolicy, and the matching Put for each setting that differs (none in a dry run).

    Args:
        bucket: An existing bucket.
        prefix, noncurrent_days, kms_key_arn: As for `desired_settings`.
        dry_run: Only report what would change.
        tls_only: Add the TLS-only policy statement; None (the default): unless the client's endpoint is plain
            ``http://``, where moto and other local stores enforce it and would then refuse every request.
        warn: Receives the one-line warning when the statement is left out (default: the module's logger).
        client: An open aiobotocore S3 client (its owner closes it); default: one made like the manager's.
        endpoint_url, region_name, profile_name, client_config: Settings for the client made here.

    Raises:
        InvalidInput: a bucket name S3 cannot accept, a bad prefix or number of days.
        StorageError: the bucket does not exist, or a request was refused (e.g. missing s3:PutBucket* rights).

    Example:
        >>> await init_bucket("my-sessions", prefix="agents/", kms_key_arn=None)  # doctest: +SKIP
        [Change(setting='versioning', before='Suspended', after='Enabled'), ...]
    """
    from .bucket_settings import STEPS, open_store

    check_bucket_name(bucket)
    prefix = normalise_prefix(prefix)
    desired_settings(bucket, prefix=prefix, noncurrent_days=noncurrent_days)  # bad input fails before any request
    store = await open_store(bucket, client, endpoint_url, region_name, profile_name, client_config)
    try:
        note = None
        endpoint, _, partition = await store.describe()
        if tls_only is None:
            tls_only = not is_plain_http(endpoint)
            if not tls_only:
                note = tls_statement_warning(endpoint, dry_run=dry_run)
        wanted = desired_settings(
            bucket,
            prefix=prefix,
            noncurrent_days=noncurrent_days,
            kms_key_arn=kms_key_arn,
            partition=partition,
            tls_only=tls_only,
        )
        changes: list[Change] = []
        for step in STEPS:
            change = await step(store, wanted, dry_run)
            if change is not None:
                changes.append(change)
        if note is not None:  # once every request succeeded: a failure stays the one line printed
            (warn or log.warning)(note)
        return changes
    finally:
        await store.close()


async def create_bucket(
    bucket: str,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
    client_config: Mapping[str, Any] | None = None,
) -> bool:
    """Creates the bucket in the client's region; returns False if it already exists and is yours.

    S3 requests: HeadBucket, then CreateBucket (with a LocationConstraint outside us-east-1) if it is absent
    (us-east-1 answers a CreateBucket of your own bucket with success, so only HeadBucket can tell). Then
    `init_bucket` gives it the session-bucket settings.

    Raises:
        InvalidInput: the name breaks S3's naming rules for new buckets (said in words, before any request).
        StorageError: the name is taken by another account, or a request was refused.
    """
    from .bucket_settings import open_store

    check_bucket_name(bucket, new=True)
    store = await open_store(bucket, client, endpoint_url, region_name, profile_name, client_config)
    try:
        try:
            await store.call("head_bucket")
            return False
        except ObjectMissing:
            pass  # absent: create it
        except StorageError as exc:
            if exc.code in ("NoSuchBucket",):
                pass
            elif exc.code in ("403", "AccessDenied", "Forbidden"):
                raise StorageError(
                    f"bucket {bucket!r} exists but is not yours (names are global: pick another), or you lack"
                    " s3:ListBucket on it"
                ) from exc
            else:
                raise
        _, region, _ = await store.describe()
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        await store.call("create_bucket", None, **location)
        return True
    finally:
        await store.close()


async def read_settings(
    bucket: str,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
) -> dict[str, Any]:
    """Returns the bucket's current settings as the S3 API reports them (None where a setting is absent)."""
    from .bucket_settings import get_setting, open_store

    check_bucket_name(bucket)
    store = await open_store(bucket, client, endpoint_url, region_name, profile_name)
    try:
        return {
            "versioning": await get_setting(store, "get_bucket_versioning"),
            "encryption": await get_setting(store, "get_bucket_encryption"),
            "public_access_block": await get_setting(store, "get_public_access_block"),
            "lifecycle": await get_setting(store, "get_bucket_lifecycle_configuration"),
            "policy": await get_setting(store, "get_bucket_policy"),
        }
    finally:
        await store.close()


__all__ = [
    "BucketSettings",
    "Change",
    "agent_policy",
    "bucket_name_problem",
    "check_bucket_name",
    "create_bucket",
    "desired_settings",
    "init_bucket",
    "is_plain_http",
    "read_settings",
]
