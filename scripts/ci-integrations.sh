#!/usr/bin/env bash
# Framework integrations (Strands, OpenAI Agents SDK, Claude Agent SDK): installs the project and the three
# frameworks into their own .venv-integrations (the core .venv stays as small as the core install), then runs
# ruff and mypy --strict on the integration modules and the framework tests with CI=true (a missing framework
# fails instead of skipping). All three frameworks resolve beside aioboto3's botocore pin, so one venv serves them.
#
# Idempotent: the venv is (re)built only when pyproject.toml or this script changed since the last install.
# The frameworks are held to the versions the project itself resolved (pip freeze -> constraints), which keeps
# pip from backtracking through aioboto3 releases (see DESIGN.md). Extra pytest args pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-integrations
FRAMEWORKS=("strands-agents>=1.62,<2" "openai-agents>=0.24,<1" "claude-agent-sdk>=0.2.189,<0.3")  # the tested minimums
STAMP="$VENV/.installed"
WANT="$(cat pyproject.toml "$0" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "== installing the project and the frameworks into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
  "$VENV/bin/python" -m pip freeze --exclude-editable > "$VENV/constraints.txt"
  "$VENV/bin/python" -m pip install --quiet -c "$VENV/constraints.txt" "${FRAMEWORKS[@]}"
  echo "$WANT" > "$STAMP"
fi
"$VENV/bin/python" -m pip freeze | grep -iE '^(strands-agents|openai-agents|claude-agent-sdk|aioboto3|botocore)=='
echo "== ruff (integrations)"
"$VENV/bin/ruff" check s3sessions/integrations s3sessions/cli/migrate.py tests/integrations
"$VENV/bin/ruff" format --check s3sessions/integrations s3sessions/cli/migrate.py tests/integrations
echo "== mypy --strict (integrations, against the installed frameworks)"
"$VENV/bin/mypy" --strict s3sessions/integrations s3sessions/cli/migrate.py
echo "== pytest (integrations)"
CI=true "$VENV/bin/python" -m pytest tests/integrations -m "strands or openai_agents or claude_agent_sdk" "$@"
