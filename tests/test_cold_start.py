"""Cold start: ``import s3sessions`` loads no AWS SDK (nor click, nor moto) until a manager makes a request."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("aioboto3", "aiobotocore", "botocore", "boto3", "aiohttp", "click", "moto")


def modules_loaded_after(code: str) -> list[str]:
    """Runs ``code`` in a fresh interpreter and returns which of `HEAVY` it loaded."""
    probe = code + f"\nimport sys, json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


def test_import_loads_no_sdk():
    assert modules_loaded_after("import s3sessions") == []


def test_public_names_and_adapters_load_no_sdk_until_a_request():
    code = textwrap.dedent(
        """
        import s3sessions
        from s3sessions import *
        import s3sessions.admin.bucket, s3sessions.sync
        from s3sessions.sync import SyncSessionManager
        sessions = SyncSessionManager(s3sessions.S3SessionManager(bucket="not-contacted", prefix="p/"))
        policy = s3sessions.admin.bucket.agent_policy("not-contacted", prefix="p/")
        sessions.close()
        """
    )
    assert modules_loaded_after(code) == []


def test_first_request_loads_the_sdk():
    """The probe is not vacuous: a manager's first request does load aioboto3."""
    code = textwrap.dedent(
        """
        import asyncio, s3sessions
        async def main():
            async with s3sessions.S3SessionManager(bucket="b", endpoint_url="http://127.0.0.1:9") as m:
                await m.store.client()
        asyncio.run(main())
        """
    )
    assert {"aioboto3", "aiobotocore", "botocore"} <= set(modules_loaded_after(code))


def test_benchmark_reports_import_and_first_resume():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cold_start.py"), "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["sdk_loaded_by_import"] == []
    samples = report["samples"]
    assert set(samples) == {
        "import_s3sessions",
        "import_public_names",
        "create_manager",
        "first_resume",
        "warm_resume",
        "import_aioboto3_alone",
    }
    assert all(len(values) == 1 and values[0] > 0 for values in samples.values())
    assert samples["first_resume"][0] > samples["warm_resume"][0]  # the first one pays for the SDK
