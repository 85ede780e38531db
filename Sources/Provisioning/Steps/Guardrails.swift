import Jobs
import KubeClient

extension Provisioner {
    /// ResourceQuota, LimitRange and NetworkPolicies: a store gets a fixed share of the cluster, default
    /// requests and limits, capped volumes, and a deny-by-default network with only what it needs open.
    func guardrailsStep() -> StepDefinition {
        StepDefinition("guardrails", timeout: 60, retry: RetryPolicy(maxAttempts: 8, initialDelay: 1, maxDelay: 20)) { context in
            try await applyGuardrails(try await self.store(context), context: context)
        }
    }

    /// The guardrails of the store's plan. An update applies its new plan's before the release, so
    /// that the new pods fit the new quota (a larger one) and no quota is left that they overflow.
    func applyGuardrails(_ store: StoreRecord, context: StepContext) async throws {
        let quota = try settings.plan(store.spec.plan, engine: store.engine).quota
        let ns = store.namespace
        let apiServer = try await apiServerAddresses()
        for (path, object) in Guardrails.objects(namespace: ns, quota: quota, ingressNamespace: settings.ingressNamespace,
                                                 apiServerCIDRs: settings.apiServerCIDRs, apiServer: apiServer) {
            try context.checkpoint()
            try await kube.apply(path, object)
        }
        try context.checkpoint()
        try await markSetupEgress(ns, apiServer)
    }

    /// The API server's addresses for the setup egress policy. A refusal says what to grant: without
    /// them the policy would have to admit every address, which is what it exists to prevent.
    func apiServerAddresses() async throws -> APIServerAddresses {
        do {
            return try await apiServerCache.current(kube)
        } catch {
            guard !error.isRetryable else { throw error }
            throw StepFailure.permanent(
                "cannot learn the API server's addresses for the setup Job's egress policy (\(error)); the worker needs get on the "
                    + "kubernetes Service and EndpointSlice in default, which the platform chart grants"
            )
        }
    }

    /// Records on the namespace which addresses its setup egress policy admits (a merge patch of one
    /// annotation, so that it never touches the labels the namespace step owns).
    func markSetupEgress(_ namespace: String, _ addresses: APIServerAddresses) async throws(KubeError) {
        let patch: JSON = ["metadata": ["annotations": [Guardrails.setupEgressAnnotation: .string(addresses.fingerprint)]]]
        _ = try await kube.send("PATCH", Paths.namespace(namespace), body: Array(patch.serialized()), contentType: "application/merge-patch+json")
    }
}

enum Guardrails {
    /// On each store namespace: the addresses (`APIServerAddresses.fingerprint`) its setup egress admits.
    static let setupEgressAnnotation = "storefleet.io/setup-egress"
    static let setupEgressPolicy = "allow-setup-to-apiserver"

    static func objects(
        namespace ns: String, quota: ProvisioningSettings.Quota, ingressNamespace: String, apiServerCIDRs: [String] = [], apiServer: APIServerAddresses
    ) -> [(String, JSON)] {
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
        func policy(_ name: String, _ spec: JSON) -> JSON { Self.policy(ns, name, spec) }
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
            setupEgress(namespace: ns, apiServer),
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

    static func policy(_ ns: String, _ name: String, _ spec: JSON) -> JSON {
        ["apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": ["name": .string(name), "namespace": .string(ns), "labels": ["app.kubernetes.io/managed-by": "storefleet"]], "spec": spec]
    }

    /// The setup Jobs talk to the API server (Medusa's writes the publishable key into a ConfigMap;
    /// WooCommerce's runs WP-CLI, which loads tenant plugins): to its addresses and ports only, never
    /// to another private address or the cloud metadata service.
    static func setupEgress(namespace ns: String, _ apiServer: APIServerAddresses) -> JSON {
        policy(ns, setupEgressPolicy, [
            "podSelector": ["matchLabels": ["app.kubernetes.io/component": "setup"]], "policyTypes": ["Egress"],
            "egress": [[
                "to": .array(apiServer.cidrs.map { ["ipBlock": ["cidr": .string($0)]] }),
                "ports": .array(apiServer.ports.map { ["protocol": "TCP", "port": .number(Double($0))] }),
            ]],
        ])
    }

    static func setupEgressPath(_ ns: String) -> String {
        Paths.group("networking.k8s.io/v1", ns, "networkpolicies", setupEgressPolicy)
    }
}
