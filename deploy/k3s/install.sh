#!/usr/bin/env bash
# Storefleet on a single VPS with k3s. Run as root on Debian 12 / Ubuntu 22.04+, from a clone of the
# repository, after pointing DNS at the machine:
#     A  storefleet.example.com   -> <VPS IP>      (dashboard and API: PLATFORM_HOST)
#     A  *.stores.example.com     -> <VPS IP>      (one host per store:  STORE_DOMAIN)
#
#   PLATFORM_HOST=storefleet.example.com STORE_DOMAIN=stores.example.com ACME_EMAIL=ops@example.com \
#     deploy/k3s/install.sh [-f my-values.yaml ...]
#
# Installs, all pinned: k3s, cert-manager with Let's Encrypt ClusterIssuers, and the ingress
# controller (k3s' bundled Traefik, or ingress-nginx with INGRESS=nginx); then charts/platform with
# charts/platform/values-prod.yaml, your -f files and the hosts above. Re-running it is the upgrade
# path: it takes a pg_dump of the built-in PostgreSQL first (BACKUP_DIR), then `helm upgrade`.
# Optional: IMAGES_TAR=/path/images.tar imports images saved with `docker save` into k3s' containerd
# (when the cluster cannot pull them from a registry).
set -euo pipefail

# --- pinned versions ------------------------------------------------------------------------------
K3S_VERSION="${K3S_VERSION:-v1.33.1+k3s1}"
CERT_MANAGER_VERSION="v1.18.2"
INGRESS_NGINX_CHART_VERSION="4.13.0"

: "${PLATFORM_HOST:?set PLATFORM_HOST (dashboard and API host, e.g. storefleet.example.com)}"
: "${STORE_DOMAIN:?set STORE_DOMAIN (stores are <name>.STORE_DOMAIN, e.g. stores.example.com)}"
: "${ACME_EMAIL:?set ACME_EMAIL (e-mail of the ACME account that requests the certificates)}"
INGRESS="${INGRESS:-traefik}"
NAMESPACE="${STOREFLEET_NAMESPACE:-storefleet}"
RELEASE="storefleet"
BACKUP_DIR="${BACKUP_DIR:-/var/backups/storefleet}"
ISSUER="${CLUSTER_ISSUER:-letsencrypt-prod}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/deploy/k3s"
cd "$repo"

say() { printf '\n==> %s\n' "$*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (k3s installs a system service)"
case "$INGRESS" in
    traefik) INGRESS_CLASS=traefik; INGRESS_NAMESPACE=kube-system ;;
    nginx) INGRESS_CLASS=nginx; INGRESS_NAMESPACE=ingress-nginx ;;
    *) die "INGRESS must be traefik or nginx" ;;
esac
export ACME_EMAIL INGRESS_CLASS

# DNS is checked, not required: certificates are only issued once it points here.
public_ip="$(curl -fsS --max-time 5 https://api.ipify.org 2>/dev/null || true)"
for name in "$PLATFORM_HOST" "check-dns.$STORE_DOMAIN"; do
    resolved="$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR==1 {print $1}')"
    if [ -z "$resolved" ]; then
        echo "install.sh: warning: $name does not resolve yet (see the DNS records above)" >&2
    elif [ -n "$public_ip" ] && [ "$resolved" != "$public_ip" ]; then
        echo "install.sh: warning: $name resolves to $resolved, this machine is $public_ip" >&2
    fi
done

# --- k3s ----------------------------------------------------------------------------------------------
export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
if command -v k3s >/dev/null 2>&1 && k3s --version | grep -qF "$K3S_VERSION"; then
    say "k3s $K3S_VERSION is installed"
else
    say "installing k3s $K3S_VERSION"
    k3s_args=(--write-kubeconfig-mode 600)
    [ "$INGRESS" = nginx ] && k3s_args+=(--disable traefik)
    installer="$(mktemp)"
    # The installer script of exactly this release, not the moving get.k3s.io.
    curl -fsSL "https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION}/install.sh" -o "$installer"
    INSTALL_K3S_VERSION="$K3S_VERSION" sh "$installer" server "${k3s_args[@]}"
    rm -f "$installer"
fi
for _ in $(seq 1 60); do
    kubectl get nodes 2>/dev/null | grep -q ' Ready ' && break
    sleep 5
done
kubectl wait --for=condition=Ready nodes --all --timeout=300s

