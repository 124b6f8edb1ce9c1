#!/usr/bin/env bash
# Full benchmark run (benchmarks/README.md): creates .venv-bench (once) with the project and the benchmark-only
# dependencies held to what the project resolved, then runs every store and writes benchmarks/results/.
# Extra arguments pass through to `python -m benchmarks.run` (e.g. --latency-ms 0, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv-bench/bin/python ]; then
  "$PYTHON" -m venv .venv-bench
fi
.venv-bench/bin/python -m pip install --quiet --upgrade pip
.venv-bench/bin/python -m pip install --quiet -e '.[cli]'
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
.venv-bench/bin/python -m pip freeze --exclude-editable > "$constraints"
.venv-bench/bin/python -m pip install --quiet -c "$constraints" -r benchmarks/requirements.txt
.venv-bench/bin/python -m benchmarks.run "$@"
