"""Assertions on the rendered platform chart (charts/platform), its images and deploy scripts.

Run through scripts/check-charts.sh (tools from scripts/install-tools.sh on PATH). The chart is
rendered with the real helm binary; nothing here needs a cluster.
"""
import base64
import pathlib
import re
import subprocess

import pytest
import yaml

from manifests import assert_images_pinned, assert_requests_and_limits, containers, pod_spec, workloads

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "platform"
VALUES_FILES = ("values.yaml", "values-local.yaml", "values-prod.yaml")
EXTERNAL = {
    "postgresql.enabled": "false", "externalDatabase.existingSecret": "ext-db",
    "redis.enabled": "false", "externalRedis.existingSecret": "ext-redis",
}
KEDA = {"worker.keda.enabled": "true"}
# Verbs and resources that must never appear in the platform's RBAC.
FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate", "deletecollection"}
BROAD_ROLES = {"cluster-admin", "admin", "edit"}

pytestmark = pytest.mark.skipif(not CHART.is_dir(), reason="no charts/platform")


def render(values_file="values.yaml", extra=None, release="sf", namespace="storefleet", check=True):
    args = ["helm", "template", release, str(CHART), "--namespace", namespace,
            "-f", str(CHART / values_file)]
    for key, value in (extra or {}).items():
        args += ["--set", f"{key}={value}"]
    res = subprocess.run(args, capture_output=True, text=True)
    if not check:
        return res
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert found, f"{kind}/{name} not rendered"
    return found[0]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


CASES = [(v, None) for v in VALUES_FILES] + [("values.yaml", "external"), ("values-prod.yaml", "keda")]
IDS = [f"{v}{'+' + x if x else ''}" for v, x in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def rendered(request):
    values_file, variant = request.param
    extra = {"external": EXTERNAL, "keda": KEDA}.get(variant)
    return values_file, variant, render(values_file, extra)


# --- every container: probes, resources, securityContext, pinned images ------------------------------

def test_probes_on_every_container(rendered):
    _, _, docs = rendered
    assert workloads(docs)
    for w in workloads(docs):
        for c in containers(w, init=False):
            name = f"{w['metadata']['name']}/{c['name']}"
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in c, f"{name} lacks {probe}"


def test_requests_and_limits_on_every_container(rendered):
    _, _, docs = rendered
    assert_requests_and_limits(docs, "platform")


def test_security_context_on_every_pod_and_container(rendered):
    _, _, docs = rendered
    for w in workloads(docs):
        pod = pod_spec(w).get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, w["metadata"]["name"]
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", w["metadata"]["name"]
        assert pod.get("runAsUser", 0) != 0
        assert not pod_spec(w).get("hostNetwork") and not pod_spec(w).get("hostPID")
        for c in containers(w):
            sc = c.get("securityContext", {})
            name = f"{w['metadata']['name']}/{c['name']}"
            assert sc.get("runAsNonRoot") is True, name
            assert sc.get("runAsUser", 0) != 0, name
            assert sc.get("readOnlyRootFilesystem") is True, name
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], name
            assert not sc.get("capabilities", {}).get("add"), name
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
            assert not sc.get("privileged"), name
            assert not any(p.get("hostPort") for p in c.get("ports", [])), name


def test_images_pinned(rendered):
    _, _, docs = rendered
    assert_images_pinned(docs)


def test_latest_or_empty_tag_rejected():
    for tag in ("latest", ""):
        res = render(extra={"images.worker.tag": tag}, check=False)
        assert res.returncode != 0 and "pinned tag" in res.stderr


def test_only_service_account_tokens_where_needed(rendered):
    _, _, docs = rendered
    for w in workloads(docs):
        component = w["metadata"]["labels"]["app.kubernetes.io/component"]
        mounts = pod_spec(w).get("automountServiceAccountToken")
        if component in ("gateway", "worker"):
            assert mounts is True and pod_spec(w)["serviceAccountName"] == f"sf-{component}"
        else:
            assert mounts is False, f"{w['metadata']['name']} must not mount an API token"
    for sa in by_kind(docs, "ServiceAccount"):
        assert sa.get("automountServiceAccountToken") is False


def test_writable_paths_are_volumes(rendered):
    """Read-only root: every path a process writes is a mounted volume."""
    _, _, docs = rendered
    for w in workloads(docs):
        spec = pod_spec(w)
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        for c in containers(w):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, f"{c['name']} mounts unknown volume {m['name']}"
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if c["name"] in ("gateway", "worker"):
                assert "/tmp" in mounts
            if c["name"] == "worker":
                env = env_of(c)
                for var in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "TMPDIR"):
                    assert env[var]["value"].startswith("/tmp"), var
            if c["name"] == "postgres":
                assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts
            if c["name"] == "redis":
                assert "/data" in mounts


# --- secrets: generated or existing, never literal ---------------------------------------------------

def _secret_values(docs):
    out = {}
    for s in by_kind(docs, "Secret"):
        assert "stringData" not in s, f"{s['metadata']['name']} uses stringData"
        for key, value in (s.get("data") or {}).items():
            out[(s["metadata"]["name"], key)] = base64.b64decode(value).decode()
    return out


