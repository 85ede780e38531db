import Foundation
import KubeClient
import Testing
@testable import CLIKit

@Suite struct ConfigFileTests {
    func scratch() -> String {
        let path = NSTemporaryDirectory() + "storefleet-cli-\(UUID().uuidString)"
        return path + "/storefleet/config"
    }

    @Test func tokensAreSavedReadableByTheOwnerOnly() throws {
        let path = scratch()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var config = ConfigFile()
        config.upsert(.init(name: "dev", server: "http://127.0.0.1:8080", token: "sfk_one"))
        config.upsert(.init(name: "prod", server: "https://sf.example.com", token: "sfk_two"))
        try config.save(to: path)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat((path as NSString).deletingLastPathComponent, &info) == 0 && info.st_mode & 0o777 == 0o700)
        let loaded = try ConfigFile.load(from: path)
        #expect(loaded == config)
        #expect(loaded.currentContext == "prod")
        // Saving again replaces the file; an old temporary file in the way does not matter.
        var again = loaded
        again.currentContext = "dev"
        try again.save(to: path)
        #expect(try ConfigFile.load(from: path).currentContext == "dev")
    }

    @Test func aFileOthersCanReadIsWarnedAbout() throws {
        let path = scratch()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try ConfigFile(currentContext: nil, contexts: []).save(to: path)
        chmod(path, 0o644)
        var warnings: [String] = []
        _ = try ConfigFile.load(from: path) { warnings.append($0) }
        #expect(warnings.count == 1 && warnings[0].contains("chmod 600"))
    }

    @Test func aMissingFileIsEmptyAndAGarbledOneIsAnError() throws {
        #expect(try ConfigFile.load(from: "/nonexistent/storefleet/config") == ConfigFile())
        let path = scratch()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try ConfigFile().save(to: path)
        try "contexts: 12\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: CLIError.self) { try ConfigFile.load(from: path) }
    }

    @Test func theFileLivesUnderXDGConfigHome() {
        #expect(ConfigFile.path(environment: ["XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/a"]) == "/x/cfg/storefleet/config")
        #expect(ConfigFile.path(environment: ["HOME": "/home/a"]) == "/home/a/.config/storefleet/config")
        // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
        #expect(ConfigFile.path(environment: ["XDG_CONFIG_HOME": "cfg", "HOME": "/home/a"]) == "/home/a/.config/storefleet/config")
    }

    @Test func aTokenOnlyEverGoesToTheServerItWasSavedFor() throws {
        let config = ConfigFile(currentContext: "dev", contexts: [
            .init(name: "dev", server: "http://127.0.0.1:8080/", token: "sfk_dev"),
            .init(name: "prod", server: "https://sf.example.com", token: "sfk_prod"),
        ])
        #expect(try Target.resolve(config: config, contextFlag: nil, serverFlag: nil, environment: [:]) == Target(server: "http://127.0.0.1:8080", token: "sfk_dev", contextName: "dev"))
        #expect(try Target.resolve(config: config, contextFlag: "prod", serverFlag: nil, environment: [:]).token == "sfk_prod")
        // A mistyped --server gets no token from the current context...
        #expect(try Target.resolve(config: config, contextFlag: nil, serverFlag: "http://typo.example.com", environment: [:]).token == nil)
        // ...but a --server that is a saved context's server gets that context's token.
        #expect(try Target.resolve(config: config, contextFlag: nil, serverFlag: "https://sf.example.com/", environment: [:]).token == "sfk_prod")
        // An explicit context uses its own token, never STOREFLEET_TOKEN (meant for another server).
        #expect(try Target.resolve(config: config, contextFlag: "prod", serverFlag: nil, environment: ["STOREFLEET_TOKEN": "sfk_env"]).token == "sfk_prod")
        #expect { try Target.resolve(config: config, contextFlag: "prod", serverFlag: "http://127.0.0.1:8080", environment: [:]) } throws: { ($0 as! CLIError).status == .invalidInput }
        // The environment pair, for CI jobs that keep no file.
        let overridden = try Target.resolve(config: config, contextFlag: nil, serverFlag: nil,
                                            environment: ["STOREFLEET_SERVER": "http://127.0.0.1:9", "STOREFLEET_TOKEN": "sfk_env"])
        #expect(overridden.server == "http://127.0.0.1:9" && overridden.token == "sfk_env")
        #expect(try Target.resolve(config: config, contextFlag: nil, serverFlag: nil, environment: ["STOREFLEET_TOKEN": "sfk_env"]).token == "sfk_env")
        #expect { try Target.resolve(config: config, contextFlag: "nope", serverFlag: nil, environment: [:]) } throws: { ($0 as! CLIError).status == .notFound }
        #expect { try Target.resolve(config: ConfigFile(), contextFlag: nil, serverFlag: nil, environment: [:]) } throws: { ($0 as! CLIError).message.contains("storefleet login") }
        #expect { try Target.resolve(config: config, contextFlag: nil, serverFlag: "file:///etc/passwd", environment: [:]) } throws: { ($0 as! CLIError).status == .invalidInput }
    }

    @Test func aTokenInPlainHTTPToAnotherMachineIsWarnedAbout() {
        #expect(GlobalOptions.cleartextWarning(Target(server: "http://sf.example.com", token: "sfk_x")) != nil)
        #expect(GlobalOptions.cleartextWarning(Target(server: "http://127.0.0.1:8080", token: "sfk_x")) == nil)
        #expect(GlobalOptions.cleartextWarning(Target(server: "http://localhost:8080", token: "sfk_x")) == nil)
        #expect(GlobalOptions.cleartextWarning(Target(server: "https://sf.example.com", token: "sfk_x")) == nil)
        #expect(GlobalOptions.cleartextWarning(Target(server: "http://sf.example.com", token: nil)) == nil)
    }

    @Test func aWideDirectoryIsMadePrivateAndALinkedOneRefused() throws {
        let root = NSTemporaryDirectory() + "storefleet-cli-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/storefleet", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        chmod(root + "/storefleet", 0o777)
        try ConfigFile().save(to: root + "/storefleet/config")
        var info = stat()
        #expect(stat(root + "/storefleet", &info) == 0 && info.st_mode & 0o777 == 0o700)
        // A planted link in place of the directory: refused, nothing written through it.
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/linked", withDestinationPath: root + "/elsewhere")
        #expect(throws: CLIError.self) { try ConfigFile().save(to: root + "/linked/config") }
        #expect(!FileManager.default.fileExists(atPath: root + "/elsewhere/config"))
    }

    @Test func concurrentUpdatesKeepEveryContext() throws {
        let path = scratch()
        defer { try? FileManager.default.removeItem(atPath: ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent) }
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            try? ConfigFile.update(at: path) { config throws(CLIError) in
                config.upsert(.init(name: "c\(index)", server: "http://127.0.0.1:\(8000 + index)", token: "sfk_\(index)"))
            }
        }
        #expect(try ConfigFile.load(from: path).contexts.count == 8)
    }

    @Test func aParseErrorNeverQuotesTheFile() throws {
        let path = scratch()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try ConfigFile().save(to: path)
        try "contexts:\n- name: x\n  token: sfk_SECRETVALUE: [\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect { try ConfigFile.load(from: path) } throws: { !"\($0)".contains("SECRETVALUE") }
    }
}

