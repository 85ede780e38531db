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
}
