#!/usr/bin/env bash
# Installs the system components the real-component tests start themselves:
# redis-server, PostgreSQL (Debian keeps its binaries in /usr/lib/postgresql/<version>/bin; the
# tests run their own cluster, never the system one), Chromium (Debian's build: no browser
# download), Node.js + npm; and wrk, the HTTP load generator of `make bench`.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
  echo "==> installing system packages: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
pg=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
echo "==> system components: redis-server $(redis-server --version | awk '{print $3}'), $("${pg:-/usr/bin}/postgres" --version 2>/dev/null || echo 'postgres ?'), $(chromium --version 2>/dev/null | head -1), node $(node --version)"