def test_generated_secrets_are_random_and_kept():
    first, second = _secret_values(render()), _secret_values(render())
    assert set(first) == {("sf-postgresql", "password"), ("sf-redis", "password"), ("sf-bootstrap-admin", "token")}
    values_text = "".join((CHART / v).read_text() for v in VALUES_FILES)
    for key, value in first.items():
        # Random per render without a cluster (lookup finds nothing), so never a value from a file.
        assert value != second[key], f"{key} is not generated"
        assert value not in values_text
        assert len(value) >= 32
    assert first[("sf-bootstrap-admin", "token")].startswith("sfk_")
    for s in by_kind(render(), "Secret"):
        # Kept on uninstall like the volumes whose data they unlock; reused on upgrade through lookup.
        assert s["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret"' in helpers and "randAlphaNum" in helpers


def test_existing_secrets_render_no_secret():
    docs = render(extra={
        **EXTERNAL, "bootstrapAdmin.existingSecret": "my-admin", "bootstrapAdmin.key": "tok",
    })
    assert not by_kind(docs, "Secret")
    gw = named(docs, "Deployment", "sf-gateway")
    vol = [v for v in pod_spec(gw)["volumes"] if v["name"] == "bootstrap-token"][0]
    assert vol["secret"]["secretName"] == "my-admin"
    assert vol["secret"]["items"] == [{"key": "tok", "path": "token"}]
    for name in ("sf-gateway", "sf-worker"):
        env = env_of(containers(named(docs, "Deployment", name))[0])
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ext-db", "key": "database-url"}
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "ext-redis", "key": "redis-url"}
    assert not [d for d in docs if d["kind"] == "StatefulSet"], "external backends: no built-in StatefulSets"


def test_no_literal_credentials_in_env(rendered):
    _, _, docs = rendered
    for w in workloads(docs):
        for c in containers(w):
            for e in c.get("env", []):
                name = e["name"]
                if "valueFrom" in e:
                    continue
                value = str(e.get("value", ""))
                # RETENTION_REVOKED_TOKENS is an age ("30d"), not a credential.
                if re.search(r"PASSWORD|SECRET|TOKEN|AUTH", name) and not name.endswith("_FILE") and not name.startswith("RETENTION_"):
                    pytest.fail(f"{c['name']}: {name} is a literal, not a secretKeyRef")
                m = re.match(r"^[a-z]+://([^@/]*)@", value)
                if m:
                    password = m.group(1).split(":", 1)[1] if ":" in m.group(1) else ""
                    assert re.fullmatch(r"\$\([A-Z_]+\)", password), f"{c['name']}: {name} embeds a literal password"
                    ref = password[2:-1]
                    names = [x["name"] for x in c["env"]]
                    assert ref in names and names.index(ref) < names.index(name), f"{ref} must be defined before {name}"
                    assert "secretKeyRef" in env_of(c)[ref]["valueFrom"]


def test_redis_persistence_and_noeviction():
    docs = render()
    redis = named(docs, "StatefulSet", "sf-redis")
    args = containers(redis)[0]["args"]
    pairs = dict(zip(args[1::2], args[2::2]))
    assert pairs["--appendonly"] == "yes" and pairs["--maxmemory-policy"] == "noeviction"
    assert pairs["--requirepass"] == "$(REDIS_PASSWORD)"
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    pg = named(docs, "StatefulSet", "sf-postgresql")
    assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


def test_storage_class():
    for values_file, expected in (("values.yaml", None), ("values-prod.yaml", "local-path")):
        for sts in by_kind(render(values_file), "StatefulSet"):
            assert sts["spec"]["volumeClaimTemplates"][0]["spec"].get("storageClassName") == expected


# --- RBAC ------------------------------------------------------------------------------------------

def _rules(docs, name):
    return named(docs, "ClusterRole", f"sf-{name}")["rules"]


