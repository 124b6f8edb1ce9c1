"""The S3 side of `s3sessions.bucket`: one client, one Get/Put wrapper, and one step per bucket setting.

Private: `s3sessions.bucket` is the public face (`init_bucket`, `create_bucket`, `read_settings`). Each step reads
one setting, compares it with the wanted one and, unless it is a dry run, puts it; it returns the `Change` made
or None. AWS SDK modules are imported inside the functions, so importing this module loads none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .bucket import BucketSettings, Change
from .errors import StorageError


@dataclass
class Client:
    """An S3 client plus the partition its ARNs live in, and the stores to close afterwards."""

    s3: Any
    partition: str = "aws"
    owned: list[Any] = field(default_factory=list)

    @property
    def endpoint_url(self) -> str:
        """The endpoint the client sends requests to (``https://s3.<region>.amazonaws.com`` on AWS)."""
        url = getattr(getattr(self.s3, "meta", None), "endpoint_url", None)
        return url if isinstance(url, str) else ""

    @property
    def region_name(self) -> str:
        region = getattr(getattr(self.s3, "meta", None), "region_name", None)
        return region if isinstance(region, str) and region else "us-east-1"

    async def close(self) -> None:
        for store in self.owned:
            await store.close()


_ABSENT_CODES = frozenset(
    {
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchLifecycleConfiguration",
        "NoSuchBucketPolicy",
    }
)


async def open_client(
    bucket: str,
    client: Any,
    endpoint_url: str | None,
    region_name: str | None,
    profile_name: str | None,
    client_config: Mapping[str, Any] | None = None,
) -> Client:
    """Returns the given client, or one made like the manager's (closed by `Client.close`)."""
    if client is not None:
        return Client(client, _partition_of(client))
    from .storage.s3 import S3ObjectStore

    store = S3ObjectStore(
        bucket,
        endpoint_url=endpoint_url,
        region_name=region_name,
        profile_name=profile_name,
        client_config=client_config,
    )
    s3 = await store.client()
    return Client(s3, _partition_of(s3), [store])


def _partition_of(client: Any) -> str:
    partition = getattr(getattr(client, "meta", None), "partition", None)
    return partition if isinstance(partition, str) and partition else "aws"


async def get_setting(method: Any, bucket: str) -> dict[str, Any] | None:
    """Calls a GetBucket* method; None when the setting is absent."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response: dict[str, Any] = await method(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _ABSENT_CODES:
            return None
        raise storage_error(exc, bucket) from exc
    except (BotoCoreError, OSError) as exc:
        raise StorageError(f"S3 request on bucket {bucket!r} failed: {exc}") from exc
    response.pop("ResponseMetadata", None)
    return response


async def put_setting(method: Any, bucket: str, **kwargs: Any) -> None:
    """Calls a PutBucket* (or CreateBucket) method, translating its errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        await method(Bucket=bucket, **kwargs)
    except ClientError as exc:
        raise storage_error(exc, bucket) from exc
    except (BotoCoreError, OSError) as exc:
        raise StorageError(f"S3 request on bucket {bucket!r} failed: {exc}") from exc


def error_code(exc: Any) -> str:
    """The S3 error code of a botocore ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def storage_error(exc: Any, bucket: str) -> StorageError:
    """Turns a ClientError into a one-line StorageError naming the bucket."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code == "NoSuchBucket":
        return StorageError(f"bucket {bucket!r} does not exist")
    if code == "BucketAlreadyExists":
        return StorageError(f"bucket name {bucket!r} is taken by another AWS account (names are global): pick another")
    operation = getattr(exc, "operation_name", "request")
    return StorageError(f"S3 {operation} on bucket {bucket!r} failed: {code} {error.get('Message', '')}".rstrip())


async def public_access_block_step(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(s3.get_public_access_block, bucket)
    now = dict((current or {}).get("PublicAccessBlockConfiguration") or {})
    if all(now.get(name) is True for name in wanted.public_access_block):
        return None
    if not dry_run:
        await put_setting(s3.put_public_access_block, bucket, PublicAccessBlockConfiguration=wanted.public_access_block)
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


async def encryption_step(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(s3.get_bucket_encryption, bucket)
    rules = ((current or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules")
    now = _encryption_summary(rules)
    goal = _encryption_summary([wanted.encryption])
    if now == goal:
        return None
    if not dry_run:
        await put_setting(
            s3.put_bucket_encryption, bucket, ServerSideEncryptionConfiguration={"Rules": [wanted.encryption]}
        )
    return Change("default encryption", _describe_encryption(now), _describe_encryption(goal))


async def versioning_step(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(s3.get_bucket_versioning, bucket)
    status = (current or {}).get("Status") or "never enabled"
    if status == wanted.versioning["Status"]:
        return None
    if not dry_run:
        await put_setting(s3.put_bucket_versioning, bucket, VersioningConfiguration=wanted.versioning)
    return Change("versioning", status, wanted.versioning["Status"])


def _normal_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A lifecycle rule in a comparable shape (S3 may echo a legacy top-level Prefix or an empty Filter)."""
    normal = {key: value for key, value in rule.items() if key not in ("Prefix", "Filter")}
    rule_filter = dict(rule.get("Filter") or {})
    if not rule_filter:
        rule_filter = {"Prefix": rule.get("Prefix") or ""}
    normal["Filter"] = rule_filter
    return normal


async def lifecycle_step(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(s3.get_bucket_lifecycle_configuration, bucket)
    rules: list[dict[str, Any]] = list((current or {}).get("Rules") or [])
    ours = {rule["ID"]: rule for rule in wanted.lifecycle_rules}
    present = {rule.get("ID"): _normal_rule(rule) for rule in rules if rule.get("ID") in ours}
    if all(present.get(rule_id) == _normal_rule(rule) for rule_id, rule in ours.items()):
        return None
    kept = [rule for rule in rules if rule.get("ID") not in ours]
    if not dry_run:
        await put_setting(
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


async def policy_step(s3: Any, bucket: str, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(s3.get_bucket_policy, bucket)
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
        await put_setting(s3.put_bucket_policy, bucket, Policy=json.dumps(new_document))
    before = (
        "no policy"
        if not document
        else f"{len(statements)} statement(s), TLS-only one " + ("outdated" if present else "missing")
    )
    return Change("bucket policy", before, f"{len(kept) + len(ours)} statement(s) incl. {', '.join(ours)}")


STEPS = (public_access_block_step, encryption_step, versioning_step, lifecycle_step, policy_step)
"""In order: public access is blocked first, so the bucket is never more open than before at any step."""
