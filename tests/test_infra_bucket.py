"""`init_bucket` and ``s3sessions bucket init`` on a moto bucket, checked through the S3 API."""

from __future__ import annotations

import json

import boto3
import click
import pytest
from click.testing import CliRunner
from conftest import BUCKET
from test_infra_support import in_ci

from s3sessions.admin.bucket import (
    MULTIPART_RULE_ID,
    NONCURRENT_RULE_ID,
    TLS_STATEMENT_SID,
    agent_policy,
    desired_settings,
    init_bucket,
    is_plain_http,
)
from s3sessions.cli.bucket import bucket as bucket_command
from s3sessions.errors import InvalidInput, StorageError

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FOREIGN_RULE = {"ID": "someone-elses", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}
FOREIGN_STATEMENT = {
    "Sid": "SomeoneElses",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/public/*",
}


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def assert_session_bucket(s3, *, prefix: str, days: int, key: str | None = None, tls: bool = True) -> None:
    """Reads every setting back through the S3 API (``tls``: the TLS-only statement, which plain HTTP omits)."""
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    if key:
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
        assert rule["BucketKeyEnabled"] is True
    else:
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    noncurrent, multipart = rules[NONCURRENT_RULE_ID], rules[MULTIPART_RULE_ID]
    assert noncurrent["Status"] == multipart["Status"] == "Enabled"
    assert noncurrent["Filter"] == multipart["Filter"] == {"Prefix": prefix}
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == days
    assert multipart["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    if not tls:
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=BUCKET)
        return
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    statement = statements[TLS_STATEMENT_SID]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]


async def test_init_applies_every_setting_then_changes_nothing(s3, s3_endpoint):
    # moto's endpoint is plain HTTP, where init leaves the TLS-only statement out unless told (see below).
    changes = await init_bucket(BUCKET, prefix="agents", noncurrent_days=14, tls_only=True, endpoint_url=s3_endpoint)
    changed = {change.setting for change in changes}
    assert {"versioning", "public access block", "lifecycle rules", "bucket policy"} <= changed
    assert all(str(change).startswith(f"{change.setting}: ") for change in changes)
    assert_session_bucket(s3, prefix="agents/", days=14)
    again = await init_bucket(BUCKET, prefix="agents/", noncurrent_days=14, tls_only=True, endpoint_url=s3_endpoint)
    assert again == []


async def test_init_with_kms_key(s3, s3_endpoint):
    changes = await init_bucket(BUCKET, kms_key_arn=KEY, endpoint_url=s3_endpoint)
    assert "default encryption" in {change.setting for change in changes}
    assert_session_bucket(s3, prefix="", days=30, key=KEY, tls=False)
    assert await init_bucket(BUCKET, kms_key_arn=KEY, endpoint_url=s3_endpoint) == []
    # Back to SSE-S3 is a change too.
    (change,) = await init_bucket(BUCKET, endpoint_url=s3_endpoint)
    assert change.setting == "default encryption"
    assert_session_bucket(s3, prefix="", days=30, tls=False)


async def test_init_keeps_other_rules_and_statements_and_updates_its_own(s3, s3_endpoint):
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [FOREIGN_RULE]})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [FOREIGN_STATEMENT]}))
    await init_bucket(BUCKET, prefix="a/", tls_only=True, endpoint_url=s3_endpoint)
    changes = await init_bucket(BUCKET, prefix="a/", noncurrent_days=90, tls_only=True, endpoint_url=s3_endpoint)
    assert [change.setting for change in changes] == ["lifecycle rules"]
    assert_session_bucket(s3, prefix="a/", days=90)
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert rules["someone-elses"]["Expiration"] == {"Days": 3}
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert set(statements) == {"SomeoneElses", TLS_STATEMENT_SID}


async def test_tls_only_policy_refuses_plain_http(s3, s3_endpoint):
    """moto evaluates the bucket policy's aws:SecureTransport condition, and its endpoint is plain HTTP."""
    s3.put_object(Bucket=BUCKET, Key="agents/before", Body=b"x")
    await init_bucket(BUCKET, prefix="agents/", tls_only=True, endpoint_url=s3_endpoint)
    with pytest.raises(s3.exceptions.ClientError, match="403"):
        s3.put_object(Bucket=BUCKET, Key="agents/after", Body=b"x")


async def test_plain_http_endpoint_gets_no_tls_statement_and_one_warning(s3, s3_endpoint):
    warnings: list[str] = []
    planned = await init_bucket(BUCKET, prefix="agents/", dry_run=True, warn=warnings.append, endpoint_url=s3_endpoint)
    assert "bucket policy" not in {change.setting for change in planned}
    changes = await init_bucket(BUCKET, prefix="agents/", warn=warnings.append, endpoint_url=s3_endpoint)
    assert [change.setting for change in changes] == [change.setting for change in planned]
    assert [warning.split(":", 2)[2].split(" out ")[0] for warning in warnings] == [
        f"{s3_endpoint.split(':')[2]} is plain HTTP: would leave",
        f"{s3_endpoint.split(':')[2]} is plain HTTP: left",
    ]
    assert_session_bucket(s3, prefix="agents/", days=30, tls=False)
    s3.put_object(Bucket=BUCKET, Key="agents/after", Body=b"x")  # not locked out


def test_the_tls_statement_is_left_out_only_when_asked():
    assert desired_settings("b", tls_only=False).policy_statements == []
    assert [s["Sid"] for s in desired_settings("b").policy_statements] == [TLS_STATEMENT_SID]
    assert is_plain_http("http://127.0.0.1:5000") and is_plain_http("HTTP://localhost")
    assert not is_plain_http("https://s3.amazonaws.com") and not is_plain_http(None)


async def test_dry_run_reports_without_changing(s3, s3_endpoint):
    changes = await init_bucket(BUCKET, dry_run=True, tls_only=True, endpoint_url=s3_endpoint)
    assert {"versioning", "public access block", "lifecycle rules", "bucket policy"} <= {c.setting for c in changes}
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=BUCKET)


async def test_missing_bucket_and_bad_input_are_library_errors(s3_endpoint):
    with pytest.raises(StorageError, match="does not exist"):
        await init_bucket("no-such-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(InvalidInput):
        await init_bucket(BUCKET, noncurrent_days=0, endpoint_url=s3_endpoint)
    with pytest.raises(InvalidInput):
        await init_bucket(BUCKET, prefix="/abs", endpoint_url=s3_endpoint)


def test_cli_init_prints_changes_then_nothing(s3, s3_endpoint):
    runner = CliRunner()
    arguments = ["init", "--bucket", BUCKET, "--prefix", "agents/", "--endpoint-url", s3_endpoint]
    first = runner.invoke(bucket_command, [*arguments, "--noncurrent-days", "10"])
    assert first.exit_code == 0, first.output
    assert "changed versioning: never enabled -> Enabled" in first.stdout
    assert "changed bucket policy" not in first.stdout and "is plain HTTP: left out" in first.stderr
    assert_session_bucket(s3, prefix="agents/", days=10, tls=False)
    second = runner.invoke(bucket_command, [*arguments, "--noncurrent-days", "10", "--json"])
    assert second.exit_code == 0, second.output
    document = json.loads(second.stdout)
    assert document.pop("warnings")[0].startswith(f"{s3_endpoint} is plain HTTP")
    assert document == {"bucket": BUCKET, "dry_run": False, "changes": []}
    third = runner.invoke(bucket_command, [*arguments, "--noncurrent-days", "10"])
    assert "nothing changed" in third.output


def test_cli_errors_are_one_line(s3_endpoint):
    result = CliRunner().invoke(bucket_command, ["init", "--bucket", "no-such-bucket", "--endpoint-url", s3_endpoint])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "does not exist" in result.output
    result = CliRunner().invoke(bucket_command, ["init"])
    assert result.exit_code == 2 and "no bucket" in result.output


def test_cli_policy_prints_the_agent_policy():
    result = CliRunner().invoke(bucket_command, ["policy", "--bucket", BUCKET, "--prefix", "p/", "--kms-key-arn", KEY])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == agent_policy(BUCKET, prefix="p/", kms_key_arn=KEY)


def test_every_command_has_help():
    assert bucket_command.help
    for command in bucket_command.commands.values():
        assert command.help, command.name
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"{command.name} {parameter.name}"
            else:  # an argument is explained in the command's help
                assert parameter.human_readable_name in command.help, f"{command.name} {parameter.name}"


def test_bucket_group_is_registered_in_the_console_script():
    from s3sessions.cli import cli

    if "bucket" not in cli.commands:
        message = "`s3sessions bucket` is not registered: cli.add_command(bucket) in s3sessions/cli/__init__.py"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    result = CliRunner().invoke(cli, ["bucket", "policy", "--bucket", BUCKET])
    assert result.exit_code == 0, result.output
