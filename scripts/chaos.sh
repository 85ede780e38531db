#!/usr/bin/env bash
# Proof under fire: the e2e workload with 200 stores while a driver SIGKILLs a random worker every few
# seconds (with everything it started, as when a pod dies) and restarts it under a new ID, restarts Redis
# twice and Postgres once, and kube-sim fails 5% of the worker's API requests (500, 503, 429 with
# Retry-After) and 1% of helm's.
# Checks that every job reaches a terminal state, every delete succeeded and left nothing behind, no
# attempt of a job overlapped another and no two helm operations on one release overlapped, and no
# transition is missing; prints jobs, kills, recoveries, the longest recovery and retries by cause.
#
#   scripts/chaos.sh [STORES]     (default 200)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

stores=${1:-200}
workers=3
work="$(mktemp -d -t storefleet-chaos.XXXXXX)"
stack_init "$work"
chaos_pid=""
trap '[ -z "$chaos_pid" ] || kill "$chaos_pid" 2>/dev/null; stack_stop; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

stack_simulated_cluster
# 5% of the worker's own API calls fail. helm's calls (helm-sim's, user agent helm/…) fail at 1%: one helm
# operation makes some 20 calls, and helm retries a 5xx only when it carries Retry-After, so at 5% most helm
# runs would fail and the run would measure helm's luck rather than the platform.
sim_api PUT /sim/faults '{"errors": [
  {"userAgent": "storefleet", "rate": 0.02, "status": 500},
  {"userAgent": "storefleet", "rate": 0.02, "status": 503},
  {"userAgent": "storefleet", "rate": 0.01, "status": 429, "retryAfter": 1},
  {"userAgent": "helm/", "rate": 0.01, "status": 503}]}' >/dev/null
export HELM_SIM_JOURNAL="$work/helm-journal.jsonl"
export RATE_LIMIT_BURST=10000 RATE_LIMIT_PER_MINUTE=100000
stack_gateway "$(stack_free_port)"
for index in $(seq 1 "$workers"); do stack_worker "worker-$index" "worker-$index-r0"; done

kills="$work/kills.jsonl"
: >"$kills"
chaos() {
  local round=0 victim generation at
  while true; do
    sleep "$(python3 -c 'import random; print(round(random.uniform(5, 9), 1))')"
    round=$((round + 1))
    victim=$((RANDOM % workers + 1))
    generation=$round
    at=$(date +%s.%N)
    stack_kill "worker-$victim" KILL
    python3 -c 'import json, sys; print(json.dumps({"at": float(sys.argv[1]), "worker": sys.argv[2], "pids": [int(p) for p in sys.argv[3].split()]}))' \
      "$at" "$(cat "$work/ids/worker-$victim" 2>/dev/null || echo "worker-$victim-r0")" "$STACK_KILLED" >>"$kills"
    stack_log "chaos: killed worker-$victim"
    case $round in
      3 | 9) stack_log "chaos: restarting Redis"; "$repo/scripts/services.sh" redis restart "$STACK_DIR/redis" >/dev/null ;;
      6) stack_log "chaos: restarting Postgres"; "$repo/scripts/services.sh" postgres restart "$STACK_DIR/postgres" >/dev/null ;;
    esac
    sleep 1
    echo "worker-$victim-r$generation" >"$work/ids/worker-$victim"
    stack_worker "worker-$victim" "worker-$victim-r$generation"
  done
}
mkdir -p "$work/ids"
chaos &
chaos_pid=$!

echo "chaos: $stores stores through $GATEWAY_URL with $workers workers, kills every 5-9 s, 5% API errors"
started=$SECONDS
python3 scripts/proof/proof.py workload --stores "$stores" --report "$work/report.json" --deadline 900
kill "$chaos_pid" 2>/dev/null || true
wait "$chaos_pid" 2>/dev/null || true
chaos_pid=""
echo "chaos: workload finished in $((SECONDS - started))s after $(wc -l <"$kills") kills"
python3 scripts/proof/proof.py verify --report "$work/report.json" --journal "$HELM_SIM_JOURNAL" --kills "$kills"
echo "chaos: passed"
