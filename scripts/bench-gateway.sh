#!/usr/bin/env bash
# Gateway benchmark with wrk: requests/s and latency percentiles for
#   healthz     GET /healthz                    (no auth, no database: the HTTP stack alone)
#   store-get   GET /api/stores/<id>            (token lookup, store, latest job snapshot)
#   job-get     GET /api/jobs/<id>              (token lookup, job snapshot with its steps: what clients poll)
#   store-list  GET /api/stores?limit=20        (token lookup, one keyset page)
#   store-post  POST /api/stores                (token, rate-limit script, one transaction with store,
#                                                job, steps, transition and audit rows, Redis dispatch),
#                                                spread over BENCH_TENANTS tenants as real traffic is:
#                                                a tenant's creates are serialized by its store limit
#   stats-series GET /api/stats/series          (the Activity view's plots, every job: seeds
#                                                BENCH_SERIES_JOBS jobs (100000) with six steps each,
#                                                BENCH_SERIES_RECENT (2000) of them finished in the last
#                                                hour, the rest over the 30 days before)
#   stats-series-member                          (the same, as a tenant that owns a tenth of the jobs)
# A scenario name may end in @RATE (for example job-get@2000): wrk then sends RATE requests/s in total
# on a fixed timetable (open loop, as wrk2 does; a request due while all connections are busy goes out
# late and its lateness is not counted, so p99 under overload reads optimistic) instead of as fast as
# it can; this is how "p99 at N requests/s" targets are measured.
# Self-contained: starts its own throwaway Postgres (durable defaults) and Redis, builds the gateway
# (release unless BENCH_CONFIG=debug), runs it with a random bootstrap admin token and limits raised out
# of the way, and prints wrk's summary per scenario.
# Also prints the gateway's resident memory when idle (after start-up, before any load).
# Usage: scripts/bench-gateway.sh [scenario[@RATE]...]
#        (default: healthz store-get job-get job-get@2000 store-list store-post store-post@500)
# Each scenario prints wrk's report, then one line: scenario=… rps=… p50_ms=… p99_ms=… errors=….
# Knobs: BENCH_DURATION (10s), BENCH_WARMUP (3s, run first and not counted), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_CONFIG (release),
#        BENCH_TENANTS (32), BENCH_STATIC (1: link the Swift runtime statically, as the image does).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-3s}"
connections="${BENCH_CONNECTIONS:-32}"
threads="${BENCH_THREADS:-2}"
config="${BENCH_CONFIG:-release}"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(healthz store-get job-get job-get@2000 store-list store-post store-post@500)

# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_packages "${STOREFLEET_BUILD_PACKAGES[@]}" wrk python3

# Built as the gateway image builds it (deploy/images/platform): the Swift runtime and Foundation linked
# statically, in a build folder of its own. BENCH_STATIC=0 measures the default dynamic build instead.
build=(swift build -c "$config")
[ "${BENCH_STATIC:-1}" = 0 ] || build+=(--static-swift-stdlib --scratch-path "$repo/.build-static")
"${build[@]}" --product storefleet-gateway >&2
gateway="$("${build[@]}" --show-bin-path)/storefleet-gateway"

work="$(mktemp -d -t storefleet-bench-gw.XXXXXX)"
chmod 755 "$work"
gateway_pid=""
cleanup() {
  if [ -n "$gateway_pid" ]; then kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
  scripts/services.sh postgres stop "$work/postgres" >/dev/null || true
  scripts/services.sh redis stop "$work/redis" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

DATABASE_URL="$(scripts/services.sh postgres start "$work/postgres")"
REDIS_URL="$(scripts/services.sh redis start "$work/redis")"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# A fresh random token for this run only; never printed.
BENCH_TOKEN="sfk_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
export DATABASE_URL REDIS_URL BENCH_TOKEN
base="http://127.0.0.1:$port"

BOOTSTRAP_ADMIN_TOKEN="$BENCH_TOKEN" GATEWAY_PORT="$port" LOG_LEVEL=warning \
  RATE_LIMIT_BURST=1000000 RATE_LIMIT_PER_MINUTE=1000000 DATABASE_POOL_SIZE=20 \
  "$gateway" 2>>"$work/gateway.log" &
gateway_pid=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { echo "bench-gateway: the gateway did not start:" >&2; tail -5 "$work/gateway.log" >&2; exit 1; }

echo "bench-gateway: idle RSS $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$gateway_pid/status")"
# The admin tenant creates the stores; lift its store limit for the POST scenario.
psql "$DATABASE_URL" -qAtc "UPDATE tenants SET store_limit = 100000000 WHERE name = 'admin'"
auth=(-H "Authorization: Bearer $BENCH_TOKEN")
read -r store_id job_id < <(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"bench-shop","engine":"medusa"}' "$base/api/stores" \
  | python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["store"]["id"], a["job"]["id"])')

# Tenants for the POST scenario, each with its own token and a store limit out of the way.
post_tokens=()
for i in $(seq 1 "${BENCH_TENANTS:-32}"); do
  tenant_id="$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d "{\"name\":\"bench-$i\"}" "$base/api/tenants" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  post_tokens+=("$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"bench"}' "$base/api/tenants/$tenant_id/tokens" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')")
done
psql "$DATABASE_URL" -qAtc "UPDATE tenants SET store_limit = 100000000"
BENCH_POST_TOKENS="$(IFS=,; echo "${post_tokens[*]}")"
export BENCH_POST_TOKENS

# The plots' endpoint reads the last hour of a big table: seed one when a stats-series scenario runs.
case " ${scenarios[*]} " in *" stats-series"*)
  series_jobs="${BENCH_SERIES_JOBS:-100000}" series_recent="${BENCH_SERIES_RECENT:-2000}"
  member_tenant="$(psql "$DATABASE_URL" -qAtc "SELECT id FROM tenants WHERE name = 'bench-1'")"
  admin_tenant="$(psql "$DATABASE_URL" -qAtc "SELECT id FROM tenants WHERE name = 'admin'")"
  started=$(date +%s)
  psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 <<SQL
