import Foundation
import Yams

/// How to reach and authenticate to a cluster: from inside a pod (service account) or from a kubeconfig.
public struct KubeConfiguration: Sendable {
    public enum Credentials: Sendable {
        case none
        /// A bearer token. `file`, when set, is re-read before requests so that rotated tokens are used.
        case token(String, file: String?)
        /// A client certificate and key, PEM.
        case clientCertificate(certificate: [UInt8], key: [UInt8])
    }

    public var server: String
    /// PEM bytes of the CA that signed the server's certificate (nil: the system trust store).
    public var certificateAuthority: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    public var credentials: Credentials
    /// Where this configuration came from, for messages.
    public var source: String
    /// The kubeconfig file it was read from (nil in a pod), for tools such as helm that need the same cluster.
    public var kubeconfigPath: String?

    public init(server: String, certificateAuthority: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false, credentials: Credentials, source: String) {
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.credentials = credentials
        self.source = source
    }

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// In a pod (KUBERNETES_SERVICE_HOST set and a service-account token mounted) the in-cluster
    /// configuration; otherwise the kubeconfig named by KUBECONFIG (the first existing file of a
    /// colon-separated list) or ~/.kube/config, with its current context or `context`.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment, context: String? = nil) throws -> KubeConfiguration {
        let serviceAccount = environment["STOREFLEET_SERVICE_ACCOUNT_DIR"] ?? "/var/run/secrets/kubernetes.io/serviceaccount"
        if let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"],
           FileManager.default.fileExists(atPath: "\(serviceAccount)/token") {
            return try inCluster(host: host, port: port, directory: serviceAccount)
        }
        let candidates = environment["KUBECONFIG"].map { $0.split(separator: ":").map(String.init) }
            ?? [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw Problem("no cluster configuration: not in a pod, and no kubeconfig at \(candidates.joined(separator: ":")) (set KUBECONFIG)")
        }
        return try kubeconfig(at: path, context: context)
    }

    public static func inCluster(host: String, port: String, directory: String) throws -> KubeConfiguration {
        let tokenFile = "\(directory)/token"
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let ca = FileManager.default.contents(atPath: "\(directory)/ca.crt").map { Array($0) }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubeConfiguration(
            server: "https://\(hostPart):\(port)", certificateAuthority: ca,
            credentials: .token(token, file: tokenFile), source: "in-cluster service account"
        )
    }

    /// Reads a kubeconfig: server, CA (file or data), insecure-skip-tls-verify, and a token (or token
    /// file) or client certificate and key (file or data). Relative paths are relative to the file.
    public static func kubeconfig(at path: String, context requested: String? = nil) throws -> KubeConfiguration {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw Problem("\(path) is not a kubeconfig") }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func named(_ list: String, _ name: String) -> [String: Any]? {
            ((root[list] as? [[String: Any]]) ?? []).first { ($0["name"] as? String) == name }
        }
        guard let contextName = requested ?? (root["current-context"] as? String) else {
            throw Problem("\(path) has no current-context; name one")
        }
        guard let context = named("contexts", contextName)?["context"] as? [String: Any] else {
            throw Problem("\(path) has no context \"\(contextName)\"")
        }
        guard let clusterName = context["cluster"] as? String, let cluster = named("clusters", clusterName)?["cluster"] as? [String: Any],
              let server = cluster["server"] as? String
        else { throw Problem("context \"\(contextName)\" in \(path) names no cluster with a server") }
        let user = (context["user"] as? String).flatMap { named("users", $0)?["user"] as? [String: Any] } ?? [:]

        func bytes(data key: String, file fileKey: String, in section: [String: Any]) throws -> [UInt8]? {
            if let encoded = section[key] as? String {
                guard let decoded = Data(base64Encoded: encoded.filter { !$0.isWhitespace }) else { throw Problem("\(key) in \(path) is not base64") }
                return Array(decoded)
            }
            if let file = section[fileKey] as? String {
                let resolved = file.hasPrefix("/") ? file : base.appendingPathComponent(file).path
                guard let contents = FileManager.default.contents(atPath: resolved) else { throw Problem("cannot read \(fileKey) \(resolved)") }
                return Array(contents)
            }
            return nil
        }

        let credentials: Credentials
        if let token = user["token"] as? String {
            credentials = .token(token, file: nil)
        } else if let tokenFile = user["tokenFile"] as? String {
            let resolved = tokenFile.hasPrefix("/") ? tokenFile : base.appendingPathComponent(tokenFile).path
            let token = try String(contentsOfFile: resolved, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            credentials = .token(token, file: resolved)
        } else if let certificate = try bytes(data: "client-certificate-data", file: "client-certificate", in: user) {
            guard let key = try bytes(data: "client-key-data", file: "client-key", in: user) else {
                throw Problem("user of context \"\(contextName)\" has a client certificate but no key")
            }
            credentials = .clientCertificate(certificate: certificate, key: key)
        } else if user["exec"] != nil || user["auth-provider"] != nil {
            throw Problem("user of context \"\(contextName)\" authenticates with an exec or auth-provider plugin, which this client does not run; use a token or client certificate")
        } else {
            credentials = .none
        }
        var configuration = KubeConfiguration(
            server: server.hasSuffix("/") ? String(server.dropLast()) : server,
            certificateAuthority: try bytes(data: "certificate-authority-data", file: "certificate-authority", in: cluster),
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false,
            credentials: credentials, source: "\(path) (context \(contextName))"
        )
        configuration.kubeconfigPath = path
        return configuration
    }
}
