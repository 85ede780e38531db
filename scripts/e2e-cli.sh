#!/usr/bin/env bash
# pass and fail always succeed, so "check && pass || fail" is an if-then-else here.
# shellcheck disable=SC2015
# Drives the storefleet CLI against a live platform on a simulated cluster (Postgres, Redis, kube-sim,
# helm-sim, a gateway, a worker) and checks what a script would branch on: exit codes, output formats,
# the configuration file's permissions, and a --wait that outlives a gateway restart.
# Run by scripts/test.sh.
#   scripts/e2e-cli.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

work="$(mktemp -d -t storefleet-cli.XXXXXX)"
stack_init "$work"
trap stack_finish EXIT
trap 'exit 130' INT TERM

cli="$STACK_BIN/storefleet"
[ -x "$cli" ] || { echo "e2e-cli: $cli is not built (swift build)" >&2; exit 1; }
export XDG_CONFIG_HOME="$work/config"
unset STOREFLEET_SERVER STOREFLEET_TOKEN
failures=0
fail() { echo "e2e-cli: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "e2e-cli: ok: $*"; }

# expect CODE DESCRIPTION -- COMMAND...: runs the CLI, keeps its output in $out and $err, checks the exit code.
expect() {
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

stack_services
# Stores take some seconds to become ready, so that a gateway restart lands in the middle of a --wait.
stack_sim --ready-delay 3 --job-delay 2 --namespace-delete-delay 0.5
stack_platform_identities
export HELM_BIN="$STACK_BIN/helm-sim" CHARTS_DIR="$STACK_REPO/charts"
# cli-doomed's setup Job fails for good; cli-slow's pods never become ready, nor do those of the
# application version 9.9.9-cli-broken (an update to it is rolled back, after 8 s rather than 5 minutes).
sim_api PUT /sim/faults '{"failJobs": ["cli-doomed"], "neverReady": ["cli-slow", "9.9.9-cli-broken"]}' >/dev/null
port=$(stack_free_port)
stack_gateway "$port"
STACK_WORKER_ENV="UPDATE_READINESS_TIMEOUT=8s" stack_worker worker-1

stack_log "the CLI against $GATEWAY_URL"

# --- login and contexts ---------------------------------------------------------------------------
STOREFLEET_TOKEN=sfk_any expect 9 "an unreachable server" -- stores list --server "http://127.0.0.1:$(stack_free_port)"
printf '%s\n' "$ADMIN_TOKEN" | "$cli" login --server "$GATEWAY_URL" --context platform 2>"$work/err" \
  && pass "login reads the token from standard input" || fail "login: $(cat "$work/err")"
config="$XDG_CONFIG_HOME/storefleet/config"
[ "$(stat -c %a "$config")" = 600 ] && pass "the config file is mode 600" || fail "config mode $(stat -c %a "$config")"
[ "$(stat -c %a "$(dirname "$config")")" = 700 ] && pass "its directory is mode 700" || fail "config dir mode"
printf 'sfk_wrong-token-0000000000000000000000000000\n' | "$cli" login --server "$GATEWAY_URL" --context wrong 2>/dev/null \
  && fail "login with a wrong token succeeded" || pass "login refuses a token the server does not know"
grep -q "name: wrong" "$config" && fail "a refused login was saved" || true

expect 0 "tenants create" -- tenants create cli-acme --store-limit 4
expect 8 "tenants create of a taken name" -- tenants create cli-acme
expect 0 "tokens create" -- tokens create --tenant cli-acme --name e2e -o json
acme_token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' <<<"$out")
printf '%s\n' "$acme_token" | "$cli" login --server "$GATEWAY_URL" --context acme 2>/dev/null || fail "login as acme"
expect 7 "a --server no context was saved for gets no token" -- stores list --server "http://127.0.0.1:$(stack_free_port)"
grep -q "no token" <<<"$err" && pass "the saved token stayed home" || fail "--server elsewhere: $err"
expect 0 "context list" -- context list
grep -q '^\*.*acme' <<<"$out" && grep -q 'platform' <<<"$out" && pass "both contexts listed, acme current" || fail "context list: $out"
grep -q sfk_ <<<"$out" && fail "context list shows a token"
expect 0 "tokens list (the admin's context)" -- tokens list --tenant cli-acme --context platform
grep -q e2e <<<"$out" && grep -q active <<<"$out" && pass "the token is listed, active" || fail "tokens list: $out"
grep -q "$acme_token" <<<"$out" && fail "tokens list shows the secret"

# --- a store's life -------------------------------------------------------------------------------
expect 0 "stores create --wait" -- stores create cli-shop --engine woocommerce --wait
grep -q "store cli-shop is ready" <<<"$out" && pass "it says the store is ready" || fail "create output: $out"
expect 8 "stores create of a duplicate name" -- stores create cli-shop --engine medusa
grep -q "taken" <<<"$err" && grep -q "request ID" <<<"$err" && pass "one sentence with the request ID" || fail "duplicate: $err"
expect 2 "stores create with an invalid name" -- stores create Bad_Name --engine medusa
expect 2 "stores create with an unknown engine" -- stores create cli-x --engine magento
expect 6 "stores get of an unknown name" -- stores get cli-nope
STOREFLEET_TOKEN=sfk_not-a-token-000000000000000000000000000 expect 7 "a token the server does not know" -- stores list

expect 0 "stores list (table)" -- stores list
grep -Eq '^NAME +ENGINE +STATUS' <<<"$out" && grep -Eq '^cli-shop +woocommerce +ready' <<<"$out" && pass "a table with the store" || fail "table: $out"
expect 0 "stores list -o json" -- stores list -o json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert [s["name"] for s in d["items"]] == ["cli-shop"], d' <<<"$out" \
  && pass "JSON with the store" || fail "json: $out"
expect 0 "stores list -o yaml" -- stores list -o yaml
"$repo/.tools/venv/bin/python" -c 'import yaml,sys; d=yaml.safe_load(sys.stdin); assert d["items"][0]["name"] == "cli-shop" and isinstance(d["items"][0]["id"], str), d' <<<"$out" \
  && pass "YAML that reads back" || fail "yaml: $out"
expect 0 "stores list -o name" -- stores list -o name
[ "$out" = cli-shop ] && pass "one name per line" || fail "name: $out"
expect 0 "stores list --status failed" -- stores list --status failed -o name
[ -z "$out" ] && pass "the filter applies" || fail "status filter: $out"
expect 0 "admin: stores list -A" -- stores list -A --context platform
grep -Eq '^cli-shop +woocommerce +ready +cli-acme' <<<"$out" && pass "every tenant's stores, with the tenant's name" || fail "-A: $out"
expect 0 "stores get" -- stores get cli-shop
grep -q "Storefront:" <<<"$out" && grep -q "Latest job: *store.create succeeded" <<<"$out" && pass "the store in detail" || fail "get: $out"

expect 0 "stores credentials" -- stores credentials cli-shop
grep -q "Username:" <<<"$out" && grep -q "hidden" <<<"$out" && pass "the password is hidden unless asked" || fail "credentials: $out"
expect 0 "stores credentials --reveal -o json" -- stores credentials cli-shop --reveal -o json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["password"]) >= 16' <<<"$out" && pass "the password when asked" || fail "reveal: $out"
grep -q "warning: .*not a terminal" <<<"$err" && pass "a warning when it goes to a pipe" || fail "no pipe warning: $err"
expect 0 "stores credentials --verbose" -- stores credentials cli-shop --verbose
grep -q "Authorization: Bearer sfk_.*(redacted)" <<<"$err" && ! grep -q "$acme_token" <<<"$err" && pass "--verbose redacts the token" || fail "verbose: $err"
grep -q "body not shown" <<<"$err" && pass "--verbose hides the credentials' body" || fail "verbose body: $err"

job=$("$cli" jobs list --store cli-shop -o name | head -n 1)
expect 0 "jobs get" -- jobs get "$job"
grep -q "readiness *succeeded" <<<"$out" && pass "the job's steps" || fail "jobs get: $out"
expect 0 "jobs watch of a finished job" -- jobs watch "$job"

# --- day two: an update that stands, then one that is rolled back ------------------------------------
expect 0 "plans" -- plans
grep -Eq '^small +\* +true' <<<"$out" && pass "the plans, small the default" || fail "plans: $out"
expect 0 "stores update --wait: a new plan and version" -- stores update cli-shop --plan medium --app-version 6.8.4-php8.3-apache --wait
grep -q "store cli-shop is ready" <<<"$out" && pass "the new revision is live" || fail "update: $out"
expect 0 "stores update with nothing to change" -- stores update cli-shop --plan medium
grep -q "nothing to change" <<<"$out" && pass "no job for the same spec" || fail "no-op update: $out"
expect 3 "an update to a version that never becomes ready" -- stores update cli-shop --app-version 9.9.9-cli-broken --wait
grep -q "was rolled back" <<<"$err" && grep -q "ImagePullBackOff" <<<"$err" && pass "rolled back, and why" || fail "rollback: $err"
expect 0 "stores revisions" -- stores revisions cli-shop -o json
python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
assert [i["outcome"] for i in items] == ["rolled-back", "applied", "applied"], items
assert items[1]["spec"] == {"plan": "medium", "app_version": "6.8.4-php8.3-apache"}, items[1]
' <<<"$out" && pass "three revisions: applied, applied, rolled back" || fail "revisions: $out"
expect 0 "stores get after the rollback" -- stores get cli-shop -o json
python3 -c '
import json, sys
store = json.load(sys.stdin)
assert store["status"] == "ready" and store["revision"] == 2 and store["app_version"] == "6.8.4-php8.3-apache", store
' <<<"$out" && pass "the store is ready on revision 2 again" || fail "after rollback: $out"

# --- suspend and resume: the tenant's own, then an administrator's -------------------------------------
expect 0 "stores suspend --wait" -- stores suspend cli-shop --reason "e2e: closed for the night" --wait
grep -q "store cli-shop is suspended" <<<"$out" && pass "the store is suspended" || fail "suspend: $out"
expect 0 "stores get of a suspended store" -- stores get cli-shop
grep -q "Suspended: *by its tenant: e2e: closed for the night" <<<"$out" && pass "who suspended it, and why" || fail "suspended get: $out"
expect 0 "stores resume --wait" -- stores resume cli-shop --wait
grep -q "store cli-shop is ready" <<<"$out" && pass "resumed, and it sells again" || fail "resume: $out"
expect 0 "an administrator suspends it" -- stores suspend cli-shop --reason "abuse report" --wait --context platform
expect 7 "its tenant cannot resume it" -- stores resume cli-shop
grep -q "only an administrator can resume it" <<<"$err" && pass "the tenant is told why" || fail "tenant resume: $err"
expect 0 "the administrator resumes it" -- stores resume cli-shop --wait --context platform

# --- failures, timeouts ---------------------------------------------------------------------------
expect 3 "a job that fails" -- stores create cli-doomed --engine woocommerce --wait
grep -q "failed at step readiness" <<<"$err" && pass "the failed step and its reason" || fail "failed job: $err"
expect 5 "--timeout before the job ends" -- stores create cli-slow --engine medusa --wait --timeout 4s
expect 0 "deleting the stuck store" -- stores delete cli-slow --yes --wait

# --- a --wait across a gateway restart --------------------------------------------------------------
set +e
"$cli" stores create cli-restart --engine medusa --wait >"$work/restart.out" 2>"$work/restart.err" &
waiter=$!
set -e
sleep 1.5
stack_log "restarting the gateway under a --wait"
stack_kill gateway TERM
for _ in $(seq 1 50); do stack_alive gateway || break; sleep 0.1; done
stopped_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3N)
sleep 2
stack_gateway "$port"
set +e
wait "$waiter"
code=$?
set -e
[ "$code" = 0 ] && grep -q "store cli-restart is ready" "$work/restart.out" \
  && pass "the --wait resumed after the gateway restarted (exit 0)" \
  || fail "--wait across a restart: exit $code; $(cat "$work/restart.out" "$work/restart.err")"
