"""The session bucket done right: the settings `infra/template.yaml` declares, applied to an existing bucket.

This module is the library's side of one source of truth: `desired_settings` says what a session bucket must
look like (versioning, default encryption, public access blocked, a TLS-only policy, lifecycle rules) and
`agent_policy` says which IAM permissions an agent using `S3SessionManager` needs, no more. The SAM template
declares the same things; ``tests/test_infra_template.py`` proves the two agree setting by setting, and
``tests/test_infra_iam.py`` proves the policy's actions are exactly those the library's requests use.

`init_bucket` applies the settings through the S3 API, idempotently: it reads each setting, changes only what
differs, keeps what others put there (other lifecycle rules and policy statements are merged by id, never
dropped) and returns what it changed. It is an adapter on top of the store layer: it opens its client through
`S3ObjectStore.client()` (or uses one given) and imports no AWS SDK until called.

Example:
    >>> changes = await init_bucket("my-sessions", prefix="agents/", noncurrent_days=30)  # doctest: +SKIP
    >>> for change in changes:  # doctest: +SKIP
    ...     print(change)
    versioning: Suspended -> Enabled
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput, StorageError
from .validation import normalise_prefix

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


@dataclass
class _Client:
    """An S3 client plus the partition its ARNs live in."""

    s3: Any
    partition: str = "aws"
    owned: list[Any] = field(default_factory=list)


def desired_settings(
    bucket: str,
    *,
    prefix: str = "",
    noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    kms_key_arn: str | None = None,
    partition: str = "aws",
) -> BucketSettings:
    """Returns the settings a session bucket must have.

    Args:
        bucket: The bucket name.
        prefix: The sessions' key prefix; the lifecycle rules apply under it only.
        noncurrent_days: Days a noncurrent object version is kept before it expires.
        kms_key_arn: Default encryption with this KMS key (SSE-KMS, with an S3 Bucket Key); None: SSE-S3.
        partition: The ARN partition (``aws``, ``aws-cn``, ``aws-us-gov``).
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
        ],
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


