#!/usr/bin/env bash
# Static checks of the store and platform charts, the images and the scripts. Needs the tools
# from scripts/install-tools.sh on PATH (helm, kubernetes-validate, hadolint,
# pytest, shellcheck) and promtool (Debian's prometheus package). Prints one summary line "charts: N passed, M failed" and
# exits non-zero if anything failed.
set -uo pipefail
export PYTHONDONTWRITEBYTECODE=1

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
check() { # check NAME COMMAND... : run quietly, show output only on failure
    local name="$1"; shift
    if "$@" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name" >&2
        sed 's/^/    /' "$WORK/out" | tail -n 40 >&2
    fi
}

for tool in helm kubernetes-validate hadolint pytest shellcheck promtool; do
    command -v "$tool" >/dev/null 2>&1 || { echo "check-charts: $tool not on PATH (run scripts/install-tools.sh)" >&2; exit 2; }
done

# Kubernetes minors from 1.30 to the newest kubernetes-validate knows.
kv_python="$(dirname "$(command -v kubernetes-validate)")/python"
[ -x "$kv_python" ] || kv_python=python3
schema_dir="$("$kv_python" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')"
mapfile -t K8S_VERSIONS < <(find "$schema_dir" -maxdepth 1 -name 'v1.*-local' -printf '%f\n' 2>/dev/null \
    | sed -E 's/^v(1\.[0-9]+)\.[0-9]+-local$/\1/' | awk -F. '$2 >= 30' | sort -t. -k2,2n -u)
if [ "${#K8S_VERSIONS[@]}" -eq 0 ]; then
    echo "check-charts: no Kubernetes schemas found in kubernetes-validate" >&2
    exit 2
fi

required=(--set store.name=my-shop --set store.id=0b9c4a8e-1111-4c22-9333-444455556666
          --set store.host=my-shop.127.0.0.1.nip.io)

validate_all() { # validate_all FILE : every minor version, strict
    local file="$1" v
    for v in "${K8S_VERSIONS[@]}"; do
        kubernetes-validate --strict --quiet -k "$v.0" "$file" || return 1
    done
}

charts=(charts/woocommerce charts/medusa)
[ -d charts/platform ] && charts+=(charts/platform)
for chart in "${charts[@]}"; do
    [ -f "$chart/Chart.yaml" ] || { failed=$((failed + 1)); echo "FAIL: $chart missing" >&2; continue; }
    for values in "$chart"/values.yaml "$chart"/values-*.yaml; do
        [ -f "$values" ] || continue
        extra=()
        # store.* values exist only in the store charts; the platform chart takes its own.
        [ "$chart" = charts/platform ] || extra=("${required[@]}")
        label="$(basename "$chart")/$(basename "$values")"
        check "helm lint --strict $label" helm lint --strict "$chart" -f "$values" "${extra[@]}"
        out="$WORK/$(basename "$chart")-$(basename "$values" .yaml).yaml"
        if helm template release1 "$chart" -n store-my-shop -f "$values" "${extra[@]}" >"$out" 2>"$WORK/err"; then
            passed=$((passed + 1))
            check "kubernetes-validate $label (${K8S_VERSIONS[0]}..${K8S_VERSIONS[-1]})" validate_all "$out"
        else
            failed=$((failed + 1)); echo "FAIL: helm template $label" >&2; sed 's/^/    /' "$WORK/err" >&2
        fi
    done
done

# charts/platform beyond its values files: external PostgreSQL/Redis with KEDA, TLS and gateway
# autoscaling, no RBAC. KEDA's ScaledObject and TriggerAuthentication are custom resources that
# kubernetes-validate has no schema for (it would only warn), as are the Prometheus operator's
# PrometheusRule and ServiceMonitor: they are set aside here and checked field by field in
# Tests/Scripts/test_platform_chart.py (the rules themselves by promtool, below); everything else is
# validated strictly.
platform_variant() { # platform_variant NAME HELM-ARGS...
    local name="$1"; shift
    local out="$WORK/platform-$name.yaml"
    if helm template release1 charts/platform -n storefleet "$@" >"$WORK/platform-$name.all" 2>"$WORK/err" \
        && "$py" -c 'import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and not d["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/"))]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))' "$WORK/platform-$name.all" "$out"; then
        passed=$((passed + 1))
        check "kubernetes-validate platform/$name (${K8S_VERSIONS[0]}..${K8S_VERSIONS[-1]})" validate_all "$out"
    else
        failed=$((failed + 1)); echo "FAIL: helm template platform/$name" >&2; sed 's/^/    /' "$WORK/err" >&2
    fi
}
py="$(dirname "$(command -v pytest)")/python"
[ -x "$py" ] || py=python3
if [ -d charts/platform ]; then
    platform_variant external-keda -f charts/platform/values-prod.yaml \
        --set postgresql.enabled=false --set externalDatabase.existingSecret=storefleet-database \
        --set redis.enabled=false --set externalRedis.existingSecret=storefleet-redis \
        --set worker.keda.enabled=true --set worker.keda.redis.address=redis.example.com:6379
    platform_variant tls-existing-secrets -f charts/platform/values.yaml \
        --set ingress.tls.enabled=true --set ingress.tls.clusterIssuer=letsencrypt-staging \
        --set gateway.autoscaling.enabled=true --set bootstrapAdmin.existingSecret=admin-token \
        --set postgresql.existingSecret=pg-password --set redis.existingSecret=redis-password
    platform_variant no-rbac-no-netpol -f charts/platform/values-local.yaml \
        --set rbac.create=false --set networkPolicy.enabled=false
    platform_variant observability -f charts/platform/values-prod.yaml \
        --set observability.grafanaDashboards.enabled=true --set observability.prometheusRule.enabled=true \
        --set observability.serviceMonitor.enabled=true
fi

# The alert rules: promtool's syntax check and the rules' unit tests; the boards are what
# scripts/gen-dashboards.py writes (their metric names are checked live by scripts/check-metrics.py in e2e).
check "promtool check rules" promtool check rules charts/platform/files/observability/storefleet-rules.yaml
check "promtool test rules" promtool test rules Tests/Observability/rules.test.yaml
check "dashboards up to date" "$py" scripts/gen-dashboards.py --check

while IFS= read -r dockerfile; do
    check "hadolint $dockerfile" hadolint "$dockerfile"
done < <(find deploy/images -name Dockerfile -type f | sort)

# Every shell script in the repository, not only the charts': new scripts are covered without a list.
while IFS= read -r s; do
    check "shellcheck $s" shellcheck -x "$s"
done < <(git ls-files --cached --others --exclude-standard '*.sh' .ci/run 2>/dev/null | sort -u)

# Rendered-manifest assertions, store-order unit tests, the docs checker's and the history checker's tests (pytest; the
# last skip themselves without DATABASE_URL, which scripts/test.sh exports).
tests=(Tests/Scripts/test_charts.py Tests/Scripts/test_store_order.py Tests/Scripts/test_check_history.py Tests/Scripts/test_check_docs.py
       Tests/Scripts/test_check_metrics.py)
[ -d charts/platform ] && tests+=(Tests/Scripts/test_platform_chart.py Tests/Scripts/test_admission_policy.py)
if "$py" -m pytest -q -p no:cacheprovider "${tests[@]}" >"$WORK/pytest" 2>&1; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "FAIL: pytest" >&2; tail -n 60 "$WORK/pytest" >&2
fi
grep -E '^[0-9]+ (passed|failed)' "$WORK/pytest" | sed 's/^/pytest: /' >&2 || true

echo "charts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
