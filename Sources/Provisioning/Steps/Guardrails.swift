import Jobs
import KubeClient

extension Provisioner {
    /// ResourceQuota, LimitRange and NetworkPolicies: a store gets a fixed share of the cluster, default
    /// requests and limits, capped volumes, and a deny-by-default network with only what it needs open.
    func guardrailsStep() -> StepDefinition {
        StepDefinition("guardrails", timeout: 60, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            let store = try await self.store(context)
            guard let quota = settings.quotas[store.engine] else {
                throw StepFailure.permanent("no guardrails are configured for engine \(store.engine)")
            }
            let ns = store.namespace
            for (path, object) in Guardrails.objects(namespace: ns, quota: quota, ingressNamespace: settings.ingressNamespace, apiServerCIDRs: settings.apiServerCIDRs) {
                try context.checkpoint()
                try await kube.apply(path, object)
            }
        }
    }
}

enum Guardrails {
    static func objects(namespace ns: String, quota: ProvisioningSettings.Quota, ingressNamespace: String, apiServerCIDRs: [String] = []) -> [(String, JSON)] {
        let meta: (String) -> JSON = { name in ["name": .string(name), "namespace": .string(ns), "labels": ["app.kubernetes.io/managed-by": "storefleet"]] }
        let quotaObject: JSON = [
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("storefleet-quota"),
            "spec": ["hard": [
                "requests.cpu": .string(quota.requestsCPU), "requests.memory": .string(quota.requestsMemory),
                "limits.cpu": .string(quota.limitsCPU), "limits.memory": .string(quota.limitsMemory),
                "pods": .string(String(quota.pods)), "persistentvolumeclaims": .string(String(quota.persistentVolumeClaims)),
                "requests.storage": .string(quota.storage), "services.loadbalancers": "0", "services.nodeports": "0",
            ]],
        ]
        let limitRange: JSON = [
            "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("storefleet-limits"),
            "spec": ["limits": [
                ["type": "Container",
                 "default": ["cpu": .string(quota.defaultLimitCPU), "memory": .string(quota.defaultLimitMemory)],
                 "defaultRequest": ["cpu": .string(quota.defaultRequestCPU), "memory": .string(quota.defaultRequestMemory)]],
                ["type": "PersistentVolumeClaim", "max": ["storage": .string(quota.maxVolumeSize)]],
            ]],
        ]
        func policy(_ name: String, _ spec: JSON) -> JSON {
            ["apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(name), "spec": spec]
        }
        let everyPod: JSON = ["podSelector": [:]]
        let policies: [JSON] = [
            policy("default-deny", ["podSelector": [:], "policyTypes": ["Ingress", "Egress"]]),
            policy("allow-same-namespace", ["podSelector": [:], "policyTypes": ["Ingress", "Egress"],
                                            "ingress": [["from": [everyPod]]], "egress": [["to": [everyPod]]]]),
            policy("allow-ingress-controller", ["podSelector": [:], "policyTypes": ["Ingress"],
                                                "ingress": [["from": [["namespaceSelector": ["matchLabels": ["kubernetes.io/metadata.name": .string(ingressNamespace)]]]]]]]),
            policy("allow-dns", ["podSelector": [:], "policyTypes": ["Egress"], "egress": [[
                "to": [["namespaceSelector": ["matchLabels": ["kubernetes.io/metadata.name": "kube-system"]],
                        "podSelector": ["matchLabels": ["k8s-app": "kube-dns"]]]],
                "ports": [["protocol": "UDP", "port": 53], ["protocol": "TCP", "port": 53]],
            ]]]),
            // The internet, but not the cloud metadata service nor private ranges, where other stores'
            // pods and the cluster's own services live.
            policy("allow-internet", ["podSelector": [:], "policyTypes": ["Egress"], "egress": [[
                "to": [["ipBlock": ["cidr": "0.0.0.0/0", "except": ["169.254.169.254/32", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"]]]],
            ]]]),
            // Medusa's setup Job writes the publishable key into a ConfigMap through the API server.
            policy("allow-setup-to-apiserver", ["podSelector": ["matchLabels": ["app.kubernetes.io/component": "setup"]], "policyTypes": ["Egress"],
                                                "egress": [["ports": [["protocol": "TCP", "port": 443], ["protocol": "TCP", "port": 6443]]]]]),
        ]
        // The readiness check asks the store for products through the API server's service proxy; where
        // that traffic leaves from a control-plane address (not the pod's own node), it must be admitted.
        let proxyPolicies: [JSON] = apiServerCIDRs.isEmpty ? [] : [
            policy("allow-apiserver-proxy", ["podSelector": [:], "policyTypes": ["Ingress"],
                                             "ingress": [["from": .array(apiServerCIDRs.map { ["ipBlock": ["cidr": .string($0)]] })]]]),
        ]
        return [(Paths.core(ns, "resourcequotas", "storefleet-quota"), quotaObject), (Paths.core(ns, "limitranges", "storefleet-limits"), limitRange)]
            + (policies + proxyPolicies).map { (Paths.group("networking.k8s.io/v1", ns, "networkpolicies", $0.at("metadata", "name")!.string!), $0) }
    }
}
