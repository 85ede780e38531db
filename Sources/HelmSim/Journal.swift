import Foundation
import KubeClient
import ServiceRuntime

/// One JSON line at the start and the end of every release operation (HELM_SIM_JOURNAL), so suites can
/// prove that no release was ever operated on by two processes at once. The open operation is kept so
/// that a SIGTERM, or an exit through an error, still journals its end.
final class Journal: Sendable {
    struct Operation: Sendable {
        let namespace: String
        let release: String
        let operation: String
    }

    private let path: String?
    private let open = LockedState<Operation?>(nil)

    init(path: String?) {
        self.path = path?.isEmpty == false ? path : nil
    }

    func start(_ operation: Operation, revision: Int? = nil) {
        open.withLock { $0 = operation }
        write(event: "start", operation, extra: revision.map { ["revision": .number(Double($0))] } ?? [:])
    }

    func end(_ operation: Operation, outcome: String, revision: Int? = nil) {
        open.withLock { $0 = nil }
        var extra: [String: JSON] = ["outcome": .string(outcome)]
        if let revision { extra["revision"] = .number(Double(revision)) }
        write(event: "end", operation, extra: extra)
    }

    /// Ends whatever operation is open, for exits that do not pass through its own end.
    func endOpenOperation(outcome: String) {
        if let operation = open.withLock({ $0 }) { end(operation, outcome: outcome) }
    }

    private func write(event: String, _ operation: Operation, extra: [String: JSON]) {
        guard let path else { return }
        var record: [String: JSON] = [
            "at": .number(Date().timeIntervalSince1970), "event": .string(event), "namespace": .string(operation.namespace),
            "release": .string(operation.release), "pid": .number(Double(getpid())), "operation": .string(operation.operation),
        ]
        record.merge(extra) { $1 }
        var line = JSON.object(record).serialized()
        line.append(0x0A)
        // O_APPEND writes of one line are atomic between the processes sharing the journal.
        let descriptor = Foundation.open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = line.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// Faults from the JSON file HELM_SIM_FAULTS, read on every call so a test can change them at run time:
/// `{"fail": [...], "hang": [...], "hangAfterApply": [...], "stuck": [...]}`, each a list of release or
/// namespace substrings. `hang` stops before anything is applied, `hangAfterApply` once every object
/// is (a helm killed late in an install, its pods already running).
struct Faults {
    var fail: [String] = []
    var hang: [String] = []
    var hangAfterApply: [String] = []
    var stuck: [String] = []

    static func load(_ path: String?) throws(HelmFailure) -> Faults {
        guard let path, !path.isEmpty, let data = FileManager.default.contents(atPath: path) else { return Faults() }
        let json: JSON
        do { json = try JSON(parsing: data) } catch { throw HelmFailure("helm-sim: \(path) is not JSON: \(error)") }
        func list(_ key: String) -> [String] { json[key]?.arrayValue?.compactMap(\.string) ?? [] }
        return Faults(fail: list("fail"), hang: list("hang"), hangAfterApply: list("hangAfterApply"), stuck: list("stuck"))
    }

    static func matches(_ patterns: [String], namespace: String, release: String) -> Bool {
        patterns.contains { $0 == "*" || release.contains($0) || namespace.contains($0) }
    }
}
