/// The job kinds that provision and delete stores, and their steps, shared by the gateway (which
/// enqueues them) and the worker (which runs them): the names stored with a job must be the worker's.
public enum StoreJobKinds {
    public static let createKind = "store.create"
    public static let createSteps = ["namespace", "guardrails", "secrets", "release", "readiness", "finalize"]

    public static let deleteKind = "store.delete"
    public static let deleteSteps = ["uninstall", "namespace", "wait-gone", "finalize"]

    /// Changes a ready store's plan or versions; `rollback` restores the previous revision when one of
    /// the steps before it failed for good, and does nothing otherwise.
    public static let updateKind = "store.update"
    public static let updateSteps = ["guardrails", "release", "readiness", "rollback", "finalize"]

    /// Scales every workload of a ready store to zero (its volumes stay) and waits until its pods are gone.
    public static let suspendKind = "store.suspend"
    public static let suspendSteps = ["release", "stopped", "finalize"]

    /// Brings a suspended store back and waits until it sells again.
    public static let resumeKind = "store.resume"
    public static let resumeSteps = ["release", "readiness", "finalize"]

    /// Works a fleet rollout through its waves (`rollouts`, `rollout_stores`); not a store's job.
    public static let rolloutKind = "rollout.run"
    public static let rolloutSteps = ["waves", "finalize"]
}
