#!/usr/bin/env bash
# End to end, as a user would run it: real Postgres and Redis, the gateway, three worker processes,
# kube-sim and the helm stand-in. Creates 30 stores of both engines concurrently through the API,
# waits until all are ready, deletes them all, and checks that every job succeeded, every step history
# is complete and in order, no helm operations on one release overlapped, no store namespace is left in
# the cluster, Postgres and the cluster agree, and the dashboards and alerts name only metrics the
# gateway and workers export (scripts/check-metrics.py). Needs the debug build and the tools from
# scripts/install-tools.sh; uses DATABASE_URL/REDIS_URL-free throwaway servers of its own.
#
#   scripts/e2e.sh [STORES]     (default 30)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null  # helm and kubectl, which the helm stand-in runs

stores=${1:-30}
work="$(mktemp -d -t storefleet-e2e.XXXXXX)"
stack_init "$work"
trap 'stack_stop; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

stack_simulated_cluster
export HELM_SIM_JOURNAL="$work/helm-journal.jsonl"
export RATE_LIMIT_BURST=10000 RATE_LIMIT_PER_MINUTE=100000 LOG_LEVEL=warning
stack_gateway "$(stack_free_port)"
# One worker on a known port, so its /metrics can be read after the run.
worker_port="$(stack_free_port)"
stack_worker_env worker-1 "WORKER_HTTP_PORT=$worker_port"
for index in 1 2 3; do stack_worker "worker-$index"; done

echo "e2e: $stores stores through $GATEWAY_URL with 3 workers"
python3 scripts/proof/proof.py workload --stores "$stores" --report "$work/report.json" --deadline 600
python3 scripts/proof/proof.py verify --report "$work/report.json" --journal "$HELM_SIM_JOURNAL" --all-succeed
# The engine's invariants over the whole history in Postgres (DATABASE_URL, from stack_services).
python3 scripts/check-history.py
# Every metric the Grafana boards and alert rules name is one these processes export, with its labels.
python3 scripts/check-metrics.py "$GATEWAY_URL/metrics" "http://127.0.0.1:$worker_port/metrics"
echo "e2e: passed"
