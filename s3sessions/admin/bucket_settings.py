"""The S3 side of `s3sessions.admin.bucket`: one step per bucket setting, every request through the store.

`s3sessions.admin.bucket` is the public face (`init_bucket`, `create_bucket`, `read_settings`). Each step reads one
setting, compares it with the wanted one and, unless it is a dry run, puts it; it returns the `Change` made or
None. Every request goes through `S3ObjectStore.call`, the package's one request path and error translation (an
absent setting comes back as `ObjectMissing`); importing this module loads no AWS SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ObjectMissing
from ..storage.s3 import S3ObjectStore
from .bucket import BucketSettings, Change


async def open_store(
    bucket: str,
    client: Any,
    endpoint_url: str | None,
    region_name: str | None,
    profile_name: str | None,
    client_config: Mapping[str, Any] | None = None,
) -> S3ObjectStore:
    """Returns the store every bucket request goes through (``client``: the caller's own, left open)."""
    return S3ObjectStore(
        bucket,
        client=client,
        endpoint_url=endpoint_url,
        region_name=region_name,
        profile_name=profile_name,
        client_config=client_config,
    )


async def get_setting(store: S3ObjectStore, operation: str) -> dict[str, Any] | None:
    """Makes a GetBucket* request; None when the setting is absent."""
    try:
        response: dict[str, Any] = await store.call(operation)
    except ObjectMissing:
        return None
    response.pop("ResponseMetadata", None)
    return response


async def public_access_block_step(store: S3ObjectStore, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(store, "get_public_access_block")
    now = dict((current or {}).get("PublicAccessBlockConfiguration") or {})
    if all(now.get(name) is True for name in wanted.public_access_block):
        return None
    if not dry_run:
        await store.call("put_public_access_block", PublicAccessBlockConfiguration=wanted.public_access_block)
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


async def encryption_step(store: S3ObjectStore, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(store, "get_bucket_encryption")
    rules = ((current or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules")
    now = _encryption_summary(rules)
    goal = _encryption_summary([wanted.encryption])
    if now == goal:
        return None
    if not dry_run:
        await store.call("put_bucket_encryption", ServerSideEncryptionConfiguration={"Rules": [wanted.encryption]})
    return Change("default encryption", _describe_encryption(now), _describe_encryption(goal))


async def versioning_step(store: S3ObjectStore, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(store, "get_bucket_versioning")
    status = (current or {}).get("Status") or "never enabled"
    if status == wanted.versioning["Status"]:
        return None
    if not dry_run:
        await store.call("put_bucket_versioning", VersioningConfiguration=wanted.versioning)
    return Change("versioning", status, wanted.versioning["Status"])


def _normal_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A lifecycle rule in a comparable shape (S3 may echo a legacy top-level Prefix or an empty Filter)."""
    normal = {key: value for key, value in rule.items() if key not in ("Prefix", "Filter")}
    rule_filter = dict(rule.get("Filter") or {})
    if not rule_filter:
        rule_filter = {"Prefix": rule.get("Prefix") or ""}
    normal["Filter"] = rule_filter
    return normal


async def lifecycle_step(store: S3ObjectStore, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(store, "get_bucket_lifecycle_configuration")
    rules: list[dict[str, Any]] = list((current or {}).get("Rules") or [])
    ours = {rule["ID"]: rule for rule in wanted.lifecycle_rules}
    present = {rule.get("ID"): _normal_rule(rule) for rule in rules if rule.get("ID") in ours}
    if all(present.get(rule_id) == _normal_rule(rule) for rule_id, rule in ours.items()):
        return None
    kept = [rule for rule in rules if rule.get("ID") not in ours]
    if not dry_run:
        await store.call(
            "put_bucket_lifecycle_configuration",
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


async def policy_step(store: S3ObjectStore, wanted: BucketSettings, dry_run: bool) -> Change | None:
    current = await get_setting(store, "get_bucket_policy")
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
        await store.call("put_bucket_policy", Policy=json.dumps(new_document))
    before = (
        "no policy"
        if not document
        else f"{len(statements)} statement(s), TLS-only one " + ("outdated" if present else "missing")
    )
    return Change("bucket policy", before, f"{len(kept) + len(ours)} statement(s) incl. {', '.join(ours)}")


STEPS = (public_access_block_step, encryption_step, versioning_step, lifecycle_step, policy_step)
"""In order: public access is blocked first, so the bucket is never more open than before at any step."""