INSERT INTO jobs (id, kind, tenant_id, status, steps, current_step, created_at, started_at, finished_at, updated_at)
SELECT gen_random_uuid(), CASE WHEN i % 3 = 0 THEN 'store.delete' ELSE 'store.create' END,
       CASE WHEN i % 10 = 0 THEN '$member_tenant'::uuid ELSE '$admin_tenant'::uuid END,
       CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       ARRAY['namespace','guardrails','secrets','release','readiness','finalize'], 6,
       f - interval '90 seconds', f - interval '90 seconds', f, f
FROM (SELECT i, CASE WHEN i <= $series_recent THEN now() - random() * interval '59 minutes'
                     ELSE now() - interval '1 hour' - random() * interval '30 days' END AS f
      FROM generate_series(1, $series_jobs) AS i) AS g;
INSERT INTO job_transitions (job_id, step, position, attempt, status, duration_ms, at, cause)
SELECT j.id, (j.steps)[p + 1], p, 1, s.status, CASE WHEN s.status = 'running' THEN NULL ELSE 200 + random() * 5000 END,
       j.finished_at - (6 - p) * interval '10 seconds' + s.offset_s * interval '1 second',
       CASE WHEN s.status = 'retrying' THEN 'kubernetes-conflict' END
FROM jobs j CROSS JOIN generate_series(0, 5) AS p
CROSS JOIN (VALUES ('running', 0), ('succeeded', 5), ('retrying', 4)) AS s(status, offset_s)
WHERE j.finished_at IS NOT NULL AND (s.status <> 'retrying' OR (p = 3 AND j.status = 'failed'));
ANALYZE jobs; ANALYZE job_transitions;
SQL
  echo "bench-gateway: seeded $series_jobs jobs ($series_recent in the last hour) and $(psql "$DATABASE_URL" -qAtc 'SELECT count(*) FROM job_transitions') transitions in $(( $(date +%s) - started )) s"
  member_token="${post_tokens[0]}"
  export BENCH_MEMBER_TOKEN="$member_token"
  ;;
esac

# Every scenario's script starts with this: the optional fixed-rate timetable and the summary line.
cat >"$work/common.lua" <<'LUA'
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local slot = nil
if rate > 0 then
  -- Each thread keeps its share of the timetable: one request every threads/rate seconds.
  function delay()
    local now = now_ms()
    local interval = threads * 1000 / rate
    slot = (slot or now) + interval
    local wait = slot - now
    if wait < 0 then return 0 end
    return math.floor(wait)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("scenario=%s rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d\n",
    os.getenv("BENCH_SCENARIO"), summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
cp "$work/common.lua" "$work/plain.lua"
{ cat "$work/common.lua"; echo 'wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")'; } >"$work/auth.lua"
{ cat "$work/common.lua"; echo 'wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_MEMBER_TOKEN")'; } >"$work/member.lua"
cp "$work/common.lua" "$work/post.lua"
cat >>"$work/post.lua" <<'LUA'
local next_thread = 1
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end
function init(args)
  n = 0
  tokens = {}
  for token in string.gmatch(os.getenv("BENCH_POST_TOKENS"), "[^,]+") do tokens[#tokens + 1] = token end
end
function request()
  n = n + 1
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }
  return wrk.format("POST", "/api/stores", headers, string.format('{"name":"b%s-%d-%d","engine":"medusa"}', os.getenv("BENCH_RUN"), tid, n))
end
LUA

echo "bench-gateway: $config build$([ "${BENCH_STATIC:-1}" = 0 ] || echo ' (static Swift runtime)'), $threads threads, $connections connections, $duration per scenario, $(nproc) cores"
summaries=()
export BENCH_THREADS="$threads"
for scenario in "${scenarios[@]}"; do
  echo "== $scenario"
  name=${scenario%@*}
  rate=0
  [ "$name" = "$scenario" ] || rate=${scenario#*@}
  case "$name" in
    healthz) script=plain.lua path=/healthz ;;
    store-get) script=auth.lua path="/api/stores/$store_id" ;;
    job-get) script=auth.lua path="/api/jobs/$job_id" ;;
    store-list) script=auth.lua path="/api/stores?limit=20" ;;
    store-post) script=post.lua path=/api/stores ;;
    stats-series) script=auth.lua path=/api/stats/series ;;
    stats-series-member) script=member.lua path=/api/stats/series ;;
    *) echo "bench-gateway: unknown scenario $scenario" >&2; exit 2 ;;
  esac
  # Store names must be new in every run: BENCH_RUN sets them apart. A warm-up run first, its numbers
  # dropped, so that connections, prepared statements and caches are as in a server that has been up.
  BENCH_SCENARIO="$scenario" BENCH_RATE="$rate" BENCH_RUN="w${#summaries[@]}" \
    wrk -t"$threads" -c"$connections" -d"$warmup" -s "$work/$script" "$base$path" >/dev/null
  output=$(BENCH_SCENARIO="$scenario" BENCH_RATE="$rate" BENCH_RUN="${#summaries[@]}"     wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$work/$script" "$base$path")
  echo "$output"
  summaries+=("$(grep '^scenario=' <<<"$output")")
done
echo "== summary"
printf '%s\n' "${summaries[@]}"
