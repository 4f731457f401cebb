#!/usr/bin/env bash
# Install the system packages fangpin needs on a fresh Debian machine (idempotent, quiet when present).
set -euo pipefail
need=()
command -v npm >/dev/null 2>&1 || need+=(npm)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)   # Spark (local mode) for the parity tests
[ -x /usr/bin/chromium ] || need+=(chromium)                        # real-browser UI tests (never a downloaded build)
fc-list 2>/dev/null | grep -qi "wqy\|noto.*cjk" || need+=(fonts-wqy-microhei)  # Chinese glyphs in screenshots
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
