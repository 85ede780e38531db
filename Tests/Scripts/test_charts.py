"""Assertions on the rendered store charts (rendered with the real helm binary).

Run through scripts/check-charts.sh (tools from scripts/install-tools.sh on PATH).
"""
import base64
import os
import pathlib
import subprocess

import pytest
import yaml

from manifests import assert_images_pinned, assert_requests_and_limits, containers, pod_spec, workloads

REPO = pathlib.Path(__file__).resolve().parents[2]
CHARTS = [c for c in ("woocommerce", "medusa") if (REPO / "charts" / c).is_dir()]
VALUES_FILES = ("values.yaml", "values-local.yaml", "values-prod.yaml")
SECRET_VALUES = ("s3cr3t-admin-pw", "s3cr3t-db-pw", "s3cr3t-root-pw", "s3cr3t-jwt", "s3cr3t-cookie")
COMPONENTS = {
    "woocommerce": {"database", "web", "setup"},
    "medusa": {"database", "backend", "storefront", "cache", "setup"},
}


def render(chart, values_file="values.yaml", extra=None, release="shop1"):
    args = [
        "helm", "template", release, str(REPO / "charts" / chart),
        "--namespace", "store-my-shop",
        "-f", str(REPO / "charts" / chart / values_file),
        "--set", "store.name=my-shop",
        "--set", "store.id=0b9c4a8e-1111-4c22-9333-444455556666",
        "--set", "store.host=my-shop.127.0.0.1.nip.io",
    ]
    for key, value in (extra or {}).items():
        args += ["--set", f"{key}={value}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


CASES = [(c, v) for c in CHARTS for v in VALUES_FILES]


@pytest.fixture(scope="module", params=CASES, ids=[f"{c}-{v}" for c, v in CASES])
def rendered(request):
    chart, values_file = request.param
    return chart, values_file, render(chart, values_file)


def test_probes_on_every_container(rendered):
    chart, _, docs = rendered
    for w in workloads(docs):
        for c in containers(w, init=False):
            assert "readinessProbe" in c, f"{chart} {w['metadata']['name']}/{c['name']} lacks readinessProbe"
            assert "livenessProbe" in c, f"{chart} {w['metadata']['name']}/{c['name']} lacks livenessProbe"


def test_requests_and_limits_on_every_container(rendered):
    chart, _, docs = rendered
    assert_requests_and_limits(docs, chart)


def test_security_context(rendered):
    chart, _, docs = rendered
    for w in workloads(docs):
        pod = pod_spec(w).get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, w["metadata"]["name"]
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        for c in containers(w):
            sc = c.get("securityContext", {})
            name = f"{chart} {w['metadata']['name']}/{c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], name
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
            assert sc.get("runAsNonRoot") is True, name
            assert not sc.get("privileged"), name


# Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
# which store namespaces enforce: every rule of the profile, for every pod the charts make.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}


def test_restricted_pod_security(rendered):
    chart, _, docs = rendered
    for w in workloads(docs):
        pod = pod_spec(w)
        where = f"{chart} {w['kind']}/{w['metadata']['name']}"
        for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
            assert not pod.get(key) or (key == "hostUsers" and pod[key] is False), f"{where}: {key}"
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUMES, f"{where}: volume {volume['name']} is {kinds}"
        pod_sc = pod.get("securityContext", {})
        assert pod_sc.get("runAsUser", 1) != 0, where
        for c in containers(w):
            sc = c.get("securityContext", {})
            name = f"{where}/{c['name']}"
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 1)) != 0, f"{name} runs as root"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
            assert set(sc.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, name
            assert sc.get("procMount", "Default") == "Default", name
            assert not sc.get("windowsOptions", {}).get("hostProcess"), name
            for port in c.get("ports", []):
                assert not port.get("hostPort"), f"{name}: hostPort"
            profile = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            assert profile in ("RuntimeDefault", "Localhost"), name


def test_images_pinned(rendered):
    _, _, docs = rendered
    assert_images_pinned(docs)


def test_labels_and_components(rendered):
    chart, _, docs = rendered
    seen = set()
    for w in workloads(docs):
        for labels in (w["metadata"]["labels"], w["spec"]["template"]["metadata"]["labels"]):
            assert labels["app.kubernetes.io/instance"] == "shop1"
            assert labels["app.kubernetes.io/component"] in COMPONENTS[chart]
        seen.add(w["metadata"]["labels"]["app.kubernetes.io/component"])
    assert seen == COMPONENTS[chart]


def test_database_has_persistent_volume(rendered):
    chart, values_file, docs = rendered
    dbs = [d for d in docs if d["kind"] == "StatefulSet"
           and d["metadata"]["labels"]["app.kubernetes.io/component"] == "database"]
    assert len(dbs) == 1
    claims = dbs[0]["spec"]["volumeClaimTemplates"]
    assert claims and claims[0]["spec"]["resources"]["requests"]["storage"]
    sc = claims[0]["spec"].get("storageClassName")
    if values_file == "values-prod.yaml":
        assert sc == "local-path"
    else:
        assert sc is None  # cluster default


def test_storage_class_from_global(rendered):
    chart, _, _ = rendered
    docs = render(chart, extra={"global.storageClass": "fast"})
    pvcs = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    pvcs += [t for d in docs if d["kind"] == "StatefulSet" for t in d["spec"]["volumeClaimTemplates"]]
    assert pvcs and all(p["spec"]["storageClassName"] == "fast" for p in pvcs)


def test_ingress_host_and_tls(rendered):
    chart, values_file, docs = rendered
    ing = [d for d in docs if d["kind"] == "Ingress"]
    assert len(ing) == 1
    spec = ing[0]["spec"]
    assert spec["rules"][0]["host"] == "my-shop.127.0.0.1.nip.io"
    if values_file == "values-prod.yaml":
        assert spec["tls"][0]["hosts"] == ["my-shop.127.0.0.1.nip.io"]
        assert ing[0]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    else:
        assert "tls" not in spec


def test_ingress_values_from_worker():
    for chart in CHARTS:
        docs = render(chart, extra={
            "ingress.className": "traefik", "ingress.tls.enabled": "true",
            "ingress.tls.secretName": "shop-cert", "ingress.tls.clusterIssuer": "le-staging",
            "store.host": "shop.example.com",
        })
        ing = [d for d in docs if d["kind"] == "Ingress"][0]
        assert ing["spec"]["ingressClassName"] == "traefik"
        assert ing["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-cert"}]
        assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "le-staging"
        assert all(r["host"] == "shop.example.com" for r in ing["spec"]["rules"])


