#!/usr/bin/env bash
# Installs the command-line tools the CLI tests drive, outside the project's .venv: the aws CLI (v1 pins
# botocore exactly, and installed beside aioboto3 it sends pip into minutes of backtracking), into its own
# .venv-tools. Idempotent: does nothing when .venv-tools/bin/aws already runs. zstd and jq come from apt
# (see .ci/run). Prints the aws binary's path last; tests find it there or through $S3SESSIONS_AWS_CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TOOLS=.venv-tools
if ! "$TOOLS/bin/aws" --version >/dev/null 2>&1; then
  echo "== installing awscli into $TOOLS"
  rm -rf "$TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --upgrade pip
  "$TOOLS/bin/python" -m pip install --quiet awscli
fi
"$TOOLS/bin/aws" --version
echo "$PWD/$TOOLS/bin/aws"
