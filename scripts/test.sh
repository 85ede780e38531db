#!/usr/bin/env bash
# The README's test command: from a clean clone on a fresh Debian machine to every test run.
#  1. installs what is missing (Debian packages; pinned helm, kubectl and Python tools via install-tools.sh);
#  2. starts a throwaway Postgres and Redis on free loopback ports in a temporary directory;
#  3. builds, runs the Swift tests against those servers, the whole-system runs (the README's tour,
#     end-to-end, the CLI, browser, hostile clients, API fuzzing, chaos; each with servers of its own), the
#     chart checks and the docs checks;
#  4. stops the servers and removes their files on exit, also on failure or Ctrl-C.
# Ends with one summary line, "test.sh: N passed, M failed", naming the suites that failed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

say() { printf '\n==> %s\n' "$*"; }

# --- 1. prerequisites ---------------------------------------------------------------------------
# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_packages "${STOREFLEET_BUILD_PACKAGES[@]}" \
  python3 python3-venv python3-pip shellcheck ca-certificates chromium chromium-driver jq prometheus
command -v swift >/dev/null || { echo "test.sh: swift is not on PATH (Swift 6.2 or newer is required)" >&2; exit 1; }

say "tools (helm, kubectl, kubernetes-validate, hadolint, pytest)"
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh

# --- 2. throwaway servers -----------------------------------------------------------------------
work="$(mktemp -d -t storefleet-test.XXXXXX)"
chmod 755 "$work"
cleanup() {
  scripts/services.sh postgres stop "$work/postgres" || true
  scripts/services.sh redis stop "$work/redis" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting throwaway Postgres and Redis"
DATABASE_URL="$(scripts/services.sh postgres start "$work/postgres")"
REDIS_URL="$(scripts/services.sh redis start "$work/redis")"
export DATABASE_URL REDIS_URL
echo "postgres on port $(cat "$work/postgres/port"), redis on port $(cat "$work/redis/port")"

# --- 3. suites ----------------------------------------------------------------------------------
passed=() failed=()
suite() {
  local name=$1
  shift
  say "$name"
  local started=$SECONDS
  if "$@"; then
    passed+=("$name")
    echo "--- $name passed in $((SECONDS - started))s"
  else
    failed+=("$name")
    echo "--- $name FAILED after $((SECONDS - started))s"
  fi
}

suite "swift build" swift build --build-tests
if [ ${#failed[@]} -eq 0 ]; then
  # The simulator suites run many servers and helm/kubectl processes of their own; on two cores they
  # are given the machine to themselves rather than racing the database suites for it.
  suite "swift tests" swift test --skip-build --skip ClusterSimulatorTests
  suite "simulator and pipeline tests" swift test --skip-build --filter ClusterSimulatorTests
  # Whole-system runs: each starts its own Postgres, Redis, kube-sim, gateway and workers.
  suite "the README's tour, as written" scripts/readme-tour.sh
  suite "end-to-end (30 stores, 3 workers)" scripts/e2e.sh 30
  suite "the storefleet CLI against a live platform" scripts/e2e-cli.sh
  suite "fleet rollouts (50 stores: waves, a halted canary, a kill mid-rollout)" scripts/e2e-rollout.sh
  suite "tracing (OTLP receiver: one trace from the request across a killed worker)" scripts/e2e-tracing.sh
  suite "dashboard in Chromium" scripts/browser-test.sh
  suite "hostile clients at the HTTP edge" scripts/hostile-clients.sh
  suite "API fuzzing against the OpenAPI document" scripts/api-fuzz.sh
  suite "chaos (200 stores, kills, restarts, API faults)" scripts/chaos.sh 200
fi
suite "chart checks" scripts/check-charts.sh
suite "docs checks (links, paths, settings, pictures)" scripts/check-docs.py

echo
[ ${#failed[@]} -eq 0 ] || echo "failed suites: ${failed[*]}"
echo "test.sh: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