def test_setup_job_present(rendered):
    chart, _, docs = rendered
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "setup"
    assert job["metadata"]["name"].endswith("-setup-r1")
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})


def test_no_secrets_rendered(rendered):
    chart, _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "charts must use store.existingSecret"
    # Every secret env var comes from the worker's Secret.
    for w in workloads(docs):
        for c in containers(w):
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "store-credentials"
                elif any(k in env["name"] for k in ("PASSWORD", "SECRET")):
                    pytest.fail(f"{env['name']} is not read from the Secret")


def test_no_literal_passwords_anywhere():
    """Values the worker would put in the Secret never show up in manifests."""
    for chart in CHARTS:
        docs = render(chart, extra={"store.existingSecret": "creds-xyz"})
        text = yaml.safe_dump_all(docs)
        for s in SECRET_VALUES:
            assert s not in text and base64.b64encode(s.encode()).decode() not in text
        assert "creds-xyz" in text
        for d in docs:
            if d["kind"] == "Secret":
                pytest.fail(f"{chart} renders a Secret {d['metadata']['name']}")


def test_required_values_fail_clearly():
    for chart in CHARTS:
        for missing in ("store.name", "store.id", "store.host"):
            args = ["helm", "template", "x", str(REPO / "charts" / chart)]
            for pair in ("store.name=my-shop", "store.id=u", "store.host=h"):
                if not pair.startswith(missing + "="):
                    args += ["--set", pair]
            res = subprocess.run(args, capture_output=True, text=True)
            assert res.returncode != 0
            assert f"{missing} is required" in res.stderr


