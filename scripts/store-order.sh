#!/usr/bin/env bash
# Place a real order in a store and read it back through the admin API.
#   scripts/store-order.sh <store-url> [--engine woocommerce|medusa] \
#       [--admin-user U --admin-password P] [--publishable-key pk_...]
# Credentials may also come from STORE_ADMIN_USER / STORE_ADMIN_PASSWORD /
# MEDUSA_PUBLISHABLE_KEY. The logic lives in scripts/storeorder (Python, stdlib).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m storeorder "$@"
