#!/usr/bin/env bash
# The viewer's tests (tests/viewer): rendering, HTTP, `s3sessions view` end to end, and the browser tests in
# Debian's headless chromium through chromedriver. Installs the Debian packages chromium and chromium-driver
# with apt when they are missing (CI runs as root), and the dev extra (selenium) into .venv when it lacks it.
# Under CI=true a missing browser fails the browser tests instead of skipping them. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "== chromium or chromedriver is missing: apt-get install chromium chromium-driver (as root)" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import selenium, s3sessions.viewer" >/dev/null 2>&1; then
  .venv/bin/python -m pip install --quiet -e '.[dev]'
fi
echo "== pytest (viewer: rendering, HTTP, headless chromium)"
.venv/bin/python -m pytest tests/viewer "$@"
