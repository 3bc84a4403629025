#!/usr/bin/env bash
# Installs the browser client's npm packages (locked) when they are missing or stale.
set -euo pipefail
web="$(dirname "$0")/../clients/web"
[ -f "$web/package.json" ] || exit 0
cd "$web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci in clients/web"
  npm ci --no-audit --no-fund --loglevel=error
fi
