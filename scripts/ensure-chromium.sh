#!/usr/bin/env bash
# Installs Debian's chromium where it is missing: the catalog page's browser test drives it
# (playwright-core, system browser, no download). Needs root for apt-get; idempotent.
set -euo pipefail
CHROMIUM=${TESSERA_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-chromium: $CHROMIUM is missing and installing it needs root: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "ensure-chromium: installing chromium (apt-get)…" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM" --version >&2
