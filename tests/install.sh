#!/usr/bin/env bash
# Installs what the end-to-end tests drive besides Carechat itself, so that
# none of them skips: Debian's Chromium (the browser test), sqlite3 (the
# audit trail's tamper test edits the database with it) and php-cli (the
# WordPress plugin's tests), clamav-daemon (the virus scanner the files
# test starts with its own one-line signature database), haproxy (the load
# balancer in front of two nodes, docs/deploy.md's sample), then the pinned
# npm packages and Python's aiosmtpd (the SMTP server the notification test
# talks to). A test whose component is missing says so and skips.
set -euo pipefail
cd "$(dirname "$0")"
need=()
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || need+=(chromium)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v php >/dev/null || need+=(php-cli)
[ -x /usr/sbin/clamd ] || command -v clamd >/dev/null || need+=(clamav-daemon)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "install ${need[*]} (Debian: apt-get install ${need[*]}) to run every test" >&2
  fi
fi
bash browser/install.sh
python3 -c 'import aiosmtpd' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore aiosmtpd==1.4.6
