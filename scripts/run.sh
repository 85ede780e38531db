#!/usr/bin/env bash
# The README's run command: the whole platform on this machine, for trying it.
#
#   scripts/run.sh                      gateway + dashboard on http://127.0.0.1:8080, two workers
#
# Starts Postgres and Redis (installed when missing; data kept under .data/ between runs), the gateway
# and two workers. When the current kubeconfig reaches a cluster (kind, k3s...), stores are provisioned
# there with the real helm; otherwise on kube-sim with the helm stand-in, and the dashboard says the
# stores are simulated. Prints the dashboard URL and the admin token; Ctrl-C stops everything.
#
# Settings: GATEWAY_PORT (default 8080, a free port if taken), WORKERS (default 2),
# STOREFLEET_SIMULATE=1 (use kube-sim even when a cluster is reachable), STOREFLEET_BUILD=release,
# STORE_DOMAIN and the other worker settings of docs/configuration.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
# shellcheck source=scripts/lib/stack.sh
source scripts/lib/stack.sh

ensure_debian_packages "${STOREFLEET_BUILD_PACKAGES[@]}" \
  python3 python3-venv ca-certificates curl
command -v swift >/dev/null || { echo "run.sh: swift is not on PATH (Swift 6.2 or newer is required)" >&2; exit 1; }
# shellcheck source=scripts/install-tools.sh
source scripts/install-tools.sh >/dev/null

configuration=${STOREFLEET_BUILD:-debug}
echo "==> building ($configuration; the first build takes several minutes)"
mkdir -p .build
for product in storefleet-gateway storefleet-worker kube-sim helm-sim storefleet; do
  if ! swift build -c "$configuration" --product "$product" >.build/run-build.log 2>&1; then
    echo "run.sh: building $product failed; the end of the build log:" >&2
    tail -n 30 .build/run-build.log >&2
    exit 1
  fi
done
rm -f .build/run-build.log

mkdir -p .data
stack_init "$repo/.data" "$repo/.build/$configuration"
trap 'echo; echo "==> stopping"; stack_stop; exit 0' INT TERM
trap 'stack_stop' EXIT

echo "==> Postgres and Redis (data in .data/)"
stack_services

simulated=1
if [ "${STOREFLEET_SIMULATE:-0}" != 1 ] && kubectl version --request-timeout=5s >/dev/null 2>&1; then
  simulated=0
  command -v helm >/dev/null || { echo "run.sh: a cluster is reachable but helm is not on PATH" >&2; exit 1; }
  echo "==> cluster: $(kubectl config current-context) — stores are provisioned there with helm"
  export HELM_BIN=helm
else
  echo "==> no cluster reachable through the current kubeconfig: starting kube-sim and the helm stand-in"
  rm -rf "$STACK_DIR/kube-sim"
  stack_sim --ready-delay "${SIM_READY_DELAY:-3}" --job-delay "${SIM_JOB_DELAY:-3}"
  export HELM_BIN="$STACK_BIN/helm-sim"
fi
export CHARTS_DIR="$repo/charts"

# The admin token is made once and kept (readable only by you), so bookmarks and scripts keep working.
if [ ! -s .data/admin-token ]; then
  (umask 077 && stack_random_token >.data/admin-token)
fi
ADMIN_TOKEN=$(cat .data/admin-token)
export ADMIN_TOKEN

port=${GATEWAY_PORT:-8080}
if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
  port=$(stack_free_port)
  echo "==> port ${GATEWAY_PORT:-8080} is taken; the gateway uses $port"
fi
SIMULATED_CLUSTER=$([ "$simulated" = 1 ] && echo true || echo false) DASHBOARD_DIR="$repo/Sources/GatewayKit/Dashboard" \
  stack_gateway "$port"
for index in $(seq 1 "${WORKERS:-2}"); do
  stack_worker "worker-$index"
done
sleep 1
for index in $(seq 1 "${WORKERS:-2}"); do
  stack_alive "worker-$index" || { echo "run.sh: worker-$index did not start:" >&2; tail -n 20 ".data/logs/worker-$index.log" >&2; exit 1; }
done

cat <<EOF

  Storefleet is running.

  Dashboard   $GATEWAY_URL/
  Admin token $ADMIN_TOKEN
  CLI         .build/$configuration/storefleet login --server $GATEWAY_URL < .data/admin-token
  API         curl -H "Authorization: Bearer \$(cat .data/admin-token)" $GATEWAY_URL/api/stores
  Logs        .data/logs/
$([ "$simulated" = 1 ] && echo "  Cluster     simulated (kube-sim): stores become ready but serve no traffic")

  Ctrl-C stops everything; the data stays in .data/.
EOF
# Wait for Ctrl-C; if the gateway dies, say so and stop.
while stack_alive gateway; do sleep 2; done
echo "run.sh: the gateway exited; the end of its log:" >&2
tail -n 20 .data/logs/gateway.log >&2
exit 1
