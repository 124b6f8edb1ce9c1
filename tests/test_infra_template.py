"""infra/template.yaml read as data: every bucket setting the issue asks for, and agreement with `bucket init`."""

from __future__ import annotations

import pytest
from test_infra_support import (
    BUCKET_NAME,
    TEMPLATE,
    Resolver,
    bucket_settings_from_template,
    function_policy,
    load_template,
)

from s3sessions.admin.bucket import KMS_ACTIONS, agent_policy, desired_settings

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PARAMETER_SETS = [
    pytest.param({}, id="defaults"),
    pytest.param({"Prefix": "", "NoncurrentDays": "7", "KmsKeyArn": KEY, "BucketName": "mine"}, id="kms-no-prefix"),
    pytest.param({"Prefix": "team/agents/", "NoncurrentDays": "365"}, id="nested-prefix"),
]


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_parameters_are_bucket_name_prefix_retention_kms_key_and_reserved_concurrency(template):
    parameters = template["Parameters"]
    assert set(parameters) == {"BucketName", "Prefix", "NoncurrentDays", "KmsKeyArn", "ReservedConcurrency"}
    assert parameters["NoncurrentDays"]["Type"] == "Number"
    assert parameters["NoncurrentDays"]["MinValue"] >= 1
    assert parameters["KmsKeyArn"]["Default"] == ""
    assert parameters["ReservedConcurrency"]["Type"] == "Number"
    assert parameters["ReservedConcurrency"]["Default"] == 0  # off: new accounts' quotas refuse a reservation
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def test_bucket_declares_every_setting(template):
    resolver = Resolver(template)
    bucket = resolver.resource("SessionBucket")
    properties = bucket["Properties"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["DeletionPolicy"] == "Retain"  # deleting the stack never deletes the sessions
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = properties["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" and rule["Prefix"] == "agents/" for rule in rules)
    assert [rule["NoncurrentVersionExpiration"] for rule in rules if "NoncurrentVersionExpiration" in rule] == [
        {"NoncurrentDays": 30}
    ]
    assert [rule["AbortIncompleteMultipartUpload"] for rule in rules if "AbortIncompleteMultipartUpload" in rule] == [
        {"DaysAfterInitiation": 1}
    ]
    policy = resolver.resource("SessionBucketPolicy")
    assert policy["Type"] == "AWS::S3::BucketPolicy"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    arn = f"arn:aws:s3:::{BUCKET_NAME}"
    assert sorted(statement["Resource"]) == [arn, f"{arn}/*"]


def test_kms_key_switches_default_encryption_to_sse_kms(template):
    properties = Resolver(template, {"KmsKeyArn": KEY}).resource("SessionBucket")["Properties"]
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY}, "BucketKeyEnabled": True}
    ]


@pytest.mark.parametrize("parameters", PARAMETER_SETS)
def test_template_and_bucket_init_agree_setting_by_setting(template, parameters):
    resolver = Resolver(template, parameters)
    declared = bucket_settings_from_template(resolver)
    wanted = desired_settings(
        resolver.physical["SessionBucket"],
        prefix=resolver.parameters["Prefix"],
        noncurrent_days=int(resolver.parameters["NoncurrentDays"]),
        kms_key_arn=resolver.parameters["KmsKeyArn"] or None,
    )
    assert declared.versioning == wanted.versioning
    assert declared.encryption == wanted.encryption
    assert declared.public_access_block == wanted.public_access_block
    assert declared.lifecycle_rules == wanted.lifecycle_rules
    assert declared.policy_statements == wanted.policy_statements
    assert declared == wanted  # and nothing else differs


@pytest.mark.parametrize("parameters", PARAMETER_SETS)
def test_function_policy_is_the_library_agent_policy(template, parameters):
    resolver = Resolver(template, parameters)
    expected = agent_policy(
        resolver.physical["SessionBucket"],
        prefix=resolver.parameters["Prefix"],
        kms_key_arn=resolver.parameters["KmsKeyArn"] or None,
    )
    assert function_policy(resolver) == expected
    kms_statements = [s for s in expected["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    if resolver.parameters["KmsKeyArn"]:
        assert [(sorted(s["Action"]), s["Resource"]) for s in kms_statements] == [(sorted(KMS_ACTIONS), KEY)]
    else:
        assert kms_statements == []


def test_function_is_current_python_on_arm64_configured_from_the_stack(template):
    function = Resolver(template).resource("AgentFunction")
    properties = function["Properties"]
    assert function["Type"] == "AWS::Serverless::Function"
    assert properties["Runtime"] == "python3.14"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "handler.handler"
    assert properties["CodeUri"] == "../examples/lambda_agent/"
    assert properties["Environment"]["Variables"] == {
        "S3SESSIONS_BUCKET": BUCKET_NAME,
        "S3SESSIONS_PREFIX": "agents/",
        "S3SESSIONS_KMS_KEY_ID": "",
    }
    assert set(properties) & {"Role", "Policies"} == {"Policies"}  # the only permissions are the ones tested
    assert "ReservedConcurrentExecutions" not in properties  # by default nothing is reserved
    assert properties["Layers"] == [Resolver(template).physical["SessionsLayer"]]  # the library comes from the layer


def test_reserved_concurrency_is_set_only_when_asked(template):
    function = Resolver(template, {"ReservedConcurrency": "25"}).resource("AgentFunction")
    assert function["Properties"]["ReservedConcurrentExecutions"] == "25"


def test_the_layer_is_the_one_build_layer_py_makes(template):
    from build_layer import DEFAULT_OUTPUT, PLATFORMS, PYTHON_VERSION  # infra/ is on sys.path (test_infra_support)

    layer = Resolver(template).resource("SessionsLayer")
    properties = layer["Properties"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert (TEMPLATE.parent / properties["ContentUri"]).resolve() == DEFAULT_OUTPUT.resolve()
    function = Resolver(template).resource("AgentFunction")["Properties"]
    assert properties["CompatibleRuntimes"] == [function["Runtime"]] == [f"python{PYTHON_VERSION}"]
    assert properties["CompatibleArchitectures"] == function["Architectures"] == ["arm64"]
    assert all(platform.endswith("_aarch64") for platform in PLATFORMS)


def test_every_checkov_skip_is_justified(template):
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_"), logical_id
            assert len(skip.get("comment", "").split()) >= 8, f"{logical_id} skips {skip['id']} without a reason"
