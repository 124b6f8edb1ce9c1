"""The template through the real tools: cfn-lint, checkov, and aws-sam-translator then moto's CloudFormation.

The tools live in their own virtual environment (scripts/ci-infra.sh makes ``.venv-infra/``) because their pins
conflict with the library's dependencies. Missing tools skip locally and fail under ``CI=true``.

moto's CloudFormation ignores the SAM transform, so the template is translated offline first (a test copy with
an ``s3://`` CodeUri, as ``sam package`` would produce), then deployed. moto does not apply versioning, public
access block, lifecycle or ``AWS::S3::BucketPolicy`` from a stack, and it drops a function's Architectures
(test_infra_template.py checks those in the template, test_infra_bucket.py through the S3 API); it does apply
encryption, checked here.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from test_infra_support import ROOT, TEMPLATE, Resolver, function_policy, infra_tool, load_template

ARTIFACTS = "deploy-artifacts"
CODE_KEY = "lambda_agent.zip"
LAYER_KEY = "layer.zip"
STACK_BUCKET = "sessions-from-stack"


def run_tool(*command: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_cfn_lint_passes():
    result = run_tool(infra_tool("cfn-lint"), TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_reports_no_failed_check():
    result = run_tool(infra_tool("checkov"), "-f", TEMPLATE, "--skip-download", "--output", "json")
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]]
    assert summary["failed"] == 0 and not failed, failed
    assert summary["passed"] >= 10
    # Every skip in the template is used (so none is stale) and every skipped check is one the template justifies.
    skipped = {(check["check_id"], check["resource"].split(".")[-1]) for check in report["results"]["skipped_checks"]}
    declared = {
        (skip["id"], logical_id)
        for logical_id, resource in load_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert skipped == declared


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    """The template translated to plain CloudFormation by aws-sam-translator, with an s3:// CodeUri."""
    python = infra_tool("python")
    directory = tmp_path_factory.mktemp("sam")
    source = directory / "template.yaml"
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "CodeUri: ../examples/lambda_agent/" in text and "ContentUri: build/layer/" in text
    text = text.replace("CodeUri: ../examples/lambda_agent/", f"CodeUri: s3://{ARTIFACTS}/{CODE_KEY}")
    source.write_text(text.replace("ContentUri: build/layer/", f"ContentUri: s3://{ARTIFACTS}/{LAYER_KEY}"))
    output = directory / "template.json"
    result = run_tool(python, ROOT / "infra" / "sam_translate.py", source, output)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(output.read_text(encoding="utf-8"))


def test_translation_makes_plain_cloudformation(translated):
    resources = translated["Resources"]
    assert "Transform" not in translated
    assert {resource["Type"] for resource in resources.values()} == {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::IAM::Role",
    }
    function = resources["AgentFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": ARTIFACTS, "S3Key": CODE_KEY}
    assert function["Architectures"] == ["arm64"]
    (layer_id,) = [name for name, resource in resources.items() if resource["Type"] == "AWS::Lambda::LayerVersion"]
    assert function["Layers"] == [{"Ref": layer_id}]
    assert resources[layer_id]["Properties"]["Content"] == {"S3Bucket": ARTIFACTS, "S3Key": LAYER_KEY}
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    (inline,) = resources["AgentFunctionRole"]["Properties"]["Policies"]
    # The role's inline policy is exactly the template's function policy (same intrinsics, unresolved).
    assert inline["PolicyDocument"] == load_template()["Resources"]["AgentFunction"]["Properties"]["Policies"][0]
    assert resources["AgentFunctionRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    ] or resources["AgentFunctionRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]


@pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy:UserWarning")
def test_translated_template_deploys_into_moto_cloudformation(translated, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=ARTIFACTS)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.write(ROOT / "examples" / "lambda_agent" / "handler.py", "handler.py")
    s3.put_object(Bucket=ARTIFACTS, Key=CODE_KEY, Body=code.getvalue())
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:  # a stand-in: test_lambda_layer.py builds and runs the real one
        archive.writestr("python/s3sessions_layer_stand_in.py", "")
    s3.put_object(Bucket=ARTIFACTS, Key=LAYER_KEY, Body=layer.getvalue())
    cloudformation = boto3.client("cloudformation", endpoint_url=s3_endpoint, region_name="us-east-1")
    cloudformation.create_stack(
        StackName="s3sessions",
        TemplateBody=json.dumps(translated),
        Parameters=[
            {"ParameterKey": "BucketName", "ParameterValue": STACK_BUCKET},
            {"ParameterKey": "Prefix", "ParameterValue": "agents/"},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    deadline = time.monotonic() + 30
    while True:
        stack = cloudformation.describe_stacks(StackName="s3sessions")["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    assert outputs["BucketName"] == STACK_BUCKET

    function = boto3.client("lambda", endpoint_url=s3_endpoint, region_name="us-east-1").get_function(
        FunctionName=outputs["AgentFunctionName"]
    )["Configuration"]
    assert function["Runtime"] == "python3.14"
    # moto's CloudFormation drops Architectures (it reports x86_64); the translated template says arm64 (above).
    assert function["Handler"] == "handler.handler"
    assert function["Role"] == outputs["AgentFunctionRoleArn"]
    assert function["Environment"]["Variables"]["S3SESSIONS_BUCKET"] == STACK_BUCKET

    iam = boto3.client("iam", endpoint_url=s3_endpoint, region_name="us-east-1")
    role_name = outputs["AgentFunctionRoleArn"].rsplit("/", 1)[1]
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == outputs["AgentFunctionRoleArn"]
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):  # moto's CloudFormation stores the dict's Python repr, not JSON
        document = ast.literal_eval(document)
    # moto leaves AWS::NoValue in a list as None (CloudFormation removes the element): the KMS statement here.
    document["Statement"] = [statement for statement in document["Statement"] if statement is not None]
    expected = function_policy(Resolver(load_template(), {"BucketName": STACK_BUCKET, "Prefix": "agents/"}))
    assert document == expected

    (rule,) = s3.get_bucket_encryption(Bucket=STACK_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
