#!/usr/bin/env bash
# The README's test command: creates .venv (once), installs the project with its dev extra, then runs
# ruff, mypy --strict and the whole pytest suite against an embedded moto server. Extra pytest args pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "== ruff"
.venv/bin/ruff check s3sessions tests benchmarks examples infra
.venv/bin/ruff format --check s3sessions tests benchmarks examples infra
echo "== mypy --strict"
.venv/bin/mypy --strict s3sessions
echo "== pytest"
.venv/bin/python -m pytest "$@"
