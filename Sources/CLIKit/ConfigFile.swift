import Foundation
import Yams

/// `$XDG_CONFIG_HOME/storefleet/config` (or `~/.config/storefleet/config`): named contexts, each a
/// server and a token, and which one is current, as kubectl's kubeconfig does. The file holds bearer
/// tokens, so it is written with mode 600 in a directory of mode 700, atomically (a crash leaves the old
/// file or the new one, never half of either).
public struct ConfigFile: Codable, Equatable, Sendable {
    public struct Context: Codable, Equatable, Sendable {
        public var name: String
        public var server: String
        public var token: String
    }

    public var currentContext: String?
    public var contexts: [Context]

    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context"
        case contexts
    }

    public init(currentContext: String? = nil, contexts: [Context] = []) {
        self.currentContext = currentContext
        self.contexts = contexts
    }

    public func context(named name: String) -> Context? { contexts.first { $0.name == name } }

    /// Adds or replaces a context and makes it current.
    public mutating func upsert(_ context: Context) {
        if let index = contexts.firstIndex(where: { $0.name == context.name }) {
            contexts[index] = context
        } else {
            contexts.append(context)
        }
        currentContext = context.name
    }

    /// Where the file lives, from the environment.
    public static func path(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return xdg + "/storefleet/config"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.config/storefleet/config"
    }

    /// Reads the file; a missing file is an empty configuration. `warn` hears about a file others can read.
    public static func load(from path: String, warn: (String) -> Void = { _ in }) throws(CLIError) -> ConfigFile {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return ConfigFile() }
            throw CLIError(.failure, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if info.st_mode & 0o077 != 0 {
            warn("warning: \(path) holds API tokens and is readable by others; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(.failure, "cannot read \(path)")
        }
        if data.isEmpty { return ConfigFile() }
        do {
            return try YAMLDecoder().decode(ConfigFile.self, from: data)
        } catch {
            throw CLIError(.failure, "\(path) is not a storefleet configuration (\(error)); fix or remove it")
        }
    }

    /// Writes the file with mode 600 (its directory 700) by writing a new file and renaming it over the old.
    public func save(to path: String) throws(CLIError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError(.failure, "cannot create \(directory): \(error.localizedDescription)")
        }
        let text: String
        do {
            text = try YAMLEncoder().encode(self)
        } catch {
            throw CLIError(.failure, "cannot encode the configuration: \(error)")
        }
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        // O_EXCL: never write through a file or link someone else put there; 0600 from the first byte.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw CLIError(.failure, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var written = 0
        var failed = false
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failed = true
                break
            }
            written += count
        }
        if failed || fchmod(fd, 0o600) != 0 || fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw CLIError(.failure, "cannot write \(temporary): \(reason)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIError(.failure, "cannot replace \(path): \(reason)")
        }
    }
}

/// Where to send requests and with which token: the flags, then `STOREFLEET_SERVER`/`STOREFLEET_TOKEN`,
/// then the chosen (or current) context.
public struct Target: Equatable, Sendable {
    public var server: String
    public var token: String?
    public var contextName: String?

    public static func resolve(config: ConfigFile, contextFlag: String?, serverFlag: String?, environment: [String: String]) throws(CLIError) -> Target {
        var context: ConfigFile.Context?
        if let contextFlag {
            guard let named = config.context(named: contextFlag) else {
                throw CLIError(.invalidInput, "no context named \(contextFlag); see: storefleet context list")
            }
            context = named
        } else if let current = config.currentContext {
            context = config.context(named: current)
        }
        let server = serverFlag ?? environment["STOREFLEET_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? context?.server
        guard var server else {
            throw CLIError(.invalidInput, "no server configured: run storefleet login --server URL, or set STOREFLEET_SERVER")
        }
        while server.hasSuffix("/") { server.removeLast() }
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw CLIError(.invalidInput, "the server must be an http:// or https:// URL, not \(server)")
        }
        let token = environment["STOREFLEET_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? context?.token
        return Target(server: server, token: token, contextName: context?.name)
    }
}
