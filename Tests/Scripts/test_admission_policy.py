"""The platform chart's ValidatingAdmissionPolicy, evaluated with a CEL evaluator (cel-python) against
admission requests the worker makes (allowed) and those an attacker holding its token would try
(denied). The expressions are kept to CEL that cel-python and the API server read alike.

Run through scripts/check-charts.sh.
"""
import pathlib
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "lib"))
import vap  # noqa: E402

WORKER = "system:serviceaccount:storefleet:sf-worker"
STORE_LABELS = {"app.kubernetes.io/managed-by": "storefleet", "storefleet.io/store-id": "0b9c4a8e-1111-4c22-9333-444455556666",
                "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.30"}


@pytest.fixture(scope="module")
def policy():
    out = subprocess.run(["helm", "template", "sf", str(REPO / "charts" / "platform"), "-n", "storefleet",
                          "--set", "host=a.example.com", "--set", "stores.domain=s.example.com",
                          "--show-only", "templates/rbac.yaml"], check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    policies = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert len(policies) == 1 and len(bindings) == 1
    return policies, bindings


def namespace(name, labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


STORE_NS = namespace("store-shop", STORE_LABELS)
KUBE_SYSTEM = namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})


def request(operation, group, resource, ns="", name="", obj=None, old=None, ns_object=None, user=WORKER, sub=""):
    return {
        "request": {"operation": operation, "namespace": ns, "name": name, "subResource": sub,
                    "resource": {"group": group, "version": "v1", "resource": resource},
                    "userInfo": {"username": user, "groups": ["system:serviceaccounts", "system:authenticated"]}},
        "object": obj, "oldObject": old, "namespaceObject": ns_object,
    }


def binding(role, account, kind="ClusterRole"):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "storefleet"}]}


def role(rules):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "setup"}, "rules": rules}


ALLOWED = {
    "create a store namespace": request("CREATE", "", "namespaces", "store-shop", "store-shop", obj=STORE_NS),
    "re-apply a store namespace's labels": request("UPDATE", "", "namespaces", "store-shop", "store-shop", obj=STORE_NS, old=STORE_NS),
    "delete a store namespace": request("DELETE", "", "namespaces", "store-shop", "store-shop", old=STORE_NS),
    "bind the worker in a store namespace": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "sf-store-manager",
                                                    obj=binding("sf-store-manager", "sf-worker"), ns_object=STORE_NS),
    "bind the gateway in a store namespace": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "sf-store-reader",
                                                     obj=binding("sf-store-reader", "sf-gateway"), ns_object=STORE_NS),
    "the Medusa chart's Role": request("CREATE", "rbac.authorization.k8s.io", "roles", "store-shop", "setup", ns_object=STORE_NS,
                                       obj=role([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["medusa-publishable-key"],
                                                  "verbs": ["get", "patch"]}])),
    "the Medusa chart's RoleBinding to its Role": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "setup",
                                                          obj=binding("setup", "setup", kind="Role"), ns_object=STORE_NS),
    "helm's release record": request("CREATE", "", "secrets", "store-shop", "sh.helm.release.v1.shop.v1", ns_object=STORE_NS,
                                     obj={"kind": "Secret", "metadata": {"name": "sh.helm.release.v1.shop.v1"}, "type": "helm.sh/release.v1"}),
    "a Deployment in a store namespace": request("CREATE", "apps", "deployments", "store-shop", "web", ns_object=STORE_NS,
                                                 obj={"kind": "Deployment", "metadata": {"name": "web"}}),
    "deleting a store's Secret": request("DELETE", "", "secrets", "store-shop", "store-credentials", ns_object=STORE_NS,
                                         old={"kind": "Secret", "metadata": {"name": "store-credentials"}}),
    "anyone else's request": request("CREATE", "apps", "deployments", "kube-system", "x", ns_object=KUBE_SYSTEM,
                                     obj={"kind": "Deployment", "metadata": {"name": "x"}}, user="system:admin"),
}

