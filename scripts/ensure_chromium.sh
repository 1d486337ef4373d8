#!/usr/bin/env bash
# Make sure a Chromium for the browser tests exists (Debian's package; Playwright cannot
# download its own browser here). Uses $FOCUSMIM_CHROMIUM if set.
set -euo pipefail
browser="${FOCUSMIM_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then exit 0; fi
if [ -n "${FOCUSMIM_CHROMIUM:-}" ]; then
  echo "FOCUSMIM_CHROMIUM=$browser is not an executable browser" >&2; exit 1
fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian's chromium for the browser tests..." >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  [ -x /usr/bin/chromium ] && exit 0
fi
echo "No Chromium found. Install Debian/Ubuntu's 'chromium' package, or set FOCUSMIM_CHROMIUM to a Chromium binary." >&2
exit 1
