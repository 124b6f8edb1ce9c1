"""Cold start: how long ``import s3sessions`` and the first ``resume`` take in a fresh Python process.

Each run starts a new interpreter (as a new Lambda container would) against a local moto S3 holding one small
session, and measures inside it, with ``time.perf_counter``:

- ``import s3sessions`` (and which modules it loaded: no AWS SDK is expected), then the names a handler uses
  (``S3SessionManager``, ``Session``, ``SyncSessionManager``: each public name loads its module on first use, so
  this is where pydantic and the models are paid for);
- the first ``resume`` through `SyncSessionManager`: it imports aioboto3, creates the client and makes 1 GET;
- a second ``resume`` on the warm manager (1 GET): the request itself, so first minus second is the cold cost;
- for reference, ``import aioboto3`` alone in another fresh process.

The S3 here is moto on 127.0.0.1, so the GET is fast and the figures are CPU time of imports and client setup;
on Lambda add the network round trips. Prints a Markdown table (median and min of ``--runs``), or JSON.

Usage: ``python benchmarks/cold_start.py [--runs 7] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
from typing import Any

_PROBE = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    import s3sessions
    imported = time.perf_counter()
    sdk = sorted(m for m in ("aioboto3", "aiobotocore", "botocore", "boto3", "aiohttp") if m in sys.modules)
    from s3sessions import S3SessionManager, Session
    from s3sessions.sync import SyncSessionManager
    names = time.perf_counter()
    sessions = SyncSessionManager(S3SessionManager(bucket=sys.argv[1], endpoint_url=sys.argv[2]))
    created = time.perf_counter()
    sessions.resume(sys.argv[3])
    first = time.perf_counter()
    sessions.resume(sys.argv[3])
    second = time.perf_counter()
    sessions.close()
    print(json.dumps({
        "import_s3sessions": imported - start,
        "sdk_loaded_by_import": sdk,
        "import_public_names": names - imported,
        "create_manager": created - names,
        "first_resume": first - created,
        "warm_resume": second - first,
    }))
    """
)
_AIOBOTO3 = "import time; s = time.perf_counter(); import aioboto3; print(time.perf_counter() - s)"


def _run(code: str, *arguments: str) -> str:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    completed = subprocess.run(
        [sys.executable, "-c", code, *arguments], capture_output=True, text=True, timeout=120, env=environment
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr)
    return completed.stdout.strip()


def measure(runs: int) -> dict[str, Any]:
    """Returns per-figure samples (seconds) from ``runs`` fresh processes, plus the environment."""
    import boto3

    from s3sessions import S3SessionManager, Session
    from s3sessions.sync import SyncSessionManager
    from s3sessions.testing.local_s3 import LocalS3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "cold-start"
    with LocalS3() as s3:
        boto3.client("s3", endpoint_url=s3.endpoint_url).create_bucket(Bucket=bucket)
        with SyncSessionManager(S3SessionManager(bucket=bucket, endpoint_url=s3.endpoint_url)) as sessions:
            session = Session()
            for turn in range(10):
                session.messages.append({"role": "user", "content": f"question {turn}"})
                session.messages.append({"role": "assistant", "content": f"answer {turn}"})
            sessions.save(session)
        _run("import s3sessions, aioboto3")  # warm the OS file cache and .pyc files once, unmeasured
        samples: dict[str, list[float]] = {}
        sdk_loaded: set[str] = set()
        for _ in range(runs):
            probe = json.loads(_run(_PROBE, bucket, s3.endpoint_url, session.id))
            sdk_loaded.update(probe.pop("sdk_loaded_by_import"))
            for name, value in probe.items():
                samples.setdefault(name, []).append(value)
            samples.setdefault("import_aioboto3_alone", []).append(float(_run(_AIOBOTO3)))
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": runs,
        "sdk_loaded_by_import": sorted(sdk_loaded),
        "samples": samples,
    }


def _table(report: dict[str, Any]) -> str:
    labels = {
        "import_s3sessions": "`import s3sessions`",
        "import_public_names": "then the names a handler imports (pydantic, the models)",
        "create_manager": "create `SyncSessionManager(S3SessionManager(...))`",
        "first_resume": "first `resume` (imports aioboto3, creates the client, 1 GET)",
        "warm_resume": "next `resume` on the warm manager (1 GET)",
        "import_aioboto3_alone": "for reference: `import aioboto3` alone",
    }
    lines = [
        f"Python {report['python']} on {report['machine']}, {report['runs']} fresh processes, moto S3 on 127.0.0.1;"
        f" AWS SDK modules loaded by `import s3sessions`: {', '.join(report['sdk_loaded_by_import']) or 'none'}.",
        "",
        "| step | median | min |",
        "| --- | ---: | ---: |",
    ]
    for name, label in labels.items():
        values = report["samples"][name]
        lines.append(f"| {label} | {statistics.median(values) * 1000:.0f} ms | {min(values) * 1000:.0f} ms |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes to measure (default 7)")
    parser.add_argument("--json", action="store_true", help="print the samples as JSON")
    arguments = parser.parse_args()
    report = measure(max(1, arguments.runs))
    print(json.dumps(report, indent=2) if arguments.json else _table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