# --- helm (pinned, from scripts/install-tools.sh) --------------------------------------------------
if ! command -v helm >/dev/null 2>&1; then
    say "installing the pinned helm with scripts/install-tools.sh"
    scripts/install-tools.sh
    PATH="$repo/.tools/bin:$PATH"
fi

# --- ingress controller -------------------------------------------------------------------------------
if [ "$INGRESS" = nginx ]; then
    say "ingress-nginx chart $INGRESS_NGINX_CHART_VERSION"
    helm upgrade --install ingress-nginx ingress-nginx \
        --repo https://kubernetes.github.io/ingress-nginx --version "$INGRESS_NGINX_CHART_VERSION" \
        --namespace ingress-nginx --create-namespace \
        --set controller.ingressClassResource.default=true \
        --set controller.service.type=LoadBalancer \
        --wait --timeout 10m
else
    say "waiting for k3s' Traefik"
    for _ in $(seq 1 60); do
        kubectl -n kube-system get deployment traefik >/dev/null 2>&1 && break
        sleep 5
    done
    kubectl -n kube-system rollout status deployment/traefik --timeout=300s
fi

# --- cert-manager and Let's Encrypt -------------------------------------------------------------------
say "cert-manager $CERT_MANAGER_VERSION"
helm upgrade --install cert-manager cert-manager \
    --repo https://charts.jetstack.io --version "$CERT_MANAGER_VERSION" \
    --namespace cert-manager --create-namespace --set crds.enabled=true \
    --wait --timeout 10m
envsubst_issuers() { # the two variables only, so nothing else in the file is touched
    sed -e "s|\${ACME_EMAIL}|$ACME_EMAIL|g" -e "s|\${INGRESS_CLASS}|$INGRESS_CLASS|g" "$here/cluster-issuers.yaml"
}
envsubst_issuers | kubectl apply -f -

# --- images -----------------------------------------------------------------------------------------
if [ -n "${IMAGES_TAR:-}" ]; then
    say "importing images from $IMAGES_TAR"
    k3s ctr -n k8s.io images import "$IMAGES_TAR"
fi

# --- platform -----------------------------------------------------------------------------------------
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$NAMESPACE" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null

if helm status "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1 \
        && kubectl -n "$NAMESPACE" get statefulset "$RELEASE-postgresql" >/dev/null 2>&1; then
    # Migrations run forward at start-up and an older build refuses a newer schema: a rollback past a
    # migration needs this dump (docs/operations.md, "Upgrade and rollback").
    mkdir -p "$BACKUP_DIR"
    chmod 700 "$BACKUP_DIR"
    dump="$BACKUP_DIR/storefleet-$(date -u +%Y%m%dT%H%M%SZ)-rev$(helm history "$RELEASE" -n "$NAMESPACE" -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)[-1]["revision"])').dump"
    say "backing up PostgreSQL to $dump"
    # shellcheck disable=SC2016 # expanded by the shell inside the postgres container
    kubectl -n "$NAMESPACE" exec "statefulset/$RELEASE-postgresql" -c postgres -- \
        sh -c 'pg_dump -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -Fc' >"$dump"
    [ -s "$dump" ] || die "the backup $dump is empty; not upgrading"
fi

say "installing charts/platform ($RELEASE in $NAMESPACE)"
helm upgrade --install "$RELEASE" charts/platform --namespace "$NAMESPACE" \
    -f charts/platform/values-prod.yaml "$@" \
    --set-string host="$PLATFORM_HOST" \
    --set-string stores.domain="$STORE_DOMAIN" \
    --set-string ingress.className="$INGRESS_CLASS" \
    --set-string ingress.tls.clusterIssuer="$ISSUER" \
    --set-string stores.ingressClass="$INGRESS_CLASS" \
    --set-string stores.ingressNamespace="$INGRESS_NAMESPACE" \
    --set-string stores.tls.clusterIssuer="$ISSUER" \
    --wait --timeout 15m

token="$(kubectl -n "$NAMESPACE" get secret "$RELEASE-bootstrap-admin" -o jsonpath='{.data.token}' | base64 -d)"
say "Storefleet is installed"
echo "dashboard:   https://$PLATFORM_HOST/   (the certificate may take a minute: kubectl -n $NAMESPACE get certificate)"
echo "admin token: $token"
echo "stores:      https://<name>.$STORE_DOMAIN/"
echo "history:     helm history $RELEASE -n $NAMESPACE    rollback: helm rollback $RELEASE <revision> -n $NAMESPACE"
