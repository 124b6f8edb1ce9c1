"""Least privilege, measured: the IAM actions the library's S3 requests need equal the template's policy.

Every public manager operation is driven against a moto bucket set up by `init_bucket` (versioned, as the
template makes it), with small tail/segment bounds so that segments are written, read, copied and deleted. A
botocore hook records each request's operation and parameters; each request is mapped to the IAM actions it
needs (per the Service Authorization Reference for Amazon S3), and checked against the policy as IAM would:
action, resource (``{prefix}*``) and the ``s3:prefix`` condition of list requests.
"""

from __future__ import annotations

import fnmatch
import urllib.parse
from typing import Any

import pytest
from conftest import BUCKET
from test_infra_support import Resolver, function_policy, load_template

from s3sessions import S3SessionManager, Session, SessionMetadata
from s3sessions.admin.bucket import agent_policy, init_bucket

PREFIX = "agents/"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def required_actions(operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one S3 request needs (the Service Authorization Reference's mapping)."""
    versioned = bool(params.get("VersionId"))
    if operation in ("GetObject", "HeadObject"):  # HeadObject is authorised as s3:GetObject
        return {"s3:GetObjectVersion" if versioned else "s3:GetObject"}
    if operation in ("PutObject",):
        return {"s3:PutObject"}
    if operation == "CopyObject":  # read the source, write the destination
        source_versioned = copy_source(params)[2] is not None
        return {"s3:GetObjectVersion" if source_versioned else "s3:GetObject", "s3:PutObject"}
    if operation == "DeleteObject":
        return {"s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"}
    if operation == "DeleteObjects":  # checked per object
        objects = params["Delete"]["Objects"]
        return {"s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject" for item in objects}
    if operation == "ListObjectsV2":
        return {"s3:ListBucket"}
    if operation == "ListObjectVersions":
        return {"s3:ListBucketVersions"}
    raise AssertionError(f"the library made a request this test cannot map to IAM actions: {operation}")


def copy_source(params: dict[str, Any]) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of a CopyObject's source, a dict or botocore's ``bucket/key?versionId=`` form."""
    source = params["CopySource"]
    if isinstance(source, dict):
        return source["Bucket"], source["Key"], source.get("VersionId")
    path, _, query = source.partition("?versionId=")
    bucket, _, key = urllib.parse.unquote(path).partition("/")
    return bucket, key, query or None


def resources(operation: str, params: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(resource ARN, s3:prefix) pairs a request is authorised against."""
    bucket_arn = f"arn:aws:s3:::{params['Bucket']}"
    if operation in ("ListObjectsV2", "ListObjectVersions"):
        return [(bucket_arn, params.get("Prefix", ""))]
    if operation == "DeleteObjects":
        return [(f"{bucket_arn}/{item['Key']}", None) for item in params["Delete"]["Objects"]]
    if operation == "CopyObject":
        source_bucket, source_key, _ = copy_source(params)
        return [(f"arn:aws:s3:::{source_bucket}/{source_key}", None), (f"{bucket_arn}/{params['Key']}", None)]
    return [(f"{bucket_arn}/{params['Key']}", None)]


def allows(policy: dict[str, Any], action: str, resource: str, prefix: str | None) -> bool:
    """A minimal IAM evaluation of Allow statements (no Deny in an agent policy): action, resource, s3:prefix."""
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        patterns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] != "Allow" or action not in actions:
            continue
        if not any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns):
            continue
        condition = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if condition is not None and (prefix is None or not fnmatch.fnmatchcase(prefix, condition)):
            continue
        return True
    return False


