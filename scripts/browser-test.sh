#!/usr/bin/env bash
# The dashboard in a real browser: starts Postgres, Redis, kube-sim with the helm stand-in, the gateway
# and two workers on loopback, then drives headless Chromium (Debian's chromium and chromium-driver)
# through Selenium with Tests/Browser/test_dashboard.py. Screenshots of each stage land in
# .build/screenshots/. Needs the debug build and scripts/install-tools.sh's tools.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

work="$(mktemp -d -t storefleet-browser.XXXXXX)"
stack_init "$work"
trap 'stack_stop; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

stack_simulated_cluster
SIMULATED_CLUSTER=true stack_gateway "$(stack_free_port)"
stack_worker worker-1
stack_worker worker-2

mkdir -p .build/screenshots
STOREFLEET_URL="$GATEWAY_URL" STOREFLEET_TOKEN="$ADMIN_TOKEN" SCREENSHOT_DIR="$repo/.build/screenshots" \
  python3 -m pytest -q -p no:cacheprovider Tests/Browser/test_dashboard.py
