import KubeClient
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceRuntime

/// How the simulator starts.
public struct SimulatorSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 0
    /// Where the CA, certificates and kubeconfig are written.
    public var stateDirectory: URL
    /// The bearer token clients must present (generated when nil).
    public var token: String?
    public var timing = SimulatorTiming()
    public var faults = FaultSettings()
    /// Where ValidatingAdmissionPolicies are evaluated (`scripts/lib/vap.py serve`); see Admission.swift.
    public var admissionEvaluator: String?
    /// The Kubernetes OpenAPI definitions fields are validated against (`_definitions.json` of
    /// kubernetes-validate's schemas for the version kube-sim reports); nil: no field validation.
    public var schemaFile: URL?
    /// How many requests are kept for `/sim/requests`.
    public var recordLimit = 100_000

    public init(stateDirectory: URL) {
        self.stateDirectory = stateDirectory
    }
}

/// A Kubernetes API stand-in in the spirit of KWOK: it speaks the REST API (JSON) for the resources the
/// platform uses, over HTTPS with its own CA and bearer-token or client-certificate authentication, makes
/// workloads ready on their own, and injects faults on request. See docs/simulator.md.
public final class ClusterSimulator: Sendable {
    public let settings: SimulatorSettings
    public let store = ObjectStore()
    public let token: String
    let serviceAccountTokens = ServiceAccountTokens()
    let admissionEvaluator = LockedState<KubeClient?>(nil)
    let fieldSchemas = LockedState<FieldSchemas?>(nil)
    let faults: LockedState<FaultSettings>
    let timing: LockedState<SimulatorTiming>
    let controllers: Controllers
    private let recorded = LockedState<(next: Int, items: [RecordedRequest])>((1, []))
    private let boundPort = LockedState<Int?>(nil)
    let logger: Logger

    public init(settings: SimulatorSettings, logger: Logger) {
        self.settings = settings
        self.token = settings.token ?? Self.randomToken()
        defer { setAdmissionEvaluator(settings.admissionEvaluator) }
        self.faults = LockedState(settings.faults)
        self.timing = LockedState(settings.timing)
        self.controllers = Controllers(store: store, faults: faults, timing: timing)
        self.logger = logger
    }

    /// The HTTPS URL once the server listens.
    public var url: String? { boundPort.withLock { $0 }.map { "https://\(settings.host):\($0)" } }

    public func setFaults(_ faults: FaultSettings) { self.faults.withLock { $0 = faults } }
    public func setTiming(_ timing: SimulatorTiming) { self.timing.withLock { $0 = timing } }

    public var requests: [RecordedRequest] { recorded.withLock { $0.items } }

    /// Creates certificates, serves until cancelled, and calls `onReady` with the kubeconfig path once listening.
    public func run(onReady: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        if let file = settings.schemaFile {
            let schemas = try FieldSchemas.load(file)
            fieldSchemas.withLock { $0 = schemas }
        }
        let certificates = try await SimulatorCertificates.make(in: settings.stateDirectory)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificate.path).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKey.path, format: .pem))
        )
        tls.trustRoots = .file(certificates.caCertificate.path)
        tls.certificateVerification = .optionalVerification
        tls.minimumTLSVersion = .tlsv12

        let router = Router(context: SimulatorContext.self)
        router.on("**", method: .get) { request, context in try await self.handle(request, context) }
        router.on("**", method: .post) { request, context in try await self.handle(request, context) }
        router.on("**", method: .put) { request, context in try await self.handle(request, context) }
        router.on("**", method: .patch) { request, context in try await self.handle(request, context) }
        router.on("**", method: .delete) { request, context in try await self.handle(request, context) }

        let app = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "kube-sim"),
            onServerRunning: { channel in
                guard let port = channel.localAddress?.port else { return }
                self.boundPort.withLock { $0 = port }
                self.seedSystemObjects()
                do {
                    let path = try self.writeKubeconfig(certificates: certificates, port: port)
                    onReady(path)
                } catch {
                    self.logger.error("cannot write the kubeconfig", metadata: ["error": "\(error)"])
                }
            },
            logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.controllers.run() }
            group.addTask { try await app.runService() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// What a cluster holds before anyone writes to it: the system namespaces, and the `kubernetes`
    /// Service in `default` with its EndpointSlice, which name this server's own address as a real API
    /// server's endpoint reconciler does. Seeded at start and after a reset.
    public static let systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
    public static let serviceClusterIP = "10.96.0.1"

    func seedSystemObjects() {
        guard let port = boundPort.withLock({ $0 }) else { return }
        func type(_ plural: String) -> ResourceType { ResourceCatalog.types.first { $0.plural == plural }! }
        var objects: [(ResourceType, String?, JSON)] = Self.systemNamespaces.map { (type("namespaces"), nil, ["metadata": ["name": .string($0)]]) }
        objects.append((type("services"), "default", [
            "metadata": ["name": "kubernetes", "labels": ["component": "apiserver", "provider": "kubernetes"]],
            "spec": [
                "type": "ClusterIP", "clusterIP": .string(Self.serviceClusterIP), "clusterIPs": [.string(Self.serviceClusterIP)],
                "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": .number(Double(port))]],
            ],
        ]))
        objects.append((type("endpointslices"), "default", [
            "metadata": ["name": "kubernetes", "labels": ["kubernetes.io/service-name": "kubernetes"]],
            "addressType": "IPv4",
            "endpoints": [["addresses": [.string(settings.host)], "conditions": ["ready": true]]],
            "ports": [["name": "https", "port": .number(Double(port)), "protocol": "TCP"]],
        ]))
        for (type, namespace, object) in objects {
            do {
                _ = try store.create(type, namespace: namespace, object: object)
            } catch {
                if error.code != 409 { logger.error("cannot seed a system object", metadata: ["kind": "\(type.kind)", "error": "\(error)"]) }
            }
        }
    }

    func writeKubeconfig(certificates: SimulatorCertificates, port: Int) throws -> String {
        let server = "https://\(settings.host):\(port)"
        // "kubeconfig" last: its appearance tells waiting clients that all three are written.
        let variants: [(String, Kubeconfig.Credential, Kubeconfig.Authority)] = [
            ("kubeconfig-ca-file", .token(token), .file),
            ("kubeconfig-client-cert", .clientCertificate, .embedded),
            ("kubeconfig", .token(token), .embedded),
        ]
        for (file, credential, authority) in variants {
            let text = try Kubeconfig.render(server: server, certificates: certificates, credential: credential, authority: authority)
            let url = settings.stateDirectory.appendingPathComponent(file)
            try text.write(to: url, atomically: true, encoding: .utf8)
            _ = chmod(url.path, 0o600)
        }
        return settings.stateDirectory.appendingPathComponent("kubeconfig").path
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    func record(method: String, path: String, query: String, contentType: String?, body: String, status: Int, userAgent: String?) {
        recorded.withLock { state in
            state.items.append(RecordedRequest(sequence: state.next, method: method, path: path, query: query, contentType: contentType, body: body, status: status, at: Date(), userAgent: userAgent))
            state.next += 1
            if state.items.count > settings.recordLimit { state.items.removeFirst(state.items.count - settings.recordLimit) }
        }
    }

    func clearRecords() {
        recorded.withLock { $0.items = [] }
    }
}

/// The request context: the channel is kept so a fault can drop the connection, as a broken network does.
public struct SimulatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
