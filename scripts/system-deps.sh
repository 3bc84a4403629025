#!/usr/bin/env bash
# Installs the system components the real-component tests start themselves:
# redis-server, Chromium (Debian's build: no browser download), Node.js + npm; and wrk, the
# HTTP load generator of `make bench`.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
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
echo "==> system components: redis-server $(redis-server --version | awk '{print $3}'), $(chromium --version 2>/dev/null | head -1), node $(node --version)"
