#!/usr/bin/env bash
# Runs the README's "A five-minute tour" (with the storefleet CLI) and docs/api.md's "A store's life
# with curl", exactly as written (the first shell block under each heading), each against a fresh
# platform on a simulated cluster, then checks what a reader would have seen: the store was created,
# its credentials were readable, and it ended deleted. A docs edit that breaks a tour breaks this run.
# Run by scripts/test.sh; needs curl and jq.
#   scripts/readme-tour.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null
command -v jq >/dev/null || { echo "readme-tour: needs jq (apt-get install jq)" >&2; exit 1; }

top="$(mktemp -d -t storefleet-tour.XXXXXX)"
chmod 755 "$top"  # Postgres runs as its own user and must reach its directory below
trap 'stack_finish; rm -rf "$top"' EXIT
trap 'exit 130' INT TERM

# The tour under a heading; the line that says where the platform is (SF=, ADMIN=) is the reader's,
# so it is replaced by the run's own gateway and admin token.
extract() { # extract FILE HEADING
  python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("\n## " + sys.argv[2] + "\n", 1)[1].split("\n## ", 1)[0]
block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
lines = block.splitlines()
assert lines and lines[0].startswith("SF="), "the tour's first line should set SF and ADMIN"
print("\n".join(lines[1:]))
PY
}

# What the reader should have seen, asked of the API directly: the store acme-shop ended deleted,
# after a create job that succeeded and a credentials read.
checks=$(cat <<'SH'
status=""
for _ in $(seq 1 150); do
  status=$(curl -s "$SF/api/stores?limit=200" -H "Authorization: Bearer $ADMIN" | jq -r '[.items[] | select(.name == "acme-shop")][0].status')
  [ "$status" = deleted ] && break
  sleep 0.4
done
test "$status" = deleted || { echo "readme-tour: the store ended $status, not deleted" >&2; exit 1; }
test "$(curl -s "$SF/api/audit?limit=200" -H "Authorization: Bearer $ADMIN" | jq '[.items[] | select(.action == "store.credentials.view")] | length')" -ge 1 \
  || { echo "readme-tour: the tour never read the credentials" >&2; exit 1; }
SH
)

run_tour() { # run_tour FILE HEADING
  local work tour
  work="$top/$(echo "$2" | tr -c '[:alnum:]' '-')"
  mkdir -p "$work"
  tour=$(extract "$1" "$2")
  [ -n "$tour" ] || { echo "readme-tour: no tour under \"$2\" in $1" >&2; exit 1; }
  stack_init "$work"
  stack_simulated_cluster
  stack_gateway "$(stack_free_port)"
  stack_worker worker-1
  stack_log "running \"$2\" from $1 against $GATEWAY_URL"
  # The CLI keeps its contexts under the run's directory, not the reader's home.
  SF="$GATEWAY_URL" ADMIN="$ADMIN_TOKEN" XDG_CONFIG_HOME="$work/config" PATH="$STACK_BIN:$PATH" \
    bash -euo pipefail -c "$tour"$'\n'"$checks"
  echo "readme-tour: \"$2\" ran as written; the store was created, read and deleted"
  stack_no_errors gateway readme-tour
  stack_finish
  unset ADMIN_TOKEN
}

run_tour README.md "A five-minute tour"
run_tour docs/api.md "A store's life with curl"
