"""Every S3 request of the package goes through one place: `S3ObjectStore.call` (s3sessions/storage/s3.py).

No other module may import botocore, aiobotocore, aioboto3 or boto3, or call an S3 client's methods: error
translation, retries and logging then live in one table, and a new module cannot quietly grow its own.
"""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "s3sessions"
THE_REQUEST_PATH = PACKAGE / "storage" / "s3.py"
SDK_PACKAGES = ("boto3", "botocore", "aioboto3", "aiobotocore")
CLIENT_METHODS = frozenset(
    {
        "get_object",
        "put_object",
        "head_object",
        "copy_object",
        "delete_object",
        "delete_objects",
        "list_objects_v2",
        "list_object_versions",
        "get_paginator",
        "create_bucket",
        "head_bucket",
        "get_bucket_versioning",
        "put_bucket_versioning",
        "put_bucket_policy",
        "get_bucket_policy",
        "put_bucket_lifecycle_configuration",
        "put_bucket_encryption",
        "put_public_access_block",
    }
)


def offences(path: pathlib.Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [
            f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}: imports {name}"
            for name in names
            if name.split(".")[0] in SDK_PACKAGES
        ]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLIENT_METHODS:
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: calls .{node.func.attr}()")
    return found


def test_only_the_store_talks_to_s3():
    modules = sorted(path for path in PACKAGE.rglob("*.py") if path != THE_REQUEST_PATH)
    assert len(modules) > 40
    everything = [offence for path in modules for offence in offences(path)]
    assert everything == []


def test_the_check_sees_an_offence():
    assert offences(THE_REQUEST_PATH)  # the request path itself does both, so the check can fail
