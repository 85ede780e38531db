/// The job kinds that provision and delete stores, and their steps, shared by the gateway (which
/// enqueues them) and the worker (which runs them): the names stored with a job must be the worker's.
public enum StoreJobKinds {
    public static let createKind = "store.create"
    public static let createSteps = ["namespace", "guardrails", "secrets", "release", "readiness", "finalize"]

    public static let deleteKind = "store.delete"
    public static let deleteSteps = ["uninstall", "namespace", "wait-gone", "finalize"]
}