class Recorder:
    """Records (operation, parameters) of every S3 request through botocore's ``before-parameter-build``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.append((model.name, dict(params)))


async def drive_every_operation(manager: S3SessionManager) -> None:
    """Create, save with segments, resume, list, fork, rewind, tag, rename, reindex and delete."""
    session = Session(metadata=SessionMetadata(agent_name="iam", name="measured"))
    for turn in range(6):
        session.messages.append({"role": "user", "content": f"question {turn} " + "context " * 150})
        session.messages.append({"role": "assistant", "content": f"answer {turn} " + "reasoning " * 150})
        await manager.save(session)
    assert len(session.model_dump_json()) > 8 * 2048  # so the history cannot fit the small inline tail
    resumed = await manager.resume(session.id)
    assert resumed.messages == session.messages
    assert [metadata.id for metadata in await manager.list()] == [session.id]
    fork = await manager.fork(session.id, "fork")
    await manager.rewind(fork.id, 1)
    await manager.tag(session.id, ["measured"])
    await manager.rename(session.id, "renamed")
    rebuilt = Session.model_validate((await manager.resume(session.id)).model_dump())  # save re-reads the head
    rebuilt.messages.append({"role": "user", "content": "one more"})
    await manager.save(rebuilt)
    assert await manager.reindex() == 2
    await manager.delete(fork.id)
    await manager.delete(session.id)
    assert await manager.list() == []


@pytest.fixture
async def measured(s3_endpoint):
    """Every request the library made while driving every operation on a bucket `init_bucket` prepared."""
    # moto's endpoint is plain HTTP, so init leaves out the TLS-only statement (which moto would enforce);
    # test_infra_bucket.py checks that the statement refuses plain HTTP when it is there.
    await init_bucket(BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint, warn=lambda _: None)
    recorder = Recorder()
    async with S3SessionManager(
        bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint, tail_bytes=2048, segment_bytes=4096, fanout=4
    ) as manager:
        client = await manager.store.client()  # type: ignore[attr-defined]
        client.meta.events.register("before-parameter-build.s3", recorder)
        await drive_every_operation(manager)
    return recorder.requests


async def test_actions_used_equal_the_policy_actions(measured):
    operations = {operation for operation, _ in measured}
    assert {"PutObject", "GetObject", "CopyObject", "DeleteObject", "ListObjectVersions", "DeleteObjects"} <= operations
    assert "ListObjectsV2" in operations  # reindex
    used = set().union(*(required_actions(operation, params) for operation, params in measured))

    declared = function_policy(Resolver(load_template(), {"Prefix": PREFIX, "BucketName": BUCKET}))
    declared_actions = {action for statement in declared["Statement"] for action in statement["Action"]}
    library_actions = {action for s in agent_policy(BUCKET, prefix=PREFIX)["Statement"] for action in s["Action"]}
    assert used - declared_actions == set(), "the policy lacks actions the library uses"
    assert declared_actions - used == set(), "the policy grants actions the library never uses"
    assert library_actions == declared_actions


async def test_every_request_is_allowed_under_the_prefix_only(measured):
    policy = function_policy(Resolver(load_template(), {"Prefix": PREFIX, "BucketName": BUCKET}))
    for operation, params in measured:
        for resource, list_prefix in resources(operation, params):
            key = resource.split(":::", 1)[1].partition("/")[2]
            assert key.startswith(PREFIX) or (list_prefix or "").startswith(PREFIX), (operation, resource)
            for action in required_actions(operation, params):
                assert allows(policy, action, resource, list_prefix), (operation, action, resource, list_prefix)
    # And the policy denies (by not allowing) the same requests one level up, outside the prefix.
    assert not allows(policy, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/other/sessions/x", None)
    assert not allows(policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}", "")
    assert not allows(policy, "s3:ListBucketVersions", f"arn:aws:s3:::{BUCKET}", "other/")


async def test_kms_requests_use_the_key_the_policy_allows(s3_endpoint):
    """With a key, every write names it (S3 then calls kms:GenerateDataKey, reads kms:Decrypt, as the caller)."""
    recorder = Recorder()
    async with S3SessionManager(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3_endpoint, kms_key_id=KEY) as manager:
        client = await manager.store.client()  # type: ignore[attr-defined]
        client.meta.events.register("before-parameter-build.s3", recorder)
        session = Session()
        session.messages.append({"role": "user", "content": "hi"})
        await manager.save(session)
        await manager.fork(session.id)
    writes = [params for operation, params in recorder.requests if operation in ("PutObject", "CopyObject")]
    assert writes and all(p["ServerSideEncryption"] == "aws:kms" and p["SSEKMSKeyId"] == KEY for p in writes)
    policy = function_policy(Resolver(load_template(), {"Prefix": PREFIX, "BucketName": BUCKET, "KmsKeyArn": KEY}))
    (kms,) = [s for s in policy["Statement"] if s["Resource"] == KEY]
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