def test_rbac_has_no_wildcards_or_broad_bindings(rendered):
    _, _, docs = rendered
    for role in by_kind(docs, "ClusterRole") + by_kind(docs, "Role"):
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert not any("*" in x for x in rule.get(field, [])), f"{role['metadata']['name']}: wildcard in {field}"
            # The one bind: the worker binding the two store ClusterRoles, by name.
            if "bind" in rule["verbs"]:
                assert role["metadata"]["name"] == "sf-worker" and rule == {
                    "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                    "resourceNames": ["sf-store-manager", "sf-store-reader"], "verbs": ["bind"]}
                continue
            assert not FORBIDDEN_VERBS & set(rule["verbs"]), f"{role['metadata']['name']}: {rule['verbs']}"
            assert not {"nodes", "clusterroles", "clusterrolebindings", "customresourcedefinitions",
                        "serviceaccounts/token", "pods/exec", "pods/attach", "certificatesigningrequests"} & set(rule["resources"])
    for binding in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        assert binding["roleRef"]["name"] not in BROAD_ROLES, binding["metadata"]["name"]
        assert binding["roleRef"]["name"].startswith("sf-")
        for s in binding["subjects"]:
            assert s["kind"] == "ServiceAccount" and s["namespace"] == "storefleet"


def test_nothing_cluster_wide_but_namespaces_and_binding_the_store_roles():
    """The issue's bar: no cluster-wide Secret, workload or RoleBinding-read right for the worker, none
    at all for the gateway. Everything else reaches a store namespace through its own RoleBinding."""
    docs = render()
    bindings = by_kind(docs, "ClusterRoleBinding")
    assert [(b["roleRef"]["name"], [s["name"] for s in b["subjects"]]) for b in bindings] == [("sf-worker", ["sf-worker"])]
    assert _rules(docs, "worker") == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch", "create"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "resourceNames": ["sf-store-manager", "sf-store-reader"], "verbs": ["bind"]},
    ]
    # One Role, in default: get the two objects that say where the API server answers, by name.
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(docs, "Role")] == [("default", "sf-apiserver-endpoints")]
    assert named(docs, "Role", "sf-apiserver-endpoints")["rules"] == [
        {"apiGroups": [""], "resources": ["services"], "resourceNames": ["kubernetes"], "verbs": ["get"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "resourceNames": ["kubernetes"], "verbs": ["get"]},
    ]
    # The only RoleBinding the chart makes is that one, to the worker; store namespaces are bound by the
    # worker, not by the chart.
    assert [(b["metadata"]["namespace"], b["roleRef"], [s["name"] for s in b["subjects"]]) for b in by_kind(docs, "RoleBinding")] == [
        ("default", {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sf-apiserver-endpoints"}, ["sf-worker"])]
    worker = named(docs, "Deployment", "sf-worker")
    env = env_of(worker["spec"]["template"]["spec"]["containers"][0])
    assert env["STORE_ROLE_BINDINGS"]["value"] == "sf-store-manager=storefleet/sf-worker,sf-store-reader=storefleet/sf-gateway"


def test_gateway_reads_only_store_credentials():
    docs = render()
    assert _rules(docs, "store-reader") == [{
        "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["store-credentials"], "verbs": ["get"],
    }]
    assert not [b for b in by_kind(docs, "ClusterRoleBinding") if any(s["name"] == "sf-gateway" for s in b["subjects"])]


def test_admission_policy_matches_the_worker_and_denies():
    docs = render()
    policy = named(docs, "ValidatingAdmissionPolicy", "sf-worker-scope")
    assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConditions"] == [{
        "name": "storefleet-worker", "expression": "request.userInfo.username == 'system:serviceaccount:storefleet:sf-worker'"}]
    binding = named(docs, "ValidatingAdmissionPolicyBinding", "sf-worker-scope")
    assert binding["spec"] == {"policyName": "sf-worker-scope", "validationActions": ["Deny"]}
    assert not [d for d in render(extra={"rbac.admissionPolicy": "false"}) if d["kind"].startswith("ValidatingAdmission")]


def _grants(rules):
    out = {}
    for r in rules:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                out.setdefault((g, res), set()).update(r["verbs"])
    return out


def _store_chart_kinds():
    """(group, plural) of everything the store charts render, over all their values files."""
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets", "Job": "jobs", "Service": "services",
              "ConfigMap": "configmaps", "ServiceAccount": "serviceaccounts", "Secret": "secrets",
              "PersistentVolumeClaim": "persistentvolumeclaims", "Ingress": "ingresses", "Role": "roles",
              "RoleBinding": "rolebindings", "NetworkPolicy": "networkpolicies"}
    kinds = set()
    for chart in ("woocommerce", "medusa"):
        for values_file in VALUES_FILES:
            out = subprocess.run(
                ["helm", "template", "shop1", str(REPO / "charts" / chart), "-n", "store-my-shop",
                 "-f", str(REPO / "charts" / chart / values_file), "--set", "store.name=my-shop",
                 "--set", "store.id=0b9c4a8e-1111-4c22-9333-444455556666", "--set", "store.host=my-shop.example.com"],
                check=True, capture_output=True, text=True).stdout
            for d in yaml.safe_load_all(out):
                if d:
                    group = d["apiVersion"].rsplit("/", 1)[0] if "/" in d["apiVersion"] else ""
                    assert d["kind"] in plural, f"{chart} renders {d['kind']}: add it to the store-manager ClusterRole"
                    kinds.add((group, plural[d["kind"]]))
    return kinds


def test_worker_can_install_every_store_chart_kind():
    grants = _grants(_rules(render(), "store-manager"))
    kinds = _store_chart_kinds()
    assert kinds, "store charts rendered nothing"
    for kind in kinds:
        # helm: get (ownership, three-way merge), create, patch (upgrade), delete (uninstall).
        assert {"get", "create", "patch", "delete"} <= grants.get(kind, set()), f"worker cannot manage {kind}"


def test_worker_rules_cover_the_provisioning_steps():
    """Every resource the Swift steps address through Paths.* is granted with the verbs they use."""
    steps = "".join(p.read_text() for p in sorted((REPO / "Sources" / "Provisioning").rglob("*.swift")))
    used = set()
    for m in re.finditer(r'Paths\.core\([^,()]+,\s*"([a-z]+)"', steps):
        used.add(("", m.group(1)))
    for m in re.finditer(r'Paths\.group\(\s*(?:"([a-z0-9.]+)/v1"|group)\s*,[^,()]+,\s*(?:"([a-z]+)"|plural)', steps):
        if m.group(1) and m.group(2):
            used.add((m.group(1), m.group(2)))
    if "Paths.namespace(" in steps:
        used.add(("", "namespaces"))
    # Tuples iterated by the readiness step: ("apps/v1", "deployments"), ...
    for m in re.finditer(r'\("([a-z0-9.]+)/v1",\s*"([a-z]+)"\)', steps):
        used.add((m.group(1), m.group(2)))
    assert {("", "namespaces"), ("", "secrets"), ("", "resourcequotas"), ("", "limitranges"),
            ("networking.k8s.io", "networkpolicies"), ("apps", "deployments"), ("", "pods"), ("", "events")} <= used
    docs = render()
    grants = _grants(_rules(docs, "store-manager"))
    for kind in used:
        assert "get" in grants.get(kind, set()), f"worker cannot read {kind}"
    # create is cluster-wide (the namespace does not exist yet); patch and delete only inside it.
    assert "create" in _grants(_rules(docs, "worker"))[("", "namespaces")]
    assert {"get", "patch", "delete"} <= grants[("", "namespaces")]
    for kind in (("", "resourcequotas"), ("", "limitranges"), ("networking.k8s.io", "networkpolicies")):
        assert {"create", "patch"} <= grants[kind], f"server-side apply of {kind}"
    assert {"get", "create", "list", "update", "delete"} <= grants[("", "secrets")]  # store-credentials + helm records
    assert grants[("", "pods")] <= {"get", "list", "watch"}, "the worker only reads pods"
    assert grants[("", "events")] <= {"get", "list", "watch"}
    assert grants.get(("", "services/proxy")) == {"get"}


def test_every_rbac_rule_is_explained():
    text = (CHART / "templates" / "rbac.yaml").read_text()
    for role in text.split("kind: ClusterRole\n")[1:]:
        lines = role.split("---", 1)[0].splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                assert lines[i - 1].strip().startswith("#"), f"rule without a comment: {line.strip()} {lines[i + 1].strip()}"


def test_rbac_create_false_keeps_service_accounts():
    docs = render(extra={"rbac.create": "false"})
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    assert not by_kind(docs, "ValidatingAdmissionPolicy")
    assert {s["metadata"]["name"] for s in by_kind(docs, "ServiceAccount")} == {"sf-gateway", "sf-worker"}


# --- the processes' configuration -------------------------------------------------------------------

def _known_variables():
    text = "".join(p.read_text() for p in (REPO / "Sources").rglob("*.swift"))
    names = set(re.findall(r'\b(?:reader|ConfigurationReader\(\))\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', text))
    names |= set(re.findall(r'environment\["([A-Z][A-Z0-9_]+)"\]', text))
    assert {"DATABASE_URL", "REDIS_URL", "GATEWAY_HOST", "WORKER_HTTP_HOST", "HELM_BIN", "CHARTS_DIR"} <= names
    return names


def test_env_names_are_settings_the_processes_read():
    known = _known_variables()
    # Read by helm, by libc/Foundation, or only used for $(VAR) expansion inside the manifest.
    others = {"HOME", "TMPDIR", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME",
              "STOREFLEET_DB_PASSWORD", "STOREFLEET_REDIS_PASSWORD",
              "OTEL_EXPORTER_OTLP_PROTOCOL"}  # read by swift-otel
    docs = render("values-prod.yaml", {"observability.tracing.otlpEndpoint": "http://collector:4318"})
    for name in ("sf-gateway", "sf-worker"):
        for e in containers(named(docs, "Deployment", name))[0]["env"]:
            assert e["name"] in known | others, f"{name}: {e['name']} is read by nothing"


def test_gateway_settings():
    docs = render("values-prod.yaml")
    gw = named(docs, "Deployment", "sf-gateway")
    c = containers(gw)[0]
    env = env_of(c)
    assert env["GATEWAY_HOST"]["value"] == "0.0.0.0"
    assert env["GATEWAY_PORT"]["value"] == str(c["ports"][0]["containerPort"])
    assert env["STORE_DOMAIN"]["value"] == "stores.example.com" and env["STORE_TLS"]["value"] == "true"
    token = env["BOOTSTRAP_ADMIN_TOKEN_FILE"]["value"]
    mount = [m for m in c["volumeMounts"] if token.startswith(m["mountPath"] + "/")]
    assert mount and mount[0]["readOnly"] is True
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    svc = named(docs, "Service", "sf-gateway")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    # /metrics has a port of its own that neither the Service nor the Ingress forwards to; scrapers
    # find it on the pod.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert env["GATEWAY_METRICS_PORT"]["value"] == str(ports["metrics"]) != env["GATEWAY_PORT"]["value"]
    assert gw["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"]
    ingress = named(docs, "Ingress", "sf-gateway")
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert backends and all(b["name"] == "sf-gateway" for b in backends)
    assert all(b["port"].get("name") == "http" or b["port"].get("number") == svc["spec"]["ports"][0]["port"] for b in backends)


def test_worker_settings():
    for values_file in VALUES_FILES:
        docs = render(values_file)
        w = named(docs, "Deployment", "sf-worker")
        c = containers(w)[0]
        env = env_of(c)
        assert env["WORKER_HTTP_HOST"]["value"] == "0.0.0.0"
        assert env["WORKER_HTTP_PORT"]["value"] == str(c["ports"][0]["containerPort"])
        assert env["HELM_BIN"]["value"] == "/usr/local/bin/helm"
        assert env["CHARTS_DIR"]["value"] == "/opt/storefleet/charts"
        assert env["WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert "KUBECONFIG" not in env, "in a pod the worker uses its service account"
        grace = int(env["WORKER_SHUTDOWN_GRACE"]["value"].rstrip("s"))
        assert pod_spec(w)["terminationGracePeriodSeconds"] > grace
        values = yaml.safe_load((CHART / values_file).read_text())
        stores = {**yaml.safe_load((CHART / "values.yaml").read_text())["stores"], **values.get("stores", {})}
        assert env["INGRESS_CLASS"]["value"] == stores["ingressClass"]
        assert env["STORE_DOMAIN"]["value"] == stores["domain"]


def test_plans_file_reaches_gateway_and_worker(tmp_path):
    plans = {"default": "basic", "plans": {"basic": {"woocommerce": {"quota": {"limits.cpu": "2"}}, "medusa": {}}}}
    values = tmp_path / "plans.yaml"
    values.write_text(yaml.safe_dump({"stores": {"plans": plans}}))
    args = ["helm", "template", "sf", str(CHART), "--namespace", "storefleet", "-f", str(CHART / "values.yaml"), "-f", str(values)]
    res = subprocess.run(args, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    config = named(docs, "ConfigMap", "sf-plans")
    assert yaml.safe_load(config["data"]["plans.yaml"]) == plans
    stamps = set()
    for name in ("sf-gateway", "sf-worker"):
        deployment = named(docs, "Deployment", name)
        c = containers(deployment)[0]
        path = env_of(c)["PLANS_FILE"]["value"]
        mount = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount and mount[0]["readOnly"] is True, name
        volume = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount[0]["name"]]
        assert volume[0]["configMap"]["name"] == "sf-plans", name
        stamps.add(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/plans"])
    assert len(stamps) == 1, "both roll when the plans change"
    # Without plans: no ConfigMap, no PLANS_FILE (the built-in plans), in both.
    plain = render("values.yaml")
    assert not [d for d in plain if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "sf-plans"]
    assert all("PLANS_FILE" not in env_of(containers(named(plain, "Deployment", n))[0]) for n in ("sf-gateway", "sf-worker"))
    # The small plan's quota settings and a plans file do not mix.
    both = subprocess.run(args + ["--set", "stores.quotas.medusa=pods=3"], capture_output=True, text=True)
    assert both.returncode != 0 and "give each plan its quota" in both.stderr


def test_prod_values():
    docs = render("values-prod.yaml")
    worker_env = env_of(containers(named(docs, "Deployment", "sf-worker"))[0])
    assert worker_env["STORE_TLS"]["value"] == "true"
    assert worker_env["TLS_CLUSTER_ISSUER"]["value"] == "letsencrypt-prod"
    assert worker_env["STORAGE_CLASS"]["value"] == "local-path"
    assert worker_env["INGRESS_NAMESPACE"]["value"] == "kube-system"
    ing = named(docs, "Ingress", "sf-gateway")
    assert ing["spec"]["tls"] == [{"hosts": ["storefleet.example.com"], "secretName": "storefleet-gateway-tls"}]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert ing["spec"]["ingressClassName"] == "traefik"


def test_local_values():
    docs = render("values-local.yaml")
    ing = named(docs, "Ingress", "sf-gateway")
    assert ing["spec"]["rules"][0]["host"].endswith(".127.0.0.1.nip.io")
    assert "tls" not in ing["spec"]
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"
    assert not by_kind(docs, "HorizontalPodAutoscaler"), "kind has no metrics-server"
    assert named(docs, "Deployment", "sf-worker")["spec"]["replicas"] == 2
    # The images up.sh builds and loads.
    up = (REPO / "deploy" / "kind" / "up.sh").read_text()
    tag = re.search(r'IMAGE_TAG="([^"]+)"', up).group(1)
    for name in ("gateway", "worker"):
        image = containers(named(docs, "Deployment", f"sf-{name}"))[0]["image"]
        assert image == f"storefleet/{name}:{tag}" and f'"storefleet/{name}:$IMAGE_TAG"' in up


# --- scaling, availability ------------------------------------------------------------------------

def test_autoscaling_and_replicas():
    docs = render()
    hpa = named(docs, "HorizontalPodAutoscaler", "sf-worker")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sf-worker"}
    assert "replicas" not in named(docs, "Deployment", "sf-worker")["spec"], "the HPA owns replicas"
    assert named(docs, "Deployment", "sf-gateway")["spec"]["replicas"] == 2
    docs = render(extra={"worker.autoscaling.enabled": "false", "worker.replicas": "5"})
    assert named(docs, "Deployment", "sf-worker")["spec"]["replicas"] == 5
    assert not by_kind(docs, "HorizontalPodAutoscaler")


def test_pod_disruption_budgets(rendered):
    _, _, docs = rendered
    pdbs = {p["metadata"]["name"]: p for p in by_kind(docs, "PodDisruptionBudget")}
    for name in ("sf-gateway", "sf-worker"):
        deploy = named(docs, "Deployment", name)
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]
        assert pdbs[name]["spec"]["maxUnavailable"] >= 1, "a drain must always be able to proceed"
        assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def _check_scaled_object(so, list_name):
    """The ScaledObject fields this chart uses, against KEDA v2's keda.sh/v1alpha1 schema (its CRD is
    not in kubernetes-validate's schemas)."""
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    spec = so["spec"]
    assert set(spec) <= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                         "cooldownPeriod", "triggers", "advanced", "idleReplicaCount", "fallback"}
    assert set(spec["scaleTargetRef"]) <= {"apiVersion", "kind", "name", "envSourceContainerName"}
    for key in ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod"):
        assert isinstance(spec[key], int)
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert set(trigger) <= {"type", "metadata", "authenticationRef", "name", "metricType", "useCachedMetrics"}
    assert trigger["type"] == "redis"
    meta = trigger["metadata"]
    assert all(isinstance(v, str) for v in meta.values()), "trigger metadata values are strings"
    assert meta["listName"] == list_name and int(meta["listLength"]) >= 1
    assert re.fullmatch(r"[a-z0-9.-]+:\d+", meta["address"])
    return trigger


def test_keda_scaled_object_on_queue_length():
    docs = render(extra={**KEDA, "redisKeyPrefix": "sf-prod"})
    assert not by_kind(docs, "HorizontalPodAutoscaler"), "KEDA creates its own HPA"
    assert "replicas" not in named(docs, "Deployment", "sf-worker")["spec"]
    so = named(docs, "ScaledObject", "sf-worker")
    assert so["spec"]["scaleTargetRef"]["name"] == "sf-worker"
    trigger = _check_scaled_object(so, "sf-prod:queue")
    assert trigger["metadata"]["address"] == "sf-redis.storefleet.svc:6379"
    auth = named(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "sf-redis", "key": "password"}]
    # The RedisKeys prefix and list name the engine uses.
    keys = (REPO / "Sources" / "Jobs" / "RedisKeys.swift").read_text()
    assert 'var queue: String { "\\(prefix):queue" }' in keys
    # KEDA's operator may reach Redis.
    netpol = named(docs, "NetworkPolicy", "sf-queue")
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in netpol["spec"]["ingress"][0]["from"]


