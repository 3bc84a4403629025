#!/usr/bin/env bash
# Installs the npm packages (locked) of the browser client, of the React + Redux example app and
# of the OpenID Provider the resource-server tests run (tests/oidc/op: oidc-provider), when they
# are missing or stale. The example links @cleanexit/web from clients/web.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
install() {
  local dir="$1"
  [ -f "$dir/package.json" ] || return 0
  cd "$dir"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "==> npm ci in ${dir#"$root"/}"
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  fi
}
install "$root/clients/web"
install "$root/examples/react-redux"
install "$root/tests/oidc/op"
