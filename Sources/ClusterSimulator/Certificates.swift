import KubeClient
import Foundation
import ServiceRuntime

/// A certificate authority of the simulator's own, with a server certificate for 127.0.0.1/localhost and
/// a client certificate, made with the openssl command line at start-up. Clients verify the server
/// against the CA exactly as they verify a real cluster's API server.
public struct SimulatorCertificates: Sendable {
    public let directory: URL
    public var caCertificate: URL { directory.appendingPathComponent("ca.crt") }
    public var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    public var serverKey: URL { directory.appendingPathComponent("server.key") }
    /// A client certificate (CN=storefleet-worker, O=storefleet) signed by the CA, for kubeconfigs that
    /// authenticate with a certificate as kind and k3s do.
    public var clientCertificate: URL { directory.appendingPathComponent("client.crt") }
    public var clientKey: URL { directory.appendingPathComponent("client.key") }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates the files in `directory` unless they are already there.
    public static func make(in directory: URL) async throws -> SimulatorCertificates {
        let certificates = SimulatorCertificates(directory: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard !FileManager.default.fileExists(atPath: certificates.clientCertificate.path) else { return certificates }
        let dir = directory.path
        let extensions = directory.appendingPathComponent("server.ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(to: extensions, atomically: true, encoding: .utf8)
        let clientExtensions = directory.appendingPathComponent("client.ext")
        try "extendedKeyUsage=clientAuth\n".write(to: clientExtensions, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
             "-subj", "/CN=storefleet-simulator-ca", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=kube-sim", "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"],
            ["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
             "-days", "3650", "-extfile", extensions.path, "-out", "\(dir)/server.crt"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/O=storefleet/CN=storefleet-worker", "-keyout", "\(dir)/client.key", "-out", "\(dir)/client.csr"],
            ["x509", "-req", "-in", "\(dir)/client.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
             "-days", "3650", "-extfile", clientExtensions.path, "-out", "\(dir)/client.crt"],
        ]
        for arguments in steps {
            let outcome = try await ChildProcess.run("openssl", arguments, timeout: 30)
            guard outcome.succeeded else {
                throw Failure(description: "openssl \(arguments.first ?? "") failed: \(outcome.standardError)")
            }
        }
        return certificates
    }
}

/// Writes a kubeconfig for the simulator, in the forms real clusters use.
public enum Kubeconfig {
    public enum Credential: Sendable {
        case token(String)
        case clientCertificate
    }

    public enum Authority: Sendable {
        /// `certificate-authority-data` (kind and k3s embed the CA).
        case embedded
        /// `certificate-authority` pointing at a file.
        case file
    }

    public static func render(server: String, certificates: SimulatorCertificates, credential: Credential, authority: Authority = .embedded, context: String = "kube-sim") throws -> String {
        func base64(_ url: URL) throws -> String { try Data(contentsOf: url).base64EncodedString() }
        var cluster = "    server: \(server)\n"
        switch authority {
        case .embedded: cluster += "    certificate-authority-data: \(try base64(certificates.caCertificate))\n"
        case .file: cluster += "    certificate-authority: \(certificates.caCertificate.path)\n"
        }
        var user = ""
        switch credential {
        case .token(let token): user = "    token: \(token)\n"
        case .clientCertificate:
            user = "    client-certificate-data: \(try base64(certificates.clientCertificate))\n"
                + "    client-key-data: \(try base64(certificates.clientKey))\n"
        }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(context)
              cluster:
            \(cluster)users:
            - name: \(context)
              user:
            \(user)contexts:
            - name: \(context)
              context:
                cluster: \(context)
                user: \(context)
            current-context: \(context)

            """
    }
}
