#!/usr/bin/env bash
# Storefleet on kind, from nothing to a dashboard URL and an admin token:
#   1. creates the kind cluster "storefleet" (pinned node image) with ports 80/443 on 127.0.0.1;
#   2. installs ingress-nginx (pinned chart) and waits for it;
#   3. builds the gateway and worker images (and the Medusa images, unless SKIP_MEDUSA=1) and loads
#      them into the kind node;
#   4. installs charts/platform with charts/platform/values-local.yaml into namespace "storefleet"
#      and waits until it is ready;
#   5. prints the dashboard URL and the bootstrap admin token.
# Idempotent: re-running upgrades the images and the release in place. Needs docker, kind, kubectl
# and helm (scripts/install-tools.sh provides helm and kubectl in .tools/bin). Undo with down.sh.
set -euo pipefail

# --- pinned versions ------------------------------------------------------------------------------
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.33.1}"   # a node image published for kind v0.29.0
INGRESS_NGINX_CHART_VERSION="4.13.0"                          # ingress-nginx controller v1.13.0
IMAGE_TAG="0.1.0-local"                                       # = images.*.tag in values-local.yaml

CLUSTER="${KIND_CLUSTER_NAME:-storefleet}"
NAMESPACE="${STOREFLEET_NAMESPACE:-storefleet}"
RELEASE="storefleet"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/deploy/kind"
cd "$repo"
[ -d "$repo/.tools/bin" ] && PATH="$repo/.tools/bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }
die() { echo "up.sh: $*" >&2; exit 1; }

for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH (helm and kubectl: scripts/install-tools.sh; kind: https://kind.sigs.k8s.io)"
done
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon"
# The worker image's helm binary is linux/amd64 (deploy/images/platform/Dockerfile).
case "$(docker info --format '{{.Architecture}}')" in
    x86_64 | amd64) ;;
    *) echo "up.sh: warning: this Docker host is not amd64; the worker image is built for linux/amd64 and runs emulated, if at all" >&2 ;;
esac

# --- 1. cluster -------------------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    say "kind cluster $CLUSTER exists"
else
    say "creating kind cluster $CLUSTER ($KIND_NODE_IMAGE)"
    kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --config "$here/kind-config.yaml" --wait 120s
fi
context="kind-$CLUSTER"
kubectl config use-context "$context" >/dev/null
kube() { kubectl --context "$context" "$@"; }

# --- 2. ingress-nginx -------------------------------------------------------------------------------
say "ingress-nginx chart $INGRESS_NGINX_CHART_VERSION"
helm --kube-context "$context" upgrade --install ingress-nginx ingress-nginx \
    --repo https://kubernetes.github.io/ingress-nginx --version "$INGRESS_NGINX_CHART_VERSION" \
    --namespace ingress-nginx --create-namespace \
    -f "$here/ingress-nginx-values.yaml" --wait --timeout 5m

# --- 3. images --------------------------------------------------------------------------------------
build() { # build TAG DOCKERFILE CONTEXT [docker build flags...]
    say "building $1"
    docker build --platform linux/amd64 -t "$1" -f "$2" "${@:4}" "$3"
    kind load docker-image --name "$CLUSTER" "$1"
}
# One Dockerfile, two targets: the second build reuses the first one's Swift build stage.
build "storefleet/gateway:$IMAGE_TAG" deploy/images/platform/Dockerfile . --target gateway
build "storefleet/worker:$IMAGE_TAG" deploy/images/platform/Dockerfile . --target worker
if [ "${SKIP_MEDUSA:-0}" != 1 ]; then
    # The worker installs charts/medusa with its default values.yaml, whose images are
    # ghcr.io/storefleet/medusa-*:0.1.0 (IfNotPresent): loading them under that name means no pull.
    medusa_tag="$(sed -n '/^  backend:/,/tag:/s/^ *tag: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/medusa/values.yaml)"
    build "ghcr.io/storefleet/medusa-backend:$medusa_tag" deploy/images/medusa-backend/Dockerfile deploy/images/medusa-backend
    build "ghcr.io/storefleet/medusa-storefront:$medusa_tag" deploy/images/medusa-storefront/Dockerfile deploy/images/medusa-storefront
fi

# --- 4. platform ------------------------------------------------------------------------------------
say "installing charts/platform into namespace $NAMESPACE"
kube create namespace "$NAMESPACE" --dry-run=client -o yaml | kube apply -f - >/dev/null
# Every platform pod meets the "restricted" Pod Security Standard; enforce it.
kube label namespace "$NAMESPACE" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null
# Extra helm arguments, e.g. STOREFLEET_HELM_ARGS="--set worker.replicas=3".
read -r -a extra_args <<<"${STOREFLEET_HELM_ARGS:-}"
upgrading=0
helm --kube-context "$context" status "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1 && upgrading=1
helm --kube-context "$context" upgrade --install "$RELEASE" charts/platform \
    --namespace "$NAMESPACE" -f charts/platform/values-local.yaml ${extra_args[@]+"${extra_args[@]}"} \
    --wait --timeout 10m
if [ "$upgrading" = 1 ]; then
    # Rebuilt images keep the same tag: restart so the pods run what was just loaded.
    kube -n "$NAMESPACE" rollout restart deployment/"$RELEASE"-gateway deployment/"$RELEASE"-worker >/dev/null
fi
kube -n "$NAMESPACE" rollout status deployment/"$RELEASE"-gateway --timeout 5m
kube -n "$NAMESPACE" rollout status deployment/"$RELEASE"-worker --timeout 5m

# --- 5. where to go -----------------------------------------------------------------------------------
host="$(kube -n "$NAMESPACE" get ingress "$RELEASE"-gateway -o jsonpath='{.spec.rules[0].host}')"
url="http://$host/"
for _ in $(seq 1 30); do
    curl -fsS -o /dev/null "${url}healthz" 2>/dev/null && break
    sleep 2
done
token="$(kube -n "$NAMESPACE" get secret "$RELEASE"-bootstrap-admin -o jsonpath='{.data.token}' | base64 -d)"
say "Storefleet is up"
echo "dashboard:   $url"
echo "admin token: $token"
echo "stores:      http://<name>.127.0.0.1.nip.io/"
echo "remove with: deploy/kind/down.sh"
