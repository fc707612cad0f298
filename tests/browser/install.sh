#!/usr/bin/env bash
# Installs what the browser end-to-end test needs: Debian's Chromium and the
# pinned playwright-core. Without them that one test skips, saying so.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install Chromium (Debian: apt-get install chromium) to run the browser test" >&2
  fi
fi
if command -v npm >/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "install Node.js and npm to run the browser test" >&2
fi
