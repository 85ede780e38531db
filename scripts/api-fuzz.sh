#!/usr/bin/env bash
# A schema-driven fuzzer against the gateway: Schemathesis reads GET /openapi.json and sends thousands
# of generated requests, valid and invalid, checking every answer against the document (status codes,
# content types, headers, response schemas), that valid requests are accepted and invalid ones
# refused, that no request causes a 5xx, and that authentication is enforced. Starts its own
# Postgres, Redis, kube-sim and gateway on loopback (the gateway with its chart identity, so the
# credentials route reads a real Secret path). Tests/Fuzz/storefleet_hooks.py holds the two rules
# JSON Schema cannot state (see there).
# Usage: scripts/api-fuzz.sh [extra schemathesis options]; FUZZ_EXAMPLES (default 60) per operation.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

work="$(mktemp -d -t storefleet-fuzz.XXXXXX)"
stack_init "$work"
trap stack_finish EXIT
trap 'exit 130' INT TERM

stack_services
stack_sim --ready-delay 1 --job-delay 1 --namespace-delete-delay 0.5
stack_platform_identities
# Limits out of the fuzzer's way (it is not testing them), event streams short enough to be read whole.
RATE_LIMIT_BURST=1000000 RATE_LIMIT_PER_MINUTE=1000000 EVENTS_MAX_STREAM=1s stack_gateway "$(stack_free_port)"

admin_tenant=$(api GET /api/me | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant"]["id"])')
FUZZ_KEEP_TOKEN=$(api GET "/api/tenants/$admin_tenant/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
export FUZZ_KEEP_TOKEN

# From the throwaway directory: Schemathesis keeps a cache of crashes in the working directory.
cd "$work"
NO_COLOR=1 PYTHONPATH="$repo/Tests/Fuzz" SCHEMATHESIS_HOOKS=storefleet_hooks STOREFLEET_TOKEN="$ADMIN_TOKEN" \
  schemathesis --config-file "$repo/Tests/Fuzz/schemathesis.toml" run "$GATEWAY_URL/openapi.json" \
  --checks all --phases examples,coverage,fuzzing,stateful --workers 2 --max-examples "${FUZZ_EXAMPLES:-60}" \
  --seed "${FUZZ_SEED:-$RANDOM}" --generation-database none "$@"

stack_no_errors gateway api-fuzz
