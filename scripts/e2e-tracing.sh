#!/usr/bin/env bash
# Distributed tracing end to end: the gateway and the workers export spans over OTLP/HTTP to a small
# receiver on loopback (scripts/proof/otlp_receiver.py). A store is created with an incoming
# `traceparent`; the worker running its job is killed (SIGKILL) during the readiness step, a second
# worker takes the job over after the lease, and the store becomes ready. Then the spans are checked
# (scripts/proof/check_trace.py): one trace, the gateway's request span under the caller's span, the
# killed worker's finished step spans under its run (whose own span, never ended, is never sent), the
# second worker's job span under the request span with its steps, Kubernetes API and helm spans under
# the steps of both; no body, token or password in any attribute; and the second worker's JSON log
# lines inside the job carry the trace's trace_id. A malformed incoming traceparent is not stored.
# Needs the debug build and the tools from scripts/install-tools.sh (opentelemetry-proto).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null
python="$repo/.tools/venv/bin/python"

work="$(mktemp -d -t storefleet-tracing.XXXXXX)"
stack_init "$work"
trap 'stack_finish' EXIT
trap 'exit 130' INT TERM

# Readiness takes a few seconds here, so that the first worker can be killed in the middle of it.
stack_services
stack_sim --ready-delay 6 --job-delay 1 --namespace-delete-delay 0.5
stack_platform_identities
export HELM_BIN="$STACK_BIN/helm-sim" CHARTS_DIR="$STACK_REPO/charts"

stack_spawn otlp "$python" scripts/proof/otlp_receiver.py "$work/spans.jsonl" "$work/otlp.port"
for _ in $(seq 1 100); do [ -s "$work/otlp.port" ] && break; sleep 0.1; done
[ -s "$work/otlp.port" ] || { echo "e2e-tracing: the OTLP receiver did not start" >&2; exit 1; }
# The standard variables, as an operator sets them; batches leave every 200 ms, so that the spans a
# worker finished before it was killed have been sent.
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(cat "$work/otlp.port")"
export OTEL_EXPORTER_OTLP_ENDPOINT
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_BSP_SCHEDULE_DELAY=200
export RATE_LIMIT_BURST=1000 RATE_LIMIT_PER_MINUTE=10000
stack_gateway "$(stack_free_port)"
stack_worker_env worker-2 "LOG_FORMAT=json"
stack_worker worker-1

trace_id="$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
parent_id="$("$python" -c 'import secrets; print(secrets.token_hex(8))')"
created="$(curl -sS --fail-with-body -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \
  -H "traceparent: 00-$trace_id-$parent_id-01" -d '{"name":"traced","engine":"woocommerce"}' "$GATEWAY_URL/api/stores")"
job="$("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["job"]["id"])' "$created")"
stack_log "store created in trace $trace_id; job $job"

# Wait for readiness to be running on worker-1, then kill it there.
for _ in $(seq 1 300); do
  step="$(api GET "/api/jobs/$job" | "$python" -c 'import json, sys; j = json.load(sys.stdin); print(next((s["name"] for s in j["steps"] if s["status"] == "running"), ""))')"
  [ "$step" = readiness ] && break
  sleep 0.1
done
[ "$step" = readiness ] || { echo "e2e-tracing: the job never reached readiness on worker-1" >&2; exit 1; }
sleep 1
stack_log "killing worker-1 during readiness"
stack_kill worker-1 KILL
stack_worker worker-2

for _ in $(seq 1 120); do
  status="$(api GET "/api/jobs/$job" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["status"])')"
  [ "$status" = succeeded ] && break
  sleep 0.5
done
[ "$status" = succeeded ] || { echo "e2e-tracing: the job ended $status" >&2; api GET "/api/jobs/$job" >&2; exit 1; }
# A hostile or broken caller's traceparent is not stored as sent: the request gets a trace of its own
# and the job carries that one, well-formed.
junk="00-$(printf 'z%.0s' $(seq 1 300))-01"
hostile="$(curl -sS --fail-with-body -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \
  -H "traceparent: $junk" -d '{"name":"traced-junk","engine":"medusa"}' "$GATEWAY_URL/api/stores")"
hostile_job="$("$python" -c 'import json, sys; print(json.loads(sys.argv[1])["job"]["id"])' "$hostile")"
stored="$(psql "$DATABASE_URL" -qAtc "SELECT traceparent FROM jobs WHERE id = '$hostile_job'")"
if ! [[ "$stored" =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$ ]] || [[ "$stored" == *"$trace_id"* ]]; then
  echo "e2e-tracing: a malformed incoming traceparent left the job with '$stored'" >&2; exit 1
fi
stack_log "the job succeeded on worker-2; stopping the gateway and worker-2 so they flush their spans"
stack_kill worker-2 TERM
stack_kill gateway TERM
for _ in $(seq 1 100); do stack_alive worker-2 || stack_alive gateway || break; sleep 0.1; done
sleep 0.5

"$python" scripts/proof/check_trace.py "$work/spans.jsonl" "$trace_id" "$parent_id" "$STACK_DIR/logs/worker-2.log"
echo "e2e-tracing: passed"
