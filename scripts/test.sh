#!/usr/bin/env bash
# The README's test command. Creates .venv (once) with the project and its dev extra, the tool venvs whose pins
# clash with ours (awscli -> .venv-tools; checkov, cfn-lint, aws-sam-translator -> .venv-infra), then runs ruff,
# mypy --strict and the core pytest suite against an embedded moto server, the store-dependent suites again against
# a Ceph RADOS Gateway (scripts/ci-rgw.sh), the viewer's browser tests, and finally the framework integration
# tests in their own venv (.venv-integrations). Extra arguments go to the core pytest run (two workers, see below).
# Needs the `zstd` and `jq` programs for the aws-CLI tests (.ci/run installs them on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip uninstall --quiet --yes s3sessions 2>/dev/null || true  # the distribution's old name
.venv/bin/python -m pip install --quiet -e '.[dev]'
./scripts/ci-tools.sh
./scripts/ci-infra.sh
echo "== ruff"
.venv/bin/ruff check s3sessions tests benchmarks examples infra
.venv/bin/ruff format --check s3sessions tests benchmarks examples infra
echo "== mypy --strict (the package), mypy (the tests: checked, their functions may stay unannotated)"
.venv/bin/mypy --strict s3sessions
TEST_MYPY=(--allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls --allow-untyped-decorators --no-warn-return-any
  --allow-any-generics --allow-subclassing-any --check-untyped-defs --ignore-missing-imports --no-warn-unused-ignores)
MYPYPATH=tests:infra .venv/bin/mypy "${TEST_MYPY[@]}" tests --exclude 'tests/(integrations|viewer)/'
# tests/viewer has its own conftest.py and no __init__.py (its modules import each other as top-level modules): checked
# on its own, else mypy finds two modules named conftest
MYPYPATH=tests/viewer .venv/bin/mypy "${TEST_MYPY[@]}" tests/viewer
echo "== pytest (core, CLI, reliability, serverless) against moto"
# Two workers (pytest-xdist), each with its own moto server: 7.5 instead of 11.5 minutes on 2 cores. Set
# S3SESSIONS_TEST_WORKERS=0 to run in this process (for --pdb, -s or a debugger).
.venv/bin/python -m pytest --ignore=tests/integrations -n "${S3SESSIONS_TEST_WORKERS:-2}" "$@"
./scripts/ci-rgw.sh
./scripts/ci-viewer.sh
echo "== framework integrations"
./scripts/ci-integrations.sh
