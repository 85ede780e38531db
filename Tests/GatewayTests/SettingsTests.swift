import Foundation
import GatewayKit
import ServiceRuntime
import Testing
import TestSupport

@Suite struct SettingsTests {
    @Test func defaultsAndTheBootstrapTokenFromAFile() throws {
        let defaults = try APISettings(from: ConfigurationReader([:]))
        #expect(defaults.storeDomain == "127.0.0.1.nip.io")
        #expect(defaults.storeTLS == false)
        #expect(defaults.rateLimitBurst == 30 && defaults.rateLimitPerMinute == 60)
        #expect(defaults.bootstrapAdminToken == nil)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("token")).path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let token = "sfk_" + String(repeating: "f", count: 40)
        try (token + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN_FILE": file, "STORE_TLS": "true", "STORE_DOMAIN": "shops.example.com"]))
        #expect(fromFile.bootstrapAdminToken == token)
        #expect(fromFile.storeTLS && fromFile.storeDomain == "shops.example.com")
    }

    @Test func badValuesNameTheirVariableAndNeverEchoTheToken() {
        let short = "sfk_short"
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN": short])) }
        do {
            _ = try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN": short]))
        } catch {
            #expect(error.variable == "BOOTSTRAP_ADMIN_TOKEN")
            #expect(!error.description.contains(short))
        }
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN_FILE": "/nonexistent/token"])) }
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["RATE_LIMIT_BURST": "0"])) }
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["STORE_TLS": "maybe"])) }
    }
}
