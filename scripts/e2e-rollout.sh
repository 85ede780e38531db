#!/usr/bin/env bash
# pass and fail always succeed, so "check && pass || fail" is an if-then-else here.
# shellcheck disable=SC2015
# Fleet rollouts end to end on a simulated cluster (Postgres, Redis, kube-sim, helm-sim, a gateway,
# two workers), driven with the storefleet CLI as an operator would:
#   1. 50 stores; a rollout to a good version completes in waves, every store updated;
#   2. a rollout to a version whose pods never become ready halts at the canary: the canary is back
#      on its previous version and ready, and no other store was touched;
#   3. a rollout interrupted by killing every worker and the gateway (SIGKILL) resumes when they come
#      back and completes, each store updated exactly once.
# Run by scripts/test.sh.
#   scripts/e2e-rollout.sh        STORES=50 by default
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

work="$(mktemp -d -t storefleet-rollout.XXXXXX)"
stack_init "$work"
trap stack_finish EXIT
trap 'exit 130' INT TERM

stores=${STORES:-50}
cli="$STACK_BIN/storefleet"
[ -x "$cli" ] || { echo "e2e-rollout: $cli is not built (swift build)" >&2; exit 1; }
export XDG_CONFIG_HOME="$work/config"
unset STOREFLEET_SERVER STOREFLEET_TOKEN
failures=0
fail() { echo "e2e-rollout: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "e2e-rollout: ok: $*"; }

expect() { # expect CODE DESCRIPTION -- COMMAND...: $out and $err hold what it printed
  local want=$1 what=$2 got
  shift 3
  set +e
  "$cli" "$@" >"$work/out" 2>"$work/err"
  got=$?
  set -e
  out=$(cat "$work/out")
  err=$(cat "$work/err")
  if [ "$got" = "$want" ]; then pass "$what (exit $got)"; else fail "$what: exit $got, wanted $want; stderr: $err"; fi
}

# json EXPRESSION: evaluates a Python expression over the JSON in $out (bound to d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$out"; }

# The fleet's stores as name -> (status, app_version, revision), from the API, as their tenant sees them.
fleet() { "$cli" stores list -o json --context fleet | python3 -c '
import json, sys
for s in json.load(sys.stdin)["items"]:
    if s["status"] != "deleted":
        print(s["name"], s["status"], s.get("app_version") or "default", s["revision"])'
}

stack_services
stack_sim --ready-delay 0.5 --job-delay 0.5 --namespace-delete-delay 0.3
stack_platform_identities
export HELM_BIN="$STACK_BIN/helm-sim" CHARTS_DIR="$STACK_REPO/charts"
# Pods of 9.9.9-e2e-broken never become ready; an update to it is rolled back after 6 s.
sim_api PUT /sim/faults '{"neverReady": ["9.9.9-e2e-broken"]}' >/dev/null
port=$(stack_free_port)
stack_gateway "$port"
# A release a killed worker left pending is remediated after RELEASE_TIMEOUT + 30 s, not 10 minutes.
export STACK_WORKER_ENV="UPDATE_READINESS_TIMEOUT=6s RELEASE_TIMEOUT=20s WORKER_CONCURRENCY=8"
stack_worker worker-1
stack_worker worker-2

printf '%s\n' "$ADMIN_TOKEN" | "$cli" login --server "$GATEWAY_URL" --context platform 2>/dev/null
"$cli" tenants create fleet --store-limit $((stores + 5)) >/dev/null
"$cli" tokens create --tenant fleet --name e2e -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' \
  | "$cli" login --server "$GATEWAY_URL" --context fleet 2>/dev/null
"$cli" context use platform 2>/dev/null

stack_log "creating $stores stores"
for i in $(seq -w 1 "$stores"); do
  "$cli" stores create "fleet-$i" --engine woocommerce -o name --context fleet >/dev/null
done
for _ in $(seq 1 600); do
  ready=$(fleet | awk '$2 == "ready"' | wc -l)
  [ "$ready" -ge "$stores" ] && break
  sleep 1
done
[ "$ready" -ge "$stores" ] && pass "$stores stores ready" || fail "only $ready of $stores stores became ready"

# --- 1. a good version, in waves ----------------------------------------------------------------------
stack_log "rollout 1: a good version"
expect 0 "a rollout to a good version" -- rollouts create --app-version 6.8.4-php8.3-apache --engine woocommerce \
  --canary 1 --wave-percent 20 --max-parallel 10 --wait --timeout 15m
good=$("$cli" rollouts list -o name | head -n 1)
expect 0 "rollouts get" -- rollouts get "$good" -o json
[ "$(json 'd["status"]')" = completed ] && pass "it completed" || fail "rollout 1 is $(json 'd["status"]')"
[ "$(json 'd["counts"].get("updated", 0)')" = "$stores" ] && pass "every store updated" || fail "rollout 1 counts: $(json 'd["counts"]')"
[ "$(json '[w["stores"] for w in d["waves"]]')" = "[1, 10, 10, 10, 10, 9]" ] && pass "a canary, then waves of 20%" \
  || fail "waves: $(json '[w["stores"] for w in d["waves"]]')"
wrong=$(fleet | awk '$2 != "ready" || $3 != "6.8.4-php8.3-apache"')
[ -z "$wrong" ] && pass "every store is ready on 6.8.4" || fail "stores not on the new version: $wrong"

# --- 2. a bad version halts at the canary -------------------------------------------------------------
stack_log "rollout 2: a version that never becomes ready"
fleet | sort >"$work/before-bad"
expect 3 "a rollout to a bad version halts" -- rollouts create --app-version 9.9.9-e2e-broken --wave-percent 20 --wait --timeout 10m
grep -q "halted after the canary wave" <<<"$err" && pass "it says it halted at the canary, and why" || fail "halt: $err"
bad=$("$cli" rollouts list -o name | head -n 1)
expect 0 "rollouts get of the halted rollout" -- rollouts get "$bad" -o json
[ "$(json 'd["status"]')" = halted ] && pass "the rollout is halted" || fail "rollout 2 is $(json 'd["status"]')"
[ "$(json 'd["counts"]')" = "{'pending': $((stores - 1)), 'rolled-back': 1}" ] && pass "the canary rolled back, the rest untouched" \
  || fail "rollout 2 counts: $(json 'd["counts"]')"
canary=$(json 'd["failed_stores"][0]["name"]')
after=$(fleet | sort)
[ "$after" = "$(cat "$work/before-bad")" ] && pass "every store, the canary included, is ready on what it ran before" \
  || fail "stores changed: $(diff <(echo "$after") "$work/before-bad" || true)"
expect 0 "the canary's revisions" -- stores revisions "$canary" -o json --context fleet
[ "$(json '[r["outcome"] for r in d["items"]]')" = "['rolled-back', 'applied', 'applied']" ] \
  && pass "the canary's bad revision is recorded rolled back" || fail "canary revisions: $out"
expect 0 "cancel the halted rollout" -- rollouts cancel "$bad"
expect 0 "rollouts get after cancel" -- rollouts get "$bad" -o json
[ "$(json 'd["status"]')" = cancelled ] && [ "$(json 'd["counts"].get("skipped", 0)')" = $((stores - 1)) ] \
  && pass "cancelled, its pending stores skipped" || fail "after cancel: $(json 'd["status"]') $(json 'd["counts"]')"

# --- 3. killed mid-rollout ----------------------------------------------------------------------------
stack_log "rollout 3: every worker and the gateway killed mid-rollout"
expect 0 "a third rollout starts" -- rollouts create --app-version 6.8.5-php8.3-apache --canary 1 --wave-size 10 --max-parallel 5 -o json
third=$(json 'd["id"]')
for _ in $(seq 1 300); do
  done_now=$("$cli" rollouts get "$third" -o json | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print(c.get("updated", 0))')
  [ "$done_now" -ge 3 ] && break
  sleep 0.2
done
[ "$done_now" -ge 3 ] && [ "$done_now" -lt "$stores" ] && pass "killing with $done_now of $stores stores updated" \
  || fail "the kill did not land mid-rollout ($done_now updated)"
stack_kill worker-1 KILL
stack_kill worker-2 KILL
stack_kill gateway KILL
sleep 2
stack_gateway "$port"
stack_worker worker-1
stack_worker worker-2
status=""
for _ in $(seq 1 600); do
  status=$("$cli" rollouts get "$third" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$status" = running ] || break
  sleep 1
done
expect 0 "rollouts get after the restart" -- rollouts get "$third" -o json
[ "$status" = completed ] && [ "$(json 'd["counts"].get("updated", 0)')" = "$stores" ] \
  && pass "it resumed and completed, every store updated" || fail "rollout 3 is $status: $(json 'd["counts"]') $(json 'd.get("reason")')"
wrong=$(fleet | awk '$2 != "ready" || $3 != "6.8.5-php8.3-apache"')
[ -z "$wrong" ] && pass "every store is ready on 6.8.5" || fail "stores not on 6.8.5: $wrong"
# Exactly one revision per store asked for 6.8.5: no store was updated twice across the crash.
twice=""
while read -r name _; do
  count=$("$cli" stores revisions "$name" -o json --context fleet | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["items"] if r["spec"].get("app_version") == "6.8.5-php8.3-apache"))')
  [ "$count" = 1 ] || twice="$twice $name:$count"
done < <(fleet)
[ -z "$twice" ] && pass "each store was asked for 6.8.5 once" || fail "stores asked more than once:$twice"

# The engine's invariants over the whole history (DATABASE_URL, from stack_services), updates and
# rollouts included: one outcome per step and run, epochs in order, stores agreeing with their jobs.
python3 scripts/check-history.py && pass "the job history keeps the engine's invariants" || fail "scripts/check-history.py"

stack_no_errors gateway e2e-rollout
if [ "$failures" -gt 0 ]; then
  echo "e2e-rollout: $failures checks failed (logs in $work)" >&2
  KEEP_WORK=1
  exit 1
fi
echo "e2e-rollout: every check passed"