async def init_bucket(
    bucket: str,
    *,
    prefix: str = "",
    noncurrent_days: int = DEFAULT_NONCURRENT_DAYS,
    kms_key_arn: str | None = None,
    dry_run: bool = False,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    profile_name: str | None = None,
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
        client: An open aiobotocore S3 client (its owner closes it); default: one made like the manager's.
        endpoint_url, region_name, profile_name: Settings for the client made here.

    Raises:
        StorageError: the bucket does not exist, or a request was refused (e.g. missing s3:PutBucket* rights).

    Example:
        >>> await init_bucket("my-sessions", prefix="agents/", kms_key_arn=None)  # doctest: +SKIP
        [Change(setting='versioning', before='Suspended', after='Enabled'), ...]
    """
    prefix = normalise_prefix(prefix)
    connection = await _open(bucket, client, endpoint_url, region_name, profile_name)
    try:
        wanted = desired_settings(
            bucket,
            prefix=prefix,
            noncurrent_days=noncurrent_days,
            kms_key_arn=kms_key_arn,
            partition=connection.partition,
        )
        changes: list[Change] = []
        for step in (_public_access_block, _encryption, _versioning, _lifecycle, _policy):
            change = await step(connection.s3, bucket, wanted, dry_run)
            if change is not None:
                changes.append(change)
        return changes
    finally:
        for store in connection.owned:
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
    connection = await _open(bucket, client, endpoint_url, region_name, profile_name)
    try:
        s3 = connection.s3
        return {
            "versioning": await _get(s3.get_bucket_versioning, bucket),
            "encryption": await _get(s3.get_bucket_encryption, bucket),
            "public_access_block": await _get(s3.get_public_access_block, bucket),
            "lifecycle": await _get(s3.get_bucket_lifecycle_configuration, bucket),
            "policy": await _get(s3.get_bucket_policy, bucket),
        }
    finally:
        for store in connection.owned:
            await store.close()


# ------------------------------------------------------------------------------------------------ settings

_ABSENT_CODES = frozenset(
    {
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchLifecycleConfiguration",
        "NoSuchBucketPolicy",
    }
)


async def _open(
    bucket: str, client: Any, endpoint_url: str | None, region_name: str | None, profile_name: str | None
) -> _Client:
    if not isinstance(bucket, str) or not bucket:
        raise InvalidInput(f"invalid bucket name {bucket!r}")
    if client is not None:
        return _Client(client, _partition_of(client))
    from .storage.s3 import S3ObjectStore

    store = S3ObjectStore(bucket, endpoint_url=endpoint_url, region_name=region_name, profile_name=profile_name)
    s3 = await store.client()
    return _Client(s3, _partition_of(s3), [store])


def _partition_of(client: Any) -> str:
    partition = getattr(getattr(client, "meta", None), "partition", None)
    return partition if isinstance(partition, str) and partition else "aws"


async def _get(method: Any, bucket: str) -> dict[str, Any] | None:
    """Calls a GetBucket* method; None when the setting is absent."""
    from botocore.exceptions import ClientError

    try:
        response: dict[str, Any] = await method(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _ABSENT_CODES:
            return None
        raise _storage_error(exc, bucket) from exc
    response.pop("ResponseMetadata", None)
    return response


async def _put(method: Any, bucket: str, **kwargs: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        await method(Bucket=bucket, **kwargs)
    except ClientError as exc:
        raise _storage_error(exc, bucket) from exc


def _storage_error(exc: Any, bucket: str) -> StorageError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code == "NoSuchBucket":
        return StorageError(f"bucket {bucket!r} does not exist")
    operation = getattr(exc, "operation_name", "request")
    return StorageError(f"S3 {operation} on bucket {bucket!r} failed: {code} {error.get('Message', '')}".rstrip())


async def _public_access_block(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await _get(s3.get_public_access_block, bucket)
    now = dict((current or {}).get("PublicAccessBlockConfiguration") or {})
    if all(now.get(name) is True for name in wanted.public_access_block):
        return None
    if not dry_run:
        await _put(s3.put_public_access_block, bucket, PublicAccessBlockConfiguration=wanted.public_access_block)
    return Change("public access block", _flags(now) if current else "none", "all four blocks on")


def _flags(config: Mapping[str, Any]) -> str:
    on = sorted(name for name, value in config.items() if value is True)
    return ", ".join(on) + " on" if on else "all off"


def _encryption_summary(rules: Any) -> tuple[str | None, str | None, bool]:
    rule = (rules or [{}])[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    key = default.get("KMSMasterKeyID") if algorithm in ("aws:kms", "aws:kms:dsse") else None
    return algorithm, key, bool(rule.get("BucketKeyEnabled")) if key else False


def _describe_encryption(summary: tuple[str | None, str | None, bool]) -> str:
    algorithm, key, bucket_key = summary
    if algorithm is None:
        return "none"
    if algorithm == "AES256":
        return "SSE-S3 (AES256)"
    return f"SSE-KMS key {key or 'aws/s3'}" + (" with bucket key" if bucket_key else "")


async def _encryption(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await _get(s3.get_bucket_encryption, bucket)
    rules = ((current or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules")
    now = _encryption_summary(rules)
    goal = _encryption_summary([wanted.encryption])
    if now == goal:
        return None
    if not dry_run:
        await _put(s3.put_bucket_encryption, bucket, ServerSideEncryptionConfiguration={"Rules": [wanted.encryption]})
    return Change("default encryption", _describe_encryption(now), _describe_encryption(goal))


async def _versioning(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await _get(s3.get_bucket_versioning, bucket)
    status = (current or {}).get("Status") or "never enabled"
    if status == wanted.versioning["Status"]:
        return None
    if not dry_run:
        await _put(s3.put_bucket_versioning, bucket, VersioningConfiguration=wanted.versioning)
    return Change("versioning", status, wanted.versioning["Status"])


def _normal_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A lifecycle rule in a comparable shape (S3 may echo a legacy top-level Prefix or an empty Filter)."""
    normal = {key: value for key, value in rule.items() if key not in ("Prefix", "Filter")}
    rule_filter = dict(rule.get("Filter") or {})
    if not rule_filter:
        rule_filter = {"Prefix": rule.get("Prefix") or ""}
    normal["Filter"] = rule_filter
    return normal


async def _lifecycle(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await _get(s3.get_bucket_lifecycle_configuration, bucket)
    rules: list[dict[str, Any]] = list((current or {}).get("Rules") or [])
    ours = {rule["ID"]: rule for rule in wanted.lifecycle_rules}
    present = {rule.get("ID"): _normal_rule(rule) for rule in rules if rule.get("ID") in ours}
    if all(present.get(rule_id) == _normal_rule(rule) for rule_id, rule in ours.items()):
        return None
    kept = [rule for rule in rules if rule.get("ID") not in ours]
    if not dry_run:
        await _put(
            s3.put_bucket_lifecycle_configuration,
            bucket,
            LifecycleConfiguration={"Rules": [*kept, *wanted.lifecycle_rules]},
        )
    before = ", ".join(sorted(str(rule_id) for rule_id in present)) or "none of ours"
    if kept:
        before += f" (+{len(kept)} other rule(s), kept)"
    return Change("lifecycle rules", before, ", ".join(ours))


def _normal_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    normal = dict(statement)
    for key in ("Action", "Resource"):
        value = normal.get(key)
        if isinstance(value, str):
            normal[key] = [value]
        elif isinstance(value, list):
            normal[key] = sorted(value)
    if normal.get("Principal") == {"AWS": "*"}:
        normal["Principal"] = "*"
    return normal


async def _policy(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await _get(s3.get_bucket_policy, bucket)
    document: dict[str, Any] = json.loads(current["Policy"]) if current and current.get("Policy") else {}
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    ours = {statement["Sid"]: statement for statement in wanted.policy_statements}
    present = {s.get("Sid"): _normal_statement(s) for s in statements if s.get("Sid") in ours}
    if all(present.get(sid) == _normal_statement(statement) for sid, statement in ours.items()):
        return None
    kept = [statement for statement in statements if statement.get("Sid") not in ours]
    new_document = {"Version": document.get("Version", "2012-10-17"), "Statement": [*kept, *ours.values()]}
    if "Id" in document:
        new_document["Id"] = document["Id"]
    if not dry_run:
        await _put(s3.put_bucket_policy, bucket, Policy=json.dumps(new_document))
    before = (
        "no policy"
        if not document
        else f"{len(statements)} statement(s), TLS-only one " + ("outdated" if present else "missing")
    )
    return Change("bucket policy", before, f"{len(kept) + len(ours)} statement(s) incl. {', '.join(ours)}")


__all__ = [
    "BucketSettings",
    "Change",
    "agent_policy",
    "desired_settings",
    "init_bucket",
    "read_settings",
]
