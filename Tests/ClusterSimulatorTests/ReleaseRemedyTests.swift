import Foundation
@testable import Provisioning
import Testing

/// What the release step does with a revision an earlier attempt left: Flux's remedies, but a pending
/// revision young enough to be an earlier attempt's helm still at work is left alone.
@Suite("Release remedies")
struct ReleaseRemedyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a pending revision younger than helm's budget plus the grace is waited for, an older one remediated")
    func pendingAge() {
        let young = HelmStorage.ReleaseStatus(status: "pending-install", revision: 1, created: now.addingTimeInterval(-100))
        let wait = Provisioner.pendingWait(young, releaseTimeout: 600, now: now)
        #expect(wait == 600 + Provisioner.pendingGrace - 100)
        let old = HelmStorage.ReleaseStatus(status: "pending-upgrade", revision: 3, created: now.addingTimeInterval(-700))
        #expect(Provisioner.pendingWait(old, releaseTimeout: 600, now: now) == nil)
        #expect(Provisioner.remedy(for: old) == "rollback")
        #expect(Provisioner.remedy(for: young) == "uninstall")
    }

    @Test("only pending revisions wait; failed and deployed ones are decided at once")
    func onlyPending() {
        let failed = HelmStorage.ReleaseStatus(status: "failed", revision: 1, created: now)
        #expect(Provisioner.pendingWait(failed, releaseTimeout: 600, now: now) == nil)
        #expect(Provisioner.remedy(for: failed) == "uninstall")
        let deployed = HelmStorage.ReleaseStatus(status: "deployed", revision: 2, created: now)
        #expect(Provisioner.pendingWait(deployed, releaseTimeout: 600, now: now) == nil)
        #expect(Provisioner.remedy(for: deployed) == nil)
    }

    @Test("helm's major version is read from both forms of `helm version`")
    func helmVersions() {
        #expect(ProvisioningSettings.helmMajorVersion("v4.1.4+g05fa379") == 4)
        #expect(ProvisioningSettings.helmMajorVersion(#"version.BuildInfo{Version:"v3.14.2", GitCommit:"c309b6f"}"#) == 3)
        #expect(ProvisioningSettings.helmMajorVersion("helm is great") == nil)
    }


    @Test("helm is pointed at the worker's own cluster: its kubeconfig and, when KUBE_CONTEXT names one, its context")
    func helmConnection() {
        #expect(HelmRunner(binary: "helm", kubeconfig: "/k", kubeContext: "staging").connection == ["--kubeconfig", "/k", "--kube-context", "staging"])
        #expect(HelmRunner(binary: "helm", kubeconfig: "/k").connection == ["--kubeconfig", "/k"])
        #expect(HelmRunner(binary: "helm", kubeconfig: nil).connection.isEmpty, "in a pod helm finds the service account itself")
    }

    /// Refusals as a real API server words them (kube-apiserver 1.30–1.36), as helm passes them on.
    @Test("refusals no retry can change end the release at once; the rest is retried", arguments: [
        (#"Error: UPGRADE FAILED: persistentvolumeclaims "shop-wp-content" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"#, "LimitRange"),
        (#"Error: pods "shop-web-0" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1]"#, "LimitRange"),
        (#"Error: INSTALLATION FAILED: pods "shop-setup-x" is forbidden: violates PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false"#, "Pod Security admission"),
        (#"Error: UPGRADE FAILED: cannot patch "shop-db" with kind StatefulSet: StatefulSet.apps "shop-db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas' are forbidden"#, "validation"),
        (#"Error: UPGRADE FAILED: cannot patch "shop-setup" with kind Job: Job.batch "shop-setup" is invalid: spec.template: Invalid value: field is immutable"#, "an immutable field"),
        (#"Error: failed to create typed patch object: .spec.foo: field not declared in schema; strict decoding error: unknown field "spec.foo""#, "schema validation"),
        (#"Error: admission webhook "validate.kyverno.svc" denied the request: policy disallows latest tag"#, "an admission webhook"),
        (#"Error: persistentvolumeclaims "shop-data" is forbidden: exceeded quota: storefleet, requested: requests.storage=20Gi, used: requests.storage=0, limited: requests.storage=10Gi"#, "ResourceQuota: the request alone exceeds the quota"),
    ])
    func permanentRefusals(_ message: String, _ kind: String) {
        #expect(Provisioner.permanentRefusal(message) == kind)
        #expect(Provisioner.releaseFailure(message, chart: "charts/woocommerce").disposition == .permanent)
    }

    @Test("what may pass later is retried: a quota filled by pods still going away, conflicts, server errors, another operation")
    func retriedRefusals() {
        for message in [
            #"Error: pods "shop-web-1" is forbidden: exceeded quota: storefleet, requested: pods=1, used: pods=6, limited: pods=6"#,
            #"Error: UPGRADE FAILED: Operation cannot be fulfilled on deployments.apps "shop-web": the object has been modified"#,
            "Error: UPGRADE FAILED: the server is currently unable to handle the request",
            "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
            "Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:6443/version\": dial tcp: connection refused",
        ] {
            #expect(Provisioner.permanentRefusal(message) == nil, "\(message)")
            #expect(Provisioner.releaseFailure(message, chart: "charts/medusa").disposition != .permanent, "\(message)")
        }
        #expect(Provisioner.quantity("500m") == 0.5 && Provisioner.quantity("2Gi") == 2 * 1024 * 1024 * 1024 && Provisioner.quantity("3") == 3)
    }
}