def test_keda_with_external_redis():
    docs = render(extra={**KEDA, **EXTERNAL, "worker.keda.redis.address": "redis.example.com:6379",
                         "worker.keda.redis.passwordSecret.name": "ext-redis-pw",
                         "worker.keda.redis.passwordSecret.key": "password"})
    trigger = _check_scaled_object(named(docs, "ScaledObject", "sf-worker"), "storefleet:queue")
    assert trigger["metadata"]["address"] == "redis.example.com:6379"
    auth = named(docs, "TriggerAuthentication", "sf-worker-redis")
    assert auth["spec"]["secretTargetRef"][0]["name"] == "ext-redis-pw"


@pytest.mark.parametrize("extra,message", [
    ({"worker.keda.enabled": "true", "worker.keda.minReplicaCount": "0"}, "minReplicaCount must be at least 1"),
    ({"postgresql.enabled": "false"}, "no database"),
    ({"redis.enabled": "false"}, "no Redis"),
    ({"externalDatabase.existingSecret": "x"}, "choose one database"),
    ({"stores.failedStorePolicy": "maybe"}, "keep or delete"),
    ({"host": ""}, "host is required"),
])
def test_contradictory_values_fail_clearly(extra, message):
    res = render(extra=extra, check=False)
    assert res.returncode != 0 and message in res.stderr, res.stderr


