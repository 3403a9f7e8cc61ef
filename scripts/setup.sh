#!/usr/bin/env bash
# Everything `npm start`, `npm test` and `npm run bench` need on a fresh clone: node modules
# (from the lockfile) and the Temporal CLI in .tools/. Idempotent and quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "scripts/setup.sh: node not found; Node.js 20.3 or newer is needed" >&2
  exit 3
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash temporal/install.sh
