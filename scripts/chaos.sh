#!/usr/bin/env bash
# Proof under fire: the e2e workload with 200 stores while a driver SIGKILLs a random worker every few
# seconds (with everything it started, as when a pod dies) and restarts it under a new ID, restarts Redis
# twice and Postgres once, and kube-sim fails 5% of the worker's API requests (500, 503, 429 with
# Retry-After) and 1% of helm's. Faults a kill does not make, each outliving a 10 s lease:
#  - a zombie: one worker process (not its children) frozen with SIGSTOP for 35 s, then resumed, when it
#    must find its claims taken and write nothing under them;
#  - a partition: worker-3 reaches Postgres through scripts/lib/tcp-proxy.py, which cuts it off for 25 s
#    (its connections reset, new ones refused), then heals;
#  - Redis connections blocked in BLMOVE dropped (CLIENT KILL) at three rounds: workers reconnect.
# Checks that every job reaches a terminal state, every delete succeeded and left nothing behind, no
# attempt of a job overlapped another and no two helm operations on one release overlapped, and no
# transition is missing; prints jobs, kills, recoveries, the longest recovery and retries by cause.
# Ends with scripts/check-history.py: the engine's invariants (one terminal per run, epochs in order,
# stores agreeing with their jobs, nothing stranded) over the whole history in Postgres.
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
# The last worker is the partitioned one; the zombie is another, so that each fault is seen alone.
partitioned=$workers
# Rounds of the kill loop (one every 6-10 s) with faults; Redis restarts at 3 and 9, Postgres at 6.
partition_round=2 zombie_round=5 blmove_rounds=" 4 7 10 "
work="$(mktemp -d -t storefleet-chaos.XXXXXX)"
stack_init "$work"
chaos_pid=""
# Stops the kill loop and the fault timers it left, and undoes what they would have undone: after the
# run nothing stays frozen or cut off.
chaos_end() {
  [ -z "$chaos_pid" ] || { kill "$chaos_pid" 2>/dev/null || true; wait "$chaos_pid" 2>/dev/null || true; }
  chaos_pid=""
  local pid
  if [ -f "$work/timers" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/timers"
    : >"$work/timers"
  fi
  [ ! -f "$work/zombie" ] || { kill -CONT "$(cat "$work/zombie")" 2>/dev/null || true; rm -f "$work/zombie"; }
  pid=$(stack_pid pg-proxy)
  [ -z "$pid" ] || kill -USR2 "$pid" 2>/dev/null || true
}
trap 'chaos_end; stack_stop; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"' EXIT
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
# A kill mid-install leaves a pending release that the next attempt leaves alone for RELEASE_TIMEOUT +
# 30 s (it cannot tell a dead worker from a frozen one whose helm runs on: docs/architecture.md). helm-sim
# installs in seconds; a shorter budget keeps those waits inside the workload's deadline.
export RELEASE_TIMEOUT=60s
stack_gateway "$(stack_free_port)"
# The partitioned worker's DATABASE_URL names the proxy, at its every start (the kill loop restarts it
# with stack_worker too). The proxy opens a backend connection per client, so Postgres's restart is
# seen through it as directly.
pg_port=$(cat "$STACK_DIR/postgres/port")
proxy_port=$(stack_free_port)
stack_spawn pg-proxy python3 scripts/lib/tcp-proxy.py --listen "$proxy_port" --target "$pg_port"
stack_wait_for pg-proxy "tcp-proxy: ready" 10
proxied_url=${DATABASE_URL/@127.0.0.1:$pg_port\//@127.0.0.1:$proxy_port/}
[ "$proxied_url" != "$DATABASE_URL" ] || { echo "chaos: cannot point DATABASE_URL at the proxy" >&2; exit 1; }
stack_worker_env "worker-$partitioned" "DATABASE_URL=$proxied_url"
for index in $(seq 1 "$workers"); do stack_worker "worker-$index" "worker-$index-r0"; done

kills="$work/kills.jsonl"
faults="$work/faults"
: >"$kills"
: >"$faults"

# Runs a command SECONDS from now, in the background; chaos_end cancels the timers still waiting. Its
# stdout is not the caller's, so that no reader of the caller's output waits for it.
later() {
  local seconds=$1
  shift
  (
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$seconds" &
    sleeper=$!
    wait "$sleeper"
    "$@"
  ) >/dev/null &
  echo $! >>"$work/timers"
}
worker_id() { cat "$work/ids/worker-$1" 2>/dev/null || echo "worker-$1-r0"; }
# The faults' steps never fail the loop (set -e): a fault that cannot be made is logged, not fatal.
thaw() { kill -CONT "$1" 2>/dev/null || true; rm -f "$work/zombie"; stack_log "chaos: resumed worker-$2 (pid $1)"; }
proxy_signal() { kill "-$1" "$(stack_pid pg-proxy)" 2>/dev/null || stack_log "chaos: the Postgres proxy is gone (SIG$1 not sent)"; }
heal() { proxy_signal USR2; stack_log "chaos: healed worker-$partitioned's partition"; }

# Freezes the worker holding the most running jobs (not the partitioned one): only the worker process,
# as a long GC pause or a stopped VM would; its helm children run on. Sets the caller's `zombie` to its
# index.
freeze() {
  local index pid held
  index=$(PGCONNECT_TIMEOUT=5 psql -X -qAt -d "$DATABASE_URL" -c "
    SELECT substring(worker_id FROM '^worker-([0-9]+)-') FROM jobs WHERE status = 'running' AND worker_id IS NOT NULL
    GROUP BY 1 ORDER BY count(*) DESC" 2>/dev/null | grep -vx "$partitioned" | head -n 1 || true)
  [ -n "$index" ] || index=$((RANDOM % (workers - 1) + 1))
  pid=$(stack_pid "worker-$index")
  held=$(PGCONNECT_TIMEOUT=5 psql -X -qAt -d "$DATABASE_URL" -c "SELECT count(*) FROM jobs WHERE status = 'running' AND worker_id = '$(worker_id "$index")'" 2>/dev/null || echo "?")
  if [ -z "$pid" ] || ! kill -STOP "$pid" 2>/dev/null; then
    stack_log "chaos: worker-$index is not running; nothing frozen"
    return 0
  fi
  echo "$pid" >"$work/zombie"
  echo zombie >>"$faults"
  stack_log "chaos: froze worker-$index (pid $pid, $held jobs running) for 35 s"
  later 35 thaw "$pid" "$index"
  zombie=$index
}

# Drops every Redis connection blocked in BLMOVE (workers waiting for a job ID).
drop_blmoves() {
  local port ids count=0 id
  port=$(cat "$STACK_DIR/redis/port")
  ids=$(redis-cli -p "$port" CLIENT LIST 2>/dev/null | awk '{ for (i = 2; i <= NF; i++) if ($i == "cmd=blmove") { sub(/^id=/, "", $1); print $1 } }' || true)
  for id in $ids; do
    if redis-cli -p "$port" CLIENT KILL ID "$id" >/dev/null 2>&1; then count=$((count + 1)); fi
  done
  echo "blmove $count" >>"$faults"
  stack_log "chaos: dropped $count Redis connections blocked in BLMOVE"
}

chaos() {
  local round=0 victim generation at zombie="" zombie_until=0
  while true; do
    sleep "$(python3 -c 'import random; print(round(random.uniform(5, 9), 1))')"
    round=$((round + 1))
    if [ "$round" = "$partition_round" ]; then
      proxy_signal USR1
      echo partition >>"$faults"
      stack_log "chaos: cut worker-$partitioned off from Postgres for 25 s"
      later 25 heal
    fi
    if [ "$round" = "$zombie_round" ]; then
      freeze
      zombie_until=$((SECONDS + 35))
    fi
    case $blmove_rounds in *" $round "*) drop_blmoves ;; esac
    # The frozen worker is left to its fate: a kill would end the zombie before it could misbehave.
    victim=$((RANDOM % workers + 1))
    while [ "$victim" = "$zombie" ] && [ "$SECONDS" -lt "$zombie_until" ]; do victim=$((RANDOM % workers + 1)); done
    generation=$round
    at=$(date +%s.%N)
    stack_kill "worker-$victim" KILL
    python3 -c 'import json, sys; print(json.dumps({"at": float(sys.argv[1]), "worker": sys.argv[2], "pids": [int(p) for p in sys.argv[3].split()]}))' \
      "$at" "$(worker_id "$victim")" "$STACK_KILLED" >>"$kills"
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

echo "chaos: $stores stores through $GATEWAY_URL with $workers workers, kills every 5-9 s, 5% API errors," \
  "a frozen worker, a partition, dropped BLMOVEs"
started=$SECONDS
python3 scripts/proof/proof.py workload --stores "$stores" --report "$work/report.json" --deadline 900
chaos_end
echo "chaos: workload finished in $((SECONDS - started))s after $(wc -l <"$kills") kills"
echo "chaos: faults: $(grep -c '^zombie' "$faults" || true) frozen for 35 s, $(grep -c '^partition' "$faults" || true) partitioned for 25 s," \
  "$(awk '$1 == "blmove" { n += $2; r++ } END { print n + 0 " BLMOVE connections dropped in " r + 0 " rounds" }' "$faults")"
python3 scripts/proof/proof.py verify --report "$work/report.json" --journal "$HELM_SIM_JOURNAL" --kills "$kills"
python3 scripts/check-history.py
echo "chaos: passed"