def test_network_policies_fence_the_data_stores():
    docs = render()
    for name, port in (("sf-database", 5432), ("sf-queue", 6379)):
        np = named(docs, "NetworkPolicy", name)
        assert np["spec"]["policyTypes"] == ["Ingress"]
        (rule,) = np["spec"]["ingress"]
        components = {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in rule["from"]}
        assert components == {"gateway", "worker"}
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_ingress_one_host_for_dashboard_and_api():
    docs = render(extra={"host": "sf.example.org", "ingress.tls.enabled": "true", "ingress.tls.clusterIssuer": "le"})
    ing = named(docs, "Ingress", "sf-gateway")
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == "sf.example.org"
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": "sf-gateway", "port": {"name": "http"}}}}]
    assert ing["spec"]["tls"] == [{"hosts": ["sf.example.org"], "secretName": "sf-tls"}]
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "le"
    # SSE through nginx: unbuffered, longer than one event stream.
    default = named(render(), "Ingress", "sf-gateway")["metadata"]["annotations"]
    assert default["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(default["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 300


# --- images and scripts -------------------------------------------------------------------------------

DOCKERFILE = REPO / "deploy" / "images" / "platform" / "Dockerfile"


def _stages():
    """The Dockerfile's stages by name: FROM line and body."""
    stages = {}
    for chunk in ("\n" + DOCKERFILE.read_text()).split("\nFROM ")[1:]:
        first, _, body = chunk.partition("\n")
        name = first.split(" AS ")[1].strip() if " AS " in first else None
        stages[name] = (first, body)
    return stages


def test_one_build_stage_makes_both_images_with_their_resources():
    package = (REPO / "Package.swift").read_text()
    products = dict(re.findall(r'\.executable\(name: "([^"]+)", targets: \["([^"]+)"\]\)', package))
    assert "storefleet-gateway" in products and "storefleet-worker" in products
    # Targets with resources: their bundles (storefleet_<Target>.resources) must ship next to the binaries.
    with_resources = set(re.findall(r'name: "(\w+)",(?:(?!\.target|\.executableTarget).)*?resources:', package, re.S))
    assert with_resources == {"Jobs", "Platform", "GatewayKit"}, f"new resource bundles: {with_resources}; copy them in the Dockerfile"
    stages = _stages()
    assert set(stages) == {"build", "helm", "runtime", "worker", "gateway"}
    build_from, build = stages["build"]
    assert re.fullmatch(r"swift:\d+\.\d+(\.\d+)?-bookworm AS build", build_from)
    runtime_from, runtime = stages["runtime"]
    assert runtime_from.startswith("debian:12.") and "-slim" in runtime_from
    packages = re.search(r"--no-install-recommends ([^\\\n]+)", runtime).group(1).split()
    assert set(packages) == {"ca-certificates", "libpq5", "libhiredis0.14", "libcurl4"}
    # The engine's and the platform's migrations (both executables migrate), the dashboard's files.
    needs = {"gateway": {"Jobs", "Platform", "GatewayKit"}, "worker": {"Jobs", "Platform"}}
    for name, bundles in needs.items():
        assert f"--static-swift-stdlib --product storefleet-{name}" in build
        copied = re.search(rf"cp -R ([^\n]+) /out/{name}/", build).group(1)
        assert set(re.findall(r'"\$bin/storefleet_(\w+)\.resources"', copied)) == bundles
        image_from, image = stages[name]
        assert image_from == f"runtime AS {name}"
        assert f"COPY --from=build /out/{name}/ /opt/storefleet/bin/" in image
        assert re.search(r"^USER 10001:10001$", image, re.M)
        assert re.search(rf'^ENTRYPOINT \["/opt/storefleet/bin/storefleet-{name}"\]$', image, re.M)
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text()
    assert ignore.splitlines()[1] == "*"
    for needed in ("Package.swift", "Sources/", "charts/woocommerce/", "charts/medusa/", "deploy/images/platform/"):
        assert f"!{needed}" in ignore


def test_worker_image_pins_helm_and_ships_the_store_charts():
    stages = _stages()
    helm = stages["helm"][1]
    worker = stages["worker"][1]
    here = DOCKERFILE.parent
    req = (here / "helm-requirements.txt").read_text()
    tools = (REPO / "scripts" / "install-tools.sh").read_text()
    pkg = re.search(r'layer_pkg="([^"]+)"', tools).group(1)
    assert pkg in req and re.search(r"--hash=sha256:[0-9a-f]{64}", req)
    assert "--require-hashes" in helm and "sha256sum -c helm.sha256" in helm
    helm_version = re.search(r'helm_version="([^"]+)"', tools).group(1)
    assert f"grep -qx '{helm_version}'" in helm
    assert re.fullmatch(r"[0-9a-f]{64}  /out/helm\n", (here / "helm.sha256").read_text())
    assert "COPY --from=helm /out/helm /usr/local/bin/helm" in worker
    for chart in ("woocommerce", "medusa"):
        assert f"COPY charts/{chart} /opt/storefleet/charts/{chart}" in worker
    assert "HELM_BIN=/usr/local/bin/helm" in worker and "CHARTS_DIR=/opt/storefleet/charts" in worker
    assert "helm" not in stages["gateway"][1], "the gateway image carries no helm"


def test_deploy_scripts_pin_versions_and_fail_fast():
    scripts = sorted((REPO / "deploy").rglob("*.sh"))
    assert {p.name for p in scripts} >= {"up.sh", "down.sh", "install.sh"}
    for p in scripts:
        text = p.read_text()
        assert text.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in text, p
    up = (REPO / "deploy" / "kind" / "up.sh").read_text()
    assert re.search(r'KIND_NODE_IMAGE="\$\{KIND_NODE_IMAGE:-kindest/node:v\d+\.\d+\.\d+', up)
    assert re.search(r'INGRESS_NGINX_CHART_VERSION="\d+\.\d+\.\d+"', up)
    k3s = (REPO / "deploy" / "k3s" / "install.sh").read_text()
    assert re.search(r'K3S_VERSION="\$\{K3S_VERSION:-v\d+\.\d+\.\d+\+k3s\d+\}"', k3s)
    assert re.search(r'CERT_MANAGER_VERSION="v\d+\.\d+\.\d+"', k3s)
    assert re.search(r'INGRESS_NGINX_CHART_VERSION="\d+\.\d+\.\d+"', k3s)
    assert "--version" in up and "--version" in k3s
    kind_config = yaml.safe_load((REPO / "deploy" / "kind" / "kind-config.yaml").read_text())
    ports = {m["containerPort"]: m["hostPort"] for m in kind_config["nodes"][0]["extraPortMappings"]}
    assert ports == {80: 80, 443: 443}


def test_postgres_connections_fit_the_largest_scale_out():
    """Every pod may open DATABASE_POOL_SIZE connections; the built-in server must accept them all."""
    for values_file in VALUES_FILES:
        docs = render(values_file)
        hpas = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"] for h in by_kind(docs, "HorizontalPodAutoscaler")}
        total = 0
        for name in ("sf-gateway", "sf-worker"):
            deploy = named(docs, "Deployment", name)
            pods = hpas.get(name, deploy["spec"].get("replicas", 1)) + 1  # +1: maxSurge during a rollout
            total += pods * int(env_of(containers(deploy)[0])["DATABASE_POOL_SIZE"]["value"])
        args = containers(named(docs, "StatefulSet", "sf-postgresql"))[0]["args"]
        limit = int(args[args.index("-c") + 1].split("=")[1])
        assert total + 3 <= limit, f"{values_file}: up to {total} connections, max_connections {limit}"


# --- observability: dashboards, rules and scraping for an existing Prometheus and Grafana --------------

OBSERVABILITY = {"observability.grafanaDashboards.enabled": "true", "observability.prometheusRule.enabled": "true",
                 "observability.serviceMonitor.enabled": "true"}
OBS_FILES = CHART / "files" / "observability"


def test_observability_objects_are_off_by_default(rendered):
    _, _, docs = rendered
    assert not [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert not [d for d in docs if d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"].get("labels", {})]


def test_dashboards_are_configmaps_the_grafana_sidecar_finds():
    import json
    docs = render("values-prod.yaml", {**OBSERVABILITY, "observability.grafanaDashboards.namespace": "monitoring"})
    boards = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert sorted(d["metadata"]["name"] for d in boards) == ["sf-dashboard-engine", "sf-dashboard-fleet", "sf-dashboard-gateway"]
    for d in boards:
        assert d["metadata"]["namespace"] == "monitoring"
        assert d["metadata"]["annotations"]["grafana_folder"] == "Storefleet"
        (key, text), = d["data"].items()
        board = json.loads(text)
        assert board == json.loads((OBS_FILES / "dashboards" / key.removeprefix("storefleet-")).read_text())
        assert board["uid"].startswith("storefleet-") and board["panels"]
        # Every query goes to the board's chosen Prometheus, not a datasource name of ours.
        assert all(t["datasource"]["uid"] == "${datasource}" for p in board["panels"] for t in p["targets"])
    custom = render("values.yaml", {**OBSERVABILITY, "observability.grafanaDashboards.label": "dashboards",
                                    "observability.grafanaDashboards.labelValue": "storefleet"})
    assert len([d for d in custom if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("dashboards") == "storefleet"]) == 3


def test_prometheus_rule_carries_the_rule_file_and_selector_labels():
    docs = render("values.yaml", {**OBSERVABILITY, "observability.prometheusRule.labels.release": "kube-prometheus-stack"})
    rule = named(docs, "PrometheusRule", "sf")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load((OBS_FILES / "storefleet-rules.yaml").read_text())
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {"StorefleetQueueBacklog", "StorefleetJobFailureRate", "StorefleetWorkersDown", "StorefleetLeasesReaped",
            "StorefleetGateway5xx", "StorefleetGatewayLatencyP99"} <= alerts


def test_service_monitor_scrapes_gateway_metrics_port_and_every_worker():
    docs = render("values-prod.yaml", OBSERVABILITY)
    monitor = named(docs, "ServiceMonitor", "sf")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in by_kind(docs, "Service") if all(d["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
    assert sorted(s["metadata"]["name"] for s in services) == ["sf-gateway-metrics", "sf-worker-metrics"]
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    for service in services:
        assert service["spec"]["clusterIP"] == "None", "headless: one target per replica"
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = deployments[f"sf-{component}"]["spec"]["template"]
        assert all(pod["metadata"]["labels"][k] == v for k, v in service["spec"]["selector"].items())
        port = service["spec"]["ports"][0]
        assert port["name"] == "metrics"
        names = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert port["targetPort"] in names, f"{component}: no container port named {port['targetPort']}"


def test_tracing_is_off_unless_an_endpoint_is_set():
    for docs, on in ((render("values-prod.yaml"), False),
                     (render("values-prod.yaml", {"observability.tracing.otlpEndpoint": "http://collector:4318"}), True)):
        for name in ("sf-gateway", "sf-worker"):
            env = env_of(containers(named(docs, "Deployment", name))[0])
            assert ("OTEL_EXPORTER_OTLP_ENDPOINT" in env) == on, name
            if on:
                assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://collector:4318"
                assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "http/protobuf"
