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
            // Not the parser's message: it quotes the offending line, which may hold a token.
            throw CLIError(.failure, "\(path) is not a storefleet configuration; fix or remove it")
        }
    }

    /// The directory must be a real directory of this user's (not a link someone planted), and no one
    /// else's to read: it is made 700 when it is wider.
    static func checkDirectory(_ directory: String) throws(CLIError) {
        var info = stat()
        guard lstat(directory, &info) == 0 else { throw CLIError(.failure, "cannot use \(directory): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw CLIError(.failure, "\(directory) is not a directory (a link?); remove it") }
        guard info.st_uid == getuid() else { throw CLIError(.failure, "\(directory) belongs to another user; refusing to keep tokens there") }
        if info.st_mode & 0o077 != 0, chmod(directory, 0o700) != 0 {
            throw CLIError(.failure, "cannot make \(directory) private (chmod 700): \(String(cString: strerror(errno)))")
        }
    }

    /// Load, change and save under an exclusive lock (`config.lock` beside the file), so that two
    /// `login`s at once both keep their context.
    public static func update(at path: String, warn: (String) -> Void = { _ in }, _ change: (inout ConfigFile) throws(CLIError) -> Void) throws(CLIError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError(.failure, "cannot create \(directory): \(error.localizedDescription)")
        }
        try checkDirectory(directory)
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0 else { throw CLIError(.failure, "cannot lock \(path): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CLIError(.failure, "cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        var config = try load(from: path, warn: warn)
        try change(&config)
        try config.save(to: path)
    }

    /// Writes the file with mode 600 (its directory 700) by writing a new file and renaming it over the old.
    public func save(to path: String) throws(CLIError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError(.failure, "cannot create \(directory): \(error.localizedDescription)")
        }
        try Self.checkDirectory(directory)
        // A save killed between writing and renaming leaves a temporary file with tokens in it.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix((path as NSString).lastPathComponent + ".") && name.hasSuffix(".tmp") {
            unlink(directory + "/" + name)
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

/// Where to send requests and with which token. A token only ever goes to the server it belongs to:
/// - `--context NAME`: that context's server and token (`--server` may name the same server only);
/// - else `--server URL` or `STOREFLEET_SERVER`: that server, with `STOREFLEET_TOKEN`, or the token of
///   a context saved for exactly that server;
/// - else the current context's server, with `STOREFLEET_TOKEN` when set (a CI job's override), else its token.
public struct Target: Equatable, Sendable {
    public var server: String
    public var token: String?
    public var contextName: String?

    static func normalized(_ server: String) throws(CLIError) -> String {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw CLIError(.invalidInput, "the server must be an http:// or https:// URL, not \(server)")
        }
        return server
    }

    public static func resolve(config: ConfigFile, contextFlag: String?, serverFlag: String?, environment: [String: String]) throws(CLIError) -> Target {
        let envServer = environment["STOREFLEET_SERVER"].flatMap { $0.isEmpty ? nil : $0 }
        let envToken = environment["STOREFLEET_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let contextFlag {
            guard let context = config.context(named: contextFlag) else {
                throw CLIError(.notFound, "no context named \(contextFlag); see: storefleet context list")
            }
            let server = try normalized(context.server)
            if let serverFlag, try normalized(serverFlag) != server {
                throw CLIError(.invalidInput, "--server \(serverFlag) is not context \(contextFlag)'s server (\(server)); give one or the other")
            }
            return Target(server: server, token: context.token, contextName: context.name)
        }
        if let explicit = serverFlag ?? envServer {
            let server = try normalized(explicit)
            let saved = config.contexts.first { (try? normalized($0.server)) == server }
            return Target(server: server, token: envToken ?? saved?.token, contextName: envToken == nil ? saved?.name : nil)
        }
        guard let current = config.currentContext.flatMap({ config.context(named: $0) }) else {
            throw CLIError(.invalidInput, "no server configured: run storefleet login --server URL, or set STOREFLEET_SERVER")
        }
        return Target(server: try normalized(current.server), token: envToken ?? current.token, contextName: current.name)
    }
}
