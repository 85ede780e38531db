#!/usr/bin/env bash
# Job engine benchmark: prints one line per worker count, e.g.
#   workers=2 jobs=10000 jobs/s=850 pickup_p50_ms=1.2 pickup_p99_ms=6.0 e2e_p50_ms=9.1 e2e_p99_ms=40
# Self-contained: starts its own throwaway Postgres (durable defaults: fsync and synchronous_commit on)
# and Redis, builds in release mode, and for each worker count:
#   - pickup: with the workers idle, enqueues PICKUP_JOBS jobs one at a time (GAP_MS apart) and measures
#     enqueue -> first step start (pickup) and enqueue -> job succeeded (e2e), from the recorded history;
#   - throughput: with the workers stopped, inserts BENCH_JOBS jobs of 5 no-op steps and pushes all their
#     IDs to Redis, then starts the workers and measures the time until every job has succeeded (every
#     transition committed): from just before the workers start (their start-up, under 0.3 s, is inside
#     the measured time) to the last job's recorded finish.
# Usage: scripts/bench-jobs.sh [worker counts...]   (default: 1 2 4)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_packages "${STOREFLEET_BUILD_PACKAGES[@]}"

jobs_count="${BENCH_JOBS:-10000}"
pickup_jobs="${PICKUP_JOBS:-1000}"
gap_ms="${GAP_MS:-10}"
concurrency="${BENCH_CONCURRENCY:-32}"
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)

swift build -c release --product storefleet-jobs-bench >&2
lab="$(swift build -c release --show-bin-path)/storefleet-jobs-bench"

work="$(mktemp -d -t storefleet-bench.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/services.sh postgres stop "$work/postgres" || true
  scripts/services.sh redis stop "$work/redis" || true
  rm -rf "$work"
}
trap cleanup EXIT

admin_url="$(scripts/services.sh postgres start "$work/postgres")"
REDIS_URL="$(scripts/services.sh redis start "$work/redis")"
export REDIS_URL LOG_LEVEL=warning
DATABASE_URL="${admin_url%/*}/bench"
export DATABASE_URL

sql() { psql "$DATABASE_URL" -qAtc "$1"; }

start_workers() {
  pids=()
  for i in $(seq 1 "$1"); do
    WORKER_ID="bench-$i" WORKER_CONCURRENCY="$concurrency" LAB_RECORD_RUNS=0 "$lab" worker 2>>"$work/workers.log" &
    pids+=($!)
  done
  # Ready when every worker has sent its first heartbeat.
  for _ in $(seq 1 300); do
    [ "$(redis-cli -u "$REDIS_URL" zcard storefleet:workers)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "bench-jobs: workers did not start (see $work/workers.log)" >&2
  exit 1
}

stop_workers() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

wait_all_succeeded() {
  local expected=$1
  while [ "$(sql "SELECT count(*) FROM jobs WHERE status = 'succeeded'")" -lt "$expected" ]; do
    if [ "$(sql "SELECT count(*) FROM jobs WHERE status IN ('failed', 'cancelled')")" -gt 0 ]; then
      echo "bench-jobs: some jobs failed" >&2
      exit 1
    fi
    # Coarse polling keeps psql's own CPU out of the measurement; the end time comes from the database.
    sleep 0.25
  done
}

for workers in "${counts[@]}"; do
  psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS bench WITH (FORCE)" >/dev/null
  psql "$admin_url" -qAtc "CREATE DATABASE bench" >/dev/null
  redis-cli -u "$REDIS_URL" flushall >/dev/null
  "$lab" enqueue 0 >/dev/null   # applies the migrations
  start_workers "$workers"

  "$lab" trickle "$pickup_jobs" "$gap_ms" >/dev/null
  wait_all_succeeded "$pickup_jobs"
  latency="$(sql "
    WITH q AS (SELECT job_id, at FROM job_transitions WHERE status = 'queued'),
         s AS (SELECT job_id, min(at) AS at FROM job_transitions WHERE step = 'step1' AND status = 'running' GROUP BY job_id),
         d AS (SELECT job_id, at FROM job_transitions WHERE step IS NULL AND status = 'succeeded'),
         m AS (SELECT extract(epoch FROM s.at - q.at) * 1000 AS pickup, extract(epoch FROM d.at - q.at) * 1000 AS e2e
               FROM q JOIN s USING (job_id) JOIN d USING (job_id))
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY pickup)::numeric, 2) || ' ' ||
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY pickup)::numeric, 2) || ' ' ||
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY e2e)::numeric, 2) || ' ' ||
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY e2e)::numeric, 2) FROM m")"
  read -r pickup_p50 pickup_p99 e2e_p50 e2e_p99 <<<"$latency"

  # Stopped while jobs are inserted: otherwise the sweeper would start dispatching them early.
  stop_workers
  sql "TRUNCATE jobs CASCADE" >/dev/null
  redis-cli -u "$REDIS_URL" flushall >/dev/null
  "$lab" enqueue "$jobs_count" >/dev/null
  "$lab" dispatch-pending >/dev/null
  started=$(date +%s.%N)
  start_workers "$workers"
  wait_all_succeeded "$jobs_count"
  finished="$(sql "SELECT extract(epoch FROM max(finished_at)) FROM jobs")"
  stop_workers
  transitions="$(sql "SELECT count(*) FROM job_transitions")"
  rate="$(python3 -c "print(round($jobs_count / ($finished - $started)))")"
  echo "workers=$workers jobs=$jobs_count jobs/s=$rate transitions=$transitions pickup_p50_ms=$pickup_p50 pickup_p99_ms=$pickup_p99 e2e_p50_ms=$e2e_p50 e2e_p99_ms=$e2e_p99"
done