# The restart must have landed while the job ran, or the check above proves nothing.
finished=$("$cli" stores get cli-restart -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["latest_job"]["finished_at"][:23])')
[[ "$finished" > "$stopped_at" ]] && pass "the job ended after the gateway went down ($finished > $stopped_at)" \
  || fail "the job ended at $finished, before the gateway stopped at $stopped_at: the restart test proved nothing"

# --- delete ---------------------------------------------------------------------------------------
expect 0 "stores delete --wait" -- stores delete cli-shop --yes --wait
expect 0 "stores get after the delete" -- stores get cli-shop -o json
python3 -c 'import json,sys; assert json.load(sys.stdin)["status"] == "deleted"' <<<"$out" && pass "the store is deleted" || fail "after delete: $out"
expect 0 "stores retry of the failed store" -- stores retry cli-doomed
expect 0 "tenants list" -- tenants list -o name --context platform
grep -qx cli-acme <<<"$out" && pass "the tenant is listed" || fail "tenants list: $out"
expect 0 "tenants update" -- tenants update cli-acme --store-limit 2 -o json --context platform
python3 -c 'import json,sys; assert json.load(sys.stdin)["store_limit"] == 2' <<<"$out" && pass "the new limit" || fail "update: $out"

# --- tokens revoked -------------------------------------------------------------------------------
expect 0 "tokens revoke" -- tokens revoke --tenant cli-acme e2e --context platform
expect 7 "the revoked token is refused" -- stores list
expect 0 "tokens list shows it revoked" -- tokens list --tenant cli-acme -o json --context platform
python3 -c 'import json,sys; assert json.load(sys.stdin)["items"][0]["state"] == "revoked"' <<<"$out" && pass "revoked" || fail "tokens after revoke: $out"

# --- shell completion -----------------------------------------------------------------------------
"$cli" context use platform 2>/dev/null
for shell in bash zsh fish; do
  "$cli" --generate-completion-script "$shell" | grep -q "storefleet" && pass "a $shell completion script" || fail "no $shell completion"
done
names=$("$cli" ---completion stores get -- positional@0 3 6 storefleet stores get cli-re 2>/dev/null || true)
grep -qx cli-restart <<<"$names" && pass "store names complete from the API" || fail "completion: $names"

stack_no_errors gateway e2e-cli
if [ "$failures" -gt 0 ]; then
  echo "e2e-cli: $failures checks failed (logs in $work)" >&2
  KEEP_WORK=1
  exit 1
fi
echo "e2e-cli: every check passed"
