"""Helpers for the infrastructure tests (no tests here): the template, a resolver for its intrinsics, the tools.

The resolver evaluates the handful of CloudFormation intrinsics the template uses (Ref, Fn::Sub, Fn::GetAtt,
Fn::If, Fn::Equals, Fn::Not, Fn::Join, conditions) for given parameter values, the way CloudFormation would,
so that a test can compare what the template declares with what `s3sessions.bucket` computes.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3sessions.admin.bucket import BucketSettings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
sys.path.insert(0, str(ROOT / "infra"))
from cfn_yaml import cfn_loader  # noqa: E402 - infra/ is not a package; sam_translate.py shares this loader

BUCKET_NAME = "session-bucket-under-test"
_NO_VALUE = object()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def infra_venv() -> Path:
    configured = Path(os.environ.get("S3SESSIONS_INFRA_VENV", ".venv-infra"))
    return configured if configured.is_absolute() else ROOT / configured


def infra_tool(name: str) -> Path:
    """Returns a tool of the infrastructure venv; skips locally, fails under CI, when it is missing."""
    path = infra_venv() / "bin" / name
    if not path.exists():
        message = f"{name} is not installed in {infra_venv()}: run scripts/ci-infra.sh"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """Returns the template with short-form intrinsics (``!Ref``) turned into their long form."""
    loaded: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=cfn_loader())
    return loaded


class Resolver:
    """Evaluates a template's intrinsics for given parameter values (defaults for the rest)."""

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, Any] | None = None,
        *,
        bucket_name: str = BUCKET_NAME,
        partition: str = "aws",
    ) -> None:
        self.template = template
        self.parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        self.parameters.update(parameters or {})
        self.pseudo = {"AWS::Partition": partition, "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
        name = self.parameters.get("BucketName") or bucket_name
        self.physical = {
            "SessionBucket": name,
            "SessionBucket.Arn": f"arn:{partition}:s3:::{name}",
            "SessionsLayer": f"arn:{partition}:lambda:us-east-1:123456789012:layer:SessionsLayer:1",
        }
        self.conditions = {
            condition: self.resolve(expression) for condition, expression in template.get("Conditions", {}).items()
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::GetAtt":
                return self.physical[".".join(argument)]
            if key == "Fn::If":
                condition, then, otherwise = argument
                return self.resolve(then if self.conditions[condition] else otherwise)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(argument[0])
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Condition":
                return self.conditions[argument]
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                return str(self.physical[name])
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resource(self, logical_id: str) -> dict[str, Any]:
        resolved: dict[str, Any] = self.resolve(self.template["Resources"][logical_id])
        return resolved


def bucket_settings_from_template(resolver: Resolver) -> BucketSettings:
    """Translates the template's bucket and bucket policy to the S3 API shapes of `BucketSettings`."""
    bucket = resolver.resource("SessionBucket")["Properties"]
    policy = resolver.resource("SessionBucketPolicy")["Properties"]
    (encryption_rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    encryption: dict[str, Any] = {
        "ApplyServerSideEncryptionByDefault": encryption_rule["ServerSideEncryptionByDefault"]
    }
    if "BucketKeyEnabled" in encryption_rule:
        encryption["BucketKeyEnabled"] = encryption_rule["BucketKeyEnabled"]
    rules = []
    for rule in bucket["LifecycleConfiguration"]["Rules"]:
        converted: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule["Prefix"]}}
        if "NoncurrentVersionExpiration" in rule:
            days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        if "AbortIncompleteMultipartUpload" in rule:
            days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
            converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
        unknown = set(rule) - {
            "Id",
            "Status",
            "Prefix",
            "NoncurrentVersionExpiration",
            "AbortIncompleteMultipartUpload",
        }
        assert not unknown, f"lifecycle rule {rule['Id']} has settings the comparison does not cover: {unknown}"
        rules.append(converted)
    assert policy["Bucket"] == resolver.physical["SessionBucket"]
    return BucketSettings(
        versioning=dict(bucket["VersioningConfiguration"]),
        encryption=encryption,
        public_access_block=dict(bucket["PublicAccessBlockConfiguration"]),
        lifecycle_rules=rules,
        policy_statements=list(policy["PolicyDocument"]["Statement"]),
    )


def function_policy(resolver: Resolver) -> dict[str, Any]:
    """The agent function's (only) inline policy document, resolved."""
    (document,) = resolver.resource("AgentFunction")["Properties"]["Policies"]
    return dict(document)
