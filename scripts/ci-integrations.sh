#!/usr/bin/env bash
# Framework integrations (Strands, OpenAI Agents SDK, Claude Agent SDK): installs the project and the three
# frameworks into their own .venv-integrations (the core .venv stays as small as the core install), then runs
# ruff and mypy --strict on the integration modules and the framework tests with CI=true (a missing framework
# fails instead of skipping). All three frameworks resolve beside aioboto3's botocore pin, so one venv serves them.
#
# The frameworks' own session test suites (tests/integrations/ported) run from the frameworks' source
# distributions, unpacked into .venv-integrations/upstream at exactly the installed versions (pip download of the
# sdist from PyPI, whose published hash pip checks). Their test-only dependencies are installed beside them:
# the Redis and SQLAlchemy extras of openai-agents with fakeredis and aiosqlite (the suites import them; the
# sessions under test are s3sessions'), and pytest-timeout, so that a hang fails a test instead of the run.
#
# Idempotent: the venv is (re)built only when pyproject.toml or this script changed since the last install.
# The frameworks are held to the versions the project itself resolved (pip freeze -> constraints), which keeps
# pip from backtracking through aioboto3 releases (see DESIGN.md). Extra pytest args pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-integrations
FRAMEWORKS=("strands-agents>=1.62,<2" "openai-agents>=0.24,<1" "claude-agent-sdk>=0.2.189,<0.3")  # the tested minimums
PORTED_SUITE_DEPS=("openai-agents[redis,sqlalchemy]" "fakeredis>=2.31.3" "aiosqlite>=0.21.0" "pytest-timeout>=2.3")
TEST_TIMEOUT=90  # seconds per test (Strands' own suite uses 90): a hang fails its test, not the run
STAMP="$VENV/.installed"
WANT="$(cat pyproject.toml "$0" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "== installing the project and the frameworks into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
  "$VENV/bin/python" -m pip freeze --exclude-editable > "$VENV/constraints.txt"
  "$VENV/bin/python" -m pip install --quiet -c "$VENV/constraints.txt" "${FRAMEWORKS[@]}" "${PORTED_SUITE_DEPS[@]}"
  echo "== unpacking the frameworks' own test suites (their sdists) into $VENV/upstream"
  for name in strands-agents openai-agents claude-agent-sdk; do
    version="$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))")"
    "$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: -d "$VENV/upstream/sdists" "$name==$version"
    tar -xzf "$VENV/upstream/sdists/${name//-/_}-$version.tar.gz" -C "$VENV/upstream"
  done
  sha256sum "$VENV"/upstream/sdists/*.tar.gz
  echo "$WANT" > "$STAMP"
fi
"$VENV/bin/python" -m pip freeze | grep -iE '^(strands-agents|openai-agents|claude-agent-sdk|aioboto3|botocore)=='
echo "== ruff (integrations)"
"$VENV/bin/ruff" check s3sessions/integrations s3sessions/cli/migrate.py tests/integrations
"$VENV/bin/ruff" format --check s3sessions/integrations s3sessions/cli/migrate.py tests/integrations
echo "== mypy --strict (integrations, against the installed frameworks)"
"$VENV/bin/mypy" --strict s3sessions/integrations s3sessions/cli/migrate.py
echo "== pytest (integrations)"
CI=true "$VENV/bin/python" -m pytest tests/integrations -m "strands or openai_agents or claude_agent_sdk" \
  --timeout="$TEST_TIMEOUT" "$@"