def test_store_name_must_be_dns_label():
    res = subprocess.run(["helm", "template", "x", str(REPO / "charts" / CHARTS[0]),
                          "--set", "store.name=My_Shop", "--set", "store.id=u", "--set", "store.host=h"],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "DNS label" in res.stderr


def test_latest_tag_rejected():
    chart = CHARTS[0]
    image_key = "images.mariadb.tag" if chart == "woocommerce" else "images.postgres.tag"
    with pytest.raises(subprocess.CalledProcessError):
        render(chart, extra={image_key: "latest"})


def test_service_contract():
    """The in-cluster storefront API the worker calls."""
    expected = {"woocommerce": ("shop1-web", 80), "medusa": ("shop1-backend", 9000)}
    for chart in CHARTS:
        docs = render(chart)
        name, port = expected[chart]
        svc = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == name]
        assert svc, f"{chart}: Service {name} missing"
        assert port in [p["port"] for p in svc[0]["spec"]["ports"]]


def test_medusa_publishable_key_configmap_and_rbac():
    if "medusa" not in CHARTS:
        pytest.skip("no medusa chart")
    docs = render("medusa")
    cm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "medusa-publishable-key"]
    assert cm and "data" not in cm[0], "chart must not own the token (helm would overwrite it)"
    role = [d for d in docs if d["kind"] == "Role"][0]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["medusa-publishable-key"], "verbs": ["get", "patch"]}]
    for w in workloads(docs):
        spec = pod_spec(w)
        if w["kind"] == "Job":
            assert spec["serviceAccountName"] == "shop1-setup"
        else:
            assert spec["automountServiceAccountToken"] is False


def test_resource_totals_match_readme():
    """Keep the quota table in charts/README.md honest."""
    readme = (REPO / "charts" / "README.md").read_text()
    for chart in CHARTS:
        t = totals(render(chart))
        row = f"| {chart} | {t['pods']} | {t['req_cpu']}m | {t['req_mem']}Mi | {t['lim_cpu']}m | {t['lim_mem']}Mi | {t['pvcs']} | {t['storage']}Gi |"
        assert row in readme, f"README quota row out of date, expected:\n{row}"


def _cpu(v):
    v = str(v)
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def _mem(v):
    v = str(v)
    if v.endswith("Gi"):
        return int(float(v[:-2]) * 1024)
    assert v.endswith("Mi"), v
    return int(v[:-2])


def _gi(v):
    v = str(v)
    return float(v[:-2]) if v.endswith("Gi") else float(v[:-2]) / 1024


def totals(docs):
    """Pod-level requests/limits as a ResourceQuota counts them: max(sum of containers, any init container)."""
    t = dict(pods=0, req_cpu=0, req_mem=0, lim_cpu=0, lim_mem=0, pvcs=0, storage=0.0)
    for w in workloads(docs):
        replicas = w["spec"].get("replicas", 1)
        spec = pod_spec(w)
        for kind, key, conv in (("requests", "cpu", _cpu), ("requests", "memory", _mem),
                                ("limits", "cpu", _cpu), ("limits", "memory", _mem)):
            main = sum(conv(c["resources"][kind][key]) for c in spec["containers"])
            init = max([conv(c["resources"][kind][key]) for c in spec.get("initContainers", [])] or [0])
            field = ("req_" if kind == "requests" else "lim_") + ("cpu" if key == "cpu" else "mem")
            t[field] += replicas * max(main, init)
        t["pods"] += replicas
        for claim in w["spec"].get("volumeClaimTemplates", []):
            t["pvcs"] += replicas
            t["storage"] += replicas * _gi(claim["spec"]["resources"]["requests"]["storage"])
    for d in docs:
        if d["kind"] == "PersistentVolumeClaim":
            t["pvcs"] += 1
            t["storage"] += _gi(d["spec"]["resources"]["requests"]["storage"])
    t["storage"] = int(t["storage"]) if t["storage"] == int(t["storage"]) else t["storage"]
    return t


if __name__ == "__main__":
    for chart in CHARTS:
        print(chart, totals(render(chart)))


def test_wordpress_cannot_install_code_from_its_admin():
    # A tenant-installed plugin would run in the setup Job (WP-CLI loads plugins) with its API egress;
    # plugins and themes come from the chart, never from wp-admin. WP-CLI itself is not bound by it.
    docs = render("woocommerce")
    for w in workloads(docs):
        for c in containers(w):
            extra = next((e.get("value", "") for e in c.get("env", []) if e["name"] == "WORDPRESS_CONFIG_EXTRA"), None)
            if extra is not None:
                assert "define('DISALLOW_FILE_MODS', true);" in extra, f"{w['metadata']['name']}/{c['name']}"
                assert "define('DISALLOW_FILE_EDIT', true);" in extra
