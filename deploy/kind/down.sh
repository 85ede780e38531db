#!/usr/bin/env bash
# Removes the kind cluster created by up.sh, with everything in it (stores, volumes, the platform).
# Locally built images stay in Docker (docker image rm storefleet/gateway:0.1.0-local ... to free them).
set -euo pipefail

CLUSTER="${KIND_CLUSTER_NAME:-storefleet}"
command -v kind >/dev/null 2>&1 || { echo "down.sh: kind is not on PATH" >&2; exit 1; }
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    kind delete cluster --name "$CLUSTER"
else
    echo "down.sh: no kind cluster named $CLUSTER; nothing to do"
fi
