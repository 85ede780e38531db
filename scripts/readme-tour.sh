#!/usr/bin/env bash
# Runs the README's "A five-minute tour" exactly as written (its first shell block under that heading)
# against a fresh platform on a simulated cluster, then checks what a reader would have seen: the
# store's job succeeded, its credentials were readable, and its delete finished. A README edit that
# breaks the tour breaks this run. Run by scripts/test.sh; needs curl and jq.
#   scripts/readme-tour.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null
command -v jq >/dev/null || { echo "readme-tour: needs jq (apt-get install jq)" >&2; exit 1; }

work="$(mktemp -d -t storefleet-tour.XXXXXX)"
stack_init "$work"
trap stack_finish EXIT
trap 'exit 130' INT TERM

# The tour as the README has it; the line that says where the platform is (SF=, ADMIN=) is the
# reader's, so it is replaced by this run's own gateway and admin token.
python3 - README.md >"$work/tour.sh" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("\n## A five-minute tour\n", 1)[1].split("\n## ", 1)[0]
block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
lines = block.splitlines()
assert lines and lines[0].startswith("SF="), "the tour's first line should set SF and ADMIN"
print("\n".join(lines[1:]))
PY
[ -s "$work/tour.sh" ] || { echo "readme-tour: no tour found in README.md" >&2; exit 1; }

stack_simulated_cluster
stack_gateway "$(stack_free_port)"
stack_worker worker-1

stack_log "running the README's tour against $GATEWAY_URL"
checks=$(cat <<'SH'
# --- what the reader should have seen ---
test "$(curl -s "$SF/api/jobs/$JOB" -H "Authorization: Bearer $TOKEN" | jq -r .status)" = succeeded \
  || { echo "readme-tour: the store's job did not succeed" >&2; curl -s "$SF/api/jobs/$JOB" -H "Authorization: Bearer $TOKEN" >&2; exit 1; }
test "$(curl -s "$SF/api/stores/$STORE/credentials" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_code}')" = 200 \
  || { echo "readme-tour: the credentials were not readable" >&2; exit 1; }
for _ in $(seq 1 150); do
  status=$(curl -s "$SF/api/stores/$STORE" -H "Authorization: Bearer $TOKEN" | jq -r .status)
  [ "$status" = deleted ] && break
  sleep 0.4
done
test "$status" = deleted || { echo "readme-tour: the store ended $status, not deleted" >&2; exit 1; }
echo "readme-tour: the tour ran as written; the store was created, read and deleted"
SH
)
SF="$GATEWAY_URL" ADMIN="$ADMIN_TOKEN" bash -euo pipefail -c "$(cat "$work/tour.sh"; printf '\n%s\n' "$checks")"
stack_no_errors gateway readme-tour
