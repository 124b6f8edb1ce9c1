#!/usr/bin/env bash
# Creates (once) the infrastructure tools' own virtual environment, .venv-infra/, with the pinned checkov,
# cfn-lint and aws-sam-translator of infra/requirements-tools.txt. They conflict with the library's
# dependencies (see DESIGN.md), so they never go into .venv. Idempotent: reinstalls only when the pins change.
# tests/test_infra_tools.py calls the tools from here (override the location with S3SESSIONS_INFRA_VENV).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${S3SESSIONS_INFRA_VENV:-.venv-infra}"
REQUIREMENTS=infra/requirements-tools.txt
STAMP="$VENV/.requirements.sha256"
wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  echo "== infra tools: $VENV is up to date"
  exit 0
fi
echo "== infra tools: installing into $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
quiet_pip() {
  # pip's own exit status decides; the filter only drops this machine's noisy index warnings.
  local log status=0
  log="$(mktemp)"
  "$VENV/bin/python" -m pip "$@" >"$log" 2>&1 || status=$?
  grep -v 'is ignored: it is neither' "$log" || true
  rm -f "$log"
  return "$status"
}
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet -r "$REQUIREMENTS"
for tool in checkov cfn-lint; do
  "$VENV/bin/$tool" --version >/dev/null
done
"$VENV/bin/python" -c 'import samtranslator' >/dev/null
echo "$wanted" >"$STAMP"
echo "== infra tools: $("$VENV/bin/checkov" --version | tail -1) (checkov), $("$VENV/bin/cfn-lint" --version)"
