#!/usr/bin/env bash
# The second S3 in the tests: starts a one-node Ceph RADOS Gateway (scripts/ceph-rgw.sh, which installs Debian's
# radosgw ceph-mon ceph-osd ceph-common when missing), runs the store-dependent suites against it (conformance,
# races, crashes, faults and 409s, edge cases, the store probe, a bounded stateful run) with
# S3SESSIONS_TEST_S3=rgw, and stops exactly the daemons it started, whatever happens. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${S3SESSIONS_RGW_STATE:-.rgw}"
started=$(date +%s)
./scripts/ceph-rgw.sh start "$STATE" >/dev/null
trap './scripts/ceph-rgw.sh stop "$STATE" >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source "$STATE/env.sh"
echo "== pytest against Ceph RGW at $S3SESSIONS_RGW_ENDPOINT (cluster up in $(( $(date +%s) - started )) s)"
S3SESSIONS_TEST_S3=rgw .venv/bin/python -m pytest -p no:cacheprovider \
  tests/test_conformance.py tests/test_concurrency.py tests/test_crashes.py tests/test_faults.py \
  tests/test_edge_cases.py tests/test_stores.py tests/test_stateful.py tests/test_event_loops.py "$@"
echo "== Ceph RGW stage took $(( $(date +%s) - started )) s"
