#!/usr/bin/env bash
# Hostile clients against the gateway's HTTP edge: starts Postgres, Redis and the gateway on loopback
# with short edge timeouts (so each attack resolves in seconds), then runs Tests/Hostile/test_edge.py:
# silent and slow-header connections, trickled bodies, readers that stop reading, oversized and
# malformed heads, encoded control bytes in paths, wrong methods, aborted uploads and event streams
# whose clients vanish. Needs the debug build; no cluster (the gateway does not need one for these).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh

work="$(mktemp -d -t storefleet-hostile.XXXXXX)"
stack_init "$work"
trap stack_finish EXIT
trap 'exit 130' INT TERM

export EDGE_IDLE=4 EDGE_HEADER=2 EDGE_BODY=3 EDGE_STALL=3 EDGE_MAX_HEADER_BYTES=16384 EDGE_MAX_STREAMS=3
stack_services
GATEWAY_IDLE_TIMEOUT=${EDGE_IDLE}s GATEWAY_HEADER_TIMEOUT=${EDGE_HEADER}s GATEWAY_BODY_TIMEOUT=${EDGE_BODY}s \
  GATEWAY_WRITE_STALL_TIMEOUT=${EDGE_STALL}s GATEWAY_MAX_HEADER_BYTES=$EDGE_MAX_HEADER_BYTES \
  EVENTS_MAX_STREAMS_PER_TENANT=$EDGE_MAX_STREAMS EVENTS_POLL_INTERVAL=200ms RATE_LIMIT_BURST=1000 \
  stack_gateway "$(stack_free_port)"

STOREFLEET_URL="$GATEWAY_URL" STOREFLEET_TOKEN="$ADMIN_TOKEN" \
  python3 -m pytest -q -p no:cacheprovider Tests/Hostile/test_edge.py "$@"

# None of it is the server's failure: an error line here would page someone for a client's doing.
stack_no_errors gateway hostile-clients