@Suite struct OutputTests {
    let stores: [JSON] = [
        ["name": "acme-shop", "engine": "woocommerce", "status": "ready", "id": "0b6c1c53-8a55-4c1e-9a3e-2a8a4f0f2a11", "created_at": "2026-12-05T10:00:00.000Z", "tenant_id": "t1"],
        ["name": "a-much-longer-store-name-for-width", "engine": "medusa", "status": "provisioning", "id": "9d7e0f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "created_at": "2026-12-05T10:00:00Z", "tenant_id": "t2"],
    ]

    @Test func tablesAlignAndShrinkToTheTerminal() {
        let wide = Render.list(stores, as: .table, Presentations.stores(), width: nil).split(separator: "\n")
        #expect(wide[0].hasPrefix("NAME                                 ENGINE        STATUS"))
        #expect(wide[1].hasPrefix("acme-shop                            woocommerce   ready"))
        let narrow = Render.list(stores, as: .table, Presentations.stores(), width: 70).split(separator: "\n")
        #expect(narrow.allSatisfy { $0.count <= 70 })
        #expect(narrow[2].contains("…"))
        let tenants = Render.list(stores, as: .table, Presentations.stores(tenantNames: ["t1": "acme"]), width: nil)
        #expect(tenants.contains("TENANT") && tenants.contains(" acme ") && tenants.contains(" t2 "))
    }

    @Test func jsonAndYamlReadBackAsTheSameValue() throws {
        let tricky: JSON = ["items": [["name": "true", "zip": "01234", "n": 3, "f": .number(0.5), "nothing": .null, "yes": "yes", "url": "http://x/y"]]]
        let text = Render.json(tricky)
        #expect(try JSON(parsing: Data(text.utf8)) == tricky)
        #expect(text.contains("\"url\": \"http://x/y\""))
        let yaml = Render.yaml(tricky)
        // Strings YAML would read as booleans or numbers are quoted.
        #expect(yaml.contains("name: \"true\""))
        #expect(yaml.contains("zip: \"01234\""))
        #expect(yaml.contains("yes: \"yes\""))
        #expect(yaml.contains("n: 3"))
        #expect(yaml.contains("nothing: null"))
    }

    @Test func namesArePrintedOnePerLine() {
        #expect(Render.list(stores, as: .name, Presentations.stores(), width: nil) == "acme-shop\na-much-longer-store-name-for-width")
        #expect(Render.list([], as: .table, Presentations.stores(), width: nil) == "")
        #expect(Render.list([], as: .json, Presentations.stores(), width: nil) == "{\n  \"items\": []\n}")
    }

    @Test func colourOnlyOnATerminalAndNeverWithNoColor() {
        #expect(Terminal(isTerminal: true, width: 80, color: true).paint("ok", .green) == "\u{1B}[32mok\u{1B}[0m")
        #expect(Terminal(isTerminal: false, width: nil, color: false).paint("ok", .green) == "ok")
    }

    @Test func durationsAreReadAsPeopleWriteThem() {
        #expect(Duration(argument: "90")?.seconds == 90)
        #expect(Duration(argument: "90s")?.seconds == 90)
        #expect(Duration(argument: "10m")?.seconds == 600)
        #expect(Duration(argument: "1h30m")?.seconds == 5400)
        #expect(Duration(argument: "2d")?.seconds == 172_800)
        #expect(Duration(argument: "soon") == nil)
        #expect(Duration(argument: "5x") == nil)
        #expect(Duration(argument: "0") == nil)
    }
}