DENIED = {
    "a Deployment in kube-system": request("CREATE", "apps", "deployments", "kube-system", "x", ns_object=KUBE_SYSTEM,
                                           obj={"kind": "Deployment", "metadata": {"name": "x"}}),
    "binding its own ClusterRole in kube-system": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "kube-system", "sf-store-manager",
                                                          obj=binding("sf-store-manager", "sf-worker"), ns_object=KUBE_SYSTEM),
    "binding cluster-admin in a store namespace": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "x",
                                                          obj=binding("cluster-admin", "sf-worker"), ns_object=STORE_NS),
    "binding the store manager role to a store's pod": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "x",
                                                                obj=binding("sf-store-manager", "default"), ns_object=STORE_NS),
    "binding the reader role to the worker": request("CREATE", "rbac.authorization.k8s.io", "rolebindings", "store-shop", "x",
                                                     obj=binding("sf-store-reader", "sf-worker"), ns_object=STORE_NS),
    "a Role that reaches its namespace": request("CREATE", "rbac.authorization.k8s.io", "roles", "store-shop", "setup", ns_object=STORE_NS,
                                                 obj=role([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}])),
    "a Role that may bind": request("CREATE", "rbac.authorization.k8s.io", "roles", "store-shop", "setup", ns_object=STORE_NS,
                                    obj=role([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}])),
    "a Role with a wildcard": request("CREATE", "rbac.authorization.k8s.io", "roles", "store-shop", "setup", ns_object=STORE_NS,
                                      obj=role([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
    "a service-account-token Secret": request("CREATE", "", "secrets", "store-shop", "t", ns_object=STORE_NS,
                                              obj={"kind": "Secret", "metadata": {"name": "t", "annotations": {"kubernetes.io/service-account.name": "default"}},
                                                   "type": "kubernetes.io/service-account-token"}),
    "a Secret in kube-system": request("CREATE", "", "secrets", "kube-system", "t", ns_object=KUBE_SYSTEM,
                                       obj={"kind": "Secret", "metadata": {"name": "t"}}),
    "an unlabelled namespace": request("CREATE", "", "namespaces", "mine", "mine", obj=namespace("mine", {})),
    "a privileged store namespace": request("CREATE", "", "namespaces", "store-x", "store-x",
                                            obj=namespace("store-x", {**STORE_LABELS, "pod-security.kubernetes.io/enforce": "privileged"})),
    "an unpinned store namespace": request("CREATE", "", "namespaces", "store-x", "store-x",
                                           obj=namespace("store-x", {**STORE_LABELS, "pod-security.kubernetes.io/enforce-version": "latest"})),
    "relabelling a store namespace privileged": request("UPDATE", "", "namespaces", "store-shop", "store-shop", old=STORE_NS,
                                                        obj=namespace("store-shop", {**STORE_LABELS, "pod-security.kubernetes.io/enforce": "privileged"})),
    "removing the managed-by label": request("UPDATE", "", "namespaces", "store-shop", "store-shop", old=STORE_NS,
                                             obj=namespace("store-shop", {k: v for k, v in STORE_LABELS.items() if k != "app.kubernetes.io/managed-by"})),
    "labelling kube-system as a store": request("UPDATE", "", "namespaces", "kube-system", "kube-system", old=KUBE_SYSTEM,
                                                obj=namespace("kube-system", STORE_LABELS)),
    "deleting default": request("DELETE", "", "namespaces", "default", "default", old=namespace("default", {})),
    "deleting kube-node-lease": request("DELETE", "", "namespaces", "kube-node-lease", "kube-node-lease", old=namespace("kube-node-lease", {})),
    "a ClusterRoleBinding": request("CREATE", "rbac.authorization.k8s.io", "clusterrolebindings", "", "x",
                                    obj={"kind": "ClusterRoleBinding", "metadata": {"name": "x"},
                                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                                         "subjects": [{"kind": "ServiceAccount", "name": "sf-worker", "namespace": "storefleet"}]}),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_allowed(policy, case):
    allowed, message, _ = vap.decide(*policy, ALLOWED[case])
    assert allowed, message


@pytest.mark.parametrize("case", sorted(DENIED))
def test_denied(policy, case):
    allowed, message, reason = vap.decide(*policy, DENIED[case])
    assert not allowed and reason == "Forbidden"
    assert "denied request" in message and "resulted in error" not in message, message
