#!/usr/bin/env bash
# Does throughput grow with worker replicas? Self-contained: builds release binaries, then for 1, 2, 4
# and 8 workers (WORKER_CONCURRENCY fixed per worker) starts a fresh stack — Postgres, Redis, kube-sim
# with a realistic readiness delay, the helm stand-in, the gateway — creates STORES stores at once
# through the API and waits until all are ready. Prints stores per minute, the scaling efficiency
# against linear, and the platform's own time per store (a job's run time minus the time inside helm
# and waiting for workloads to become ready).
#
#   scripts/bench-scale.sh [STORES_PER_WORKER] [WORKER_COUNTS]     (defaults: 8, "1 2 4 8")
# Environment: READY_DELAY (kube-sim seconds per workload, default 2), WORKER_CONCURRENCY (default 2),
# BENCH_STATIC (1: link the Swift runtime statically, as the image does).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_packages "${STOREFLEET_BUILD_PACKAGES[@]}" python3 python3-venv python3-pip ca-certificates
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

per_worker=${1:-8}
read -r -a counts <<<"${2:-1 2 4 8}"
ready_delay=${READY_DELAY:-2}
export WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-2}
# The gateway and worker are linked as the image links them: the Swift runtime and Foundation static.
# So are the stand-ins, as the programs they stand for are (kubectl and helm are static Go binaries):
# a dynamically linked helm-sim spends a third of its own time in the dynamic loader, a cost real
# helm does not have. BENCH_STATIC=0 measures the default dynamic build instead.
build=(swift build -c release)
bin="$repo/.build/release"
if [ "${BENCH_STATIC:-1}" != 0 ]; then
  build+=(--static-swift-stdlib --scratch-path "$repo/.build-static")
  bin="$repo/.build-static/release"
fi
echo "==> release build$([ "${BENCH_STATIC:-1}" = 0 ] || echo ' (static Swift runtime)')"
for product in storefleet-gateway storefleet-worker kube-sim helm-sim; do
  "${build[@]}" --product "$product" >/dev/null 2>&1 || { "${build[@]}" --product "$product" 2>&1 | tail -20; exit 1; }
done

export HELM_BIN="$bin/helm-sim" CHARTS_DIR="$repo/charts"
export RATE_LIMIT_BURST=100000 RATE_LIMIT_PER_MINUTE=1000000 LOG_LEVEL=warning
results=()
work=""
trap '[ -z "$work" ] || { stack_stop; rm -rf "$work"; }' EXIT
for workers in "${counts[@]}"; do
  work="$(mktemp -d -t storefleet-bench.XXXXXX)"
  stack_init "$work" "$bin"
  stack_services
  stack_sim --ready-delay "$ready_delay" --job-delay "$ready_delay" --namespace-delete-delay 0.5
  unset ADMIN_TOKEN
  stack_gateway "$(stack_free_port)"
  for index in $(seq 1 "$workers"); do stack_worker "worker-$index"; done
  stores=$((per_worker * workers))
  echo "==> $workers worker(s) x concurrency $WORKER_CONCURRENCY: $stores stores"
  line=$(python3 scripts/proof/proof.py bench --stores "$stores" --report "$work/report.json" | grep '^bench: ')
  echo "$line"
  results+=("$workers ${line#bench: }")
  stack_stop
  rm -rf "$work"
  work=""
done

echo
echo "workers  stores  seconds  stores/min  efficiency  overhead ms (median, p95)  median s: queued, release, readiness"
python3 - "${results[@]}" <<'PY'
import json, sys
rows = [(int(a.split(" ", 1)[0]), json.loads(a.split(" ", 1)[1])) for a in sys.argv[1:]]
base = rows[0][1]["stores_per_minute"] / rows[0][0]
for workers, r in rows:
    efficiency = r["stores_per_minute"] / (base * workers) if base else 0
    print(f"{workers:>7}  {r['stores']:>6}  {r['seconds']:>7}  {r['stores_per_minute']:>10}  {efficiency:>10.2f}  "
          f"{r['overhead_ms_median']:>17}, {r['overhead_ms_p95']:<4}  "
          f"{r['queued_s_median']}, {r['release_s_median']}, {r['readiness_s_median']}")
PY
