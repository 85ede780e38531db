@testable import Provisioning
import ServiceRuntime
import Testing

@Suite("Provisioning settings")
struct ProvisioningSettingsTests {
    @Test("WOOCOMMERCE_QUOTA sizes the built-in small plan, per engine; the other engine keeps its defaults")
    func quotasFromConfiguration() throws {
        let settings = try ProvisioningSettings(from: ConfigurationReader([
            "WOOCOMMERCE_QUOTA": "limits.cpu=8, limits.memory=16Gi,pods=12,pvcs=4,max-volume=20Gi,default-limit.memory=1Gi",
        ]))
        let woo = try #require(settings.plans.plans["small"]?.engines["woocommerce"]?.quota)
        #expect(woo.limitsCPU == "8" && woo.limitsMemory == "16Gi" && woo.pods == 12 && woo.persistentVolumeClaims == 4)
        #expect(woo.maxVolumeSize == "20Gi" && woo.defaultLimitMemory == "1Gi")
        #expect(woo.requestsCPU == "1", "keys not named keep their defaults")
        #expect(settings.plans.plans["small"]?.engines["medusa"]?.quota.limitsCPU == "5")
        #expect(settings.plans.plans["medium"]?.engines["woocommerce"]?.quota.limitsCPU == "8", "only small takes the setting: it sized every store before plans")
    }

    @Test("a malformed quota stops start-up with the variable and the reason", arguments: [
        ("pods=many", "is not a count"), ("limits.cpu=lots", "is not a Kubernetes quantity"),
        ("cpu=1", "unknown key cpu"), ("limits.cpu", "expected key=value"),
    ])
    func malformedQuota(_ value: String, _ reason: String) throws {
        let error = #expect(throws: ConfigurationError.self) {
            _ = try ProvisioningSettings(from: ConfigurationReader(["MEDUSA_QUOTA": value]))
        }
        #expect(error?.variable == "MEDUSA_QUOTA")
        #expect(error?.problem.contains(reason) == true, "\(error?.problem ?? "")")
    }

    @Test("API_SERVER_CIDRS must be CIDRs")
    func apiServerCIDRs() throws {
        let settings = try ProvisioningSettings(from: ConfigurationReader(["API_SERVER_CIDRS": "10.0.0.0/24, 172.18.0.2/32"]))
        #expect(settings.apiServerCIDRs == ["10.0.0.0/24", "172.18.0.2/32"])
        #expect(throws: ConfigurationError.self) { _ = try ProvisioningSettings(from: ConfigurationReader(["API_SERVER_CIDRS": "10.0.0.1"])) }
    }

    @Test("STORE_ROLE_BINDINGS names cluster roles and service accounts; anything else stops start-up")
    func storeRoleBindings() throws {
        let settings = try ProvisioningSettings(from: ConfigurationReader([
            "STORE_ROLE_BINDINGS": "sf-store-manager=storefleet/sf-worker, sf-store-reader=storefleet/sf-gateway",
        ]))
        #expect(settings.storeRoleBindings == [
            .init(clusterRole: "sf-store-manager", namespace: "storefleet", serviceAccount: "sf-worker"),
            .init(clusterRole: "sf-store-reader", namespace: "storefleet", serviceAccount: "sf-gateway"),
        ])
        #expect(try ProvisioningSettings(from: ConfigurationReader([:])).storeRoleBindings.isEmpty)
        for bad in ["sf-store-manager", "sf-store-manager=sf-worker", "=storefleet/sf-worker", "Admin=storefleet/sf-worker", "r=ns/a/b"] {
            let error = #expect(throws: ConfigurationError.self, "\(bad)") {
                _ = try ProvisioningSettings(from: ConfigurationReader(["STORE_ROLE_BINDINGS": bad]))
            }
            #expect(error?.variable == "STORE_ROLE_BINDINGS")
        }
    }

    @Test("helm gets what it reads of the worker's environment, never the worker's secrets")
    func helmEnvironment() {
        let child = HelmRunner.childEnvironment([
            "PATH": "/usr/bin", "HOME": "/home/w", "HELM_CACHE_HOME": "/tmp/helm", "HELM_DRIVER": "configmap", "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            "HTTPS_PROXY": "http://proxy:3128", "LC_ALL": "C.UTF-8",
            "DATABASE_URL": "postgres://storefleet:secret@db/storefleet", "REDIS_URL": "redis://:secret@redis:6379",
            "STOREFLEET_DB_PASSWORD": "secret", "BOOTSTRAP_ADMIN_TOKEN": "sfk_x",
        ])
        #expect(Set(child.keys) == ["PATH", "HOME", "HELM_CACHE_HOME", "KUBERNETES_SERVICE_HOST", "HTTPS_PROXY", "LC_ALL"])
        #expect(!child.values.contains { $0.contains("secret") })
    }

    @Test("a helm ended by a signal says which, instead of an exit code")
    func signalMessage() async throws {
        let killed = try await ChildProcess.run("/bin/sh", ["-c", "kill -9 $$"])
        #expect(HelmRunner.message(killed).contains("signal 9 (SIGKILL: out of memory, or killed from outside)"))
        let failed = try await ChildProcess.run("/bin/sh", ["-c", "exit 3"])
        #expect(HelmRunner.message(failed) == "exit code 3")
    }
}
