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


def _bare_gathers(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(PACKAGE)}:{node.lineno}: asyncio.gather without return_exceptions=True"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "gather"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
        and not any(keyword.arg == "return_exceptions" for keyword in node.keywords)
    ]


def test_no_wave_of_requests_outlives_its_operation():
    """`asyncio.gather` leaves the other requests running when one fails (seen on Ceph RGW: a delete's version
    LIST still in flight when its loop closed); waves go through `s3sessions.waves.gather`, which cancels them."""
    modules = sorted(path for path in PACKAGE.rglob("*.py") if path != PACKAGE / "waves.py")
    assert [offence for path in modules for offence in _bare_gathers(path)] == []


async def test_a_failed_wave_cancels_the_requests_still_in_flight():
    import asyncio

    import pytest

    from s3sessions.waves import both, gather

    finished: list[str] = []

    async def slow(name: str) -> str:
        await asyncio.sleep(30)
        finished.append(name)
        return name

    async def fail() -> str:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    for wave in (lambda: gather([slow("a"), fail(), slow("b")]), lambda: both(slow("c"), fail())):
        with pytest.raises(RuntimeError, match="boom"):
            await asyncio.wait_for(wave(), timeout=10)
        assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []

    async def value(number: int) -> int:
        return number

    assert finished == [] and await gather([value(1), value(2)]) == [1, 2]  # and a wave that succeeds, in order
