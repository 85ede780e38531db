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

    @Test func durationsReadWithTheirUnits() throws {
        let reader = ConfigurationReader(["A": "250ms", "B": "30s", "C": "2m", "D": "12h", "E": "30d", "F": "1.5", "G": "3w"])
        let range: ClosedRange<Double> = 0...(3650 * 86_400)
        #expect(try reader.seconds("A", default: 0, range: range) == 0.25)
        #expect(try reader.seconds("B", default: 0, range: range) == 30)
        #expect(try reader.seconds("C", default: 0, range: range) == 120)
        #expect(try reader.seconds("D", default: 0, range: range) == 43_200)
        #expect(try reader.seconds("E", default: 0, range: range) == 2_592_000)
        #expect(try reader.seconds("F", default: 0, range: range) == 1.5)
        #expect(throws: ConfigurationError.self, "an unknown unit is refused, not guessed") { try reader.seconds("G", default: 0, range: range) }
    }

    @Test func badValuesNameTheirVariableAndNeverEchoTheToken() throws {
        let short = "sfk_short"
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN": short])) }
        do {
            _ = try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN": short]))
        } catch {
            #expect(error.variable == "BOOTSTRAP_ADMIN_TOKEN")
            #expect(!error.description.contains(short))
        }
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN_FILE": "/nonexistent/token"])) }
        let unprefixed = String(repeating: "ab12", count: 12)
        #expect(throws: ConfigurationError.self, "a token the API would never accept") { try APISettings(from: ConfigurationReader(["BOOTSTRAP_ADMIN_TOKEN": unprefixed])) }
        let backends = ["DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db", "REDIS_URL": "redis://127.0.0.1:6379/0"]
        #expect(throws: ConfigurationError.self) {
            try GatewaySettings(from: ConfigurationReader(backends.merging(["GATEWAY_PORT": "8080", "GATEWAY_METRICS_PORT": "8080"]) { $1 }))
        }
        #expect(try GatewaySettings(from: ConfigurationReader(backends)).metricsPort == nil, "metrics on the API's port by default")
        #expect(try GatewaySettings(from: ConfigurationReader(backends.merging(["GATEWAY_METRICS_PORT": "9090"]) { $1 })).metricsPort == 9090)
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["RATE_LIMIT_BURST": "0"])) }
        #expect(throws: ConfigurationError.self) { try APISettings(from: ConfigurationReader(["STORE_TLS": "maybe"])) }
    }

    @Test func theEdgeHasTimeoutsByDefaultAndRefusesToTurnThemOff() throws {
        let defaults = try EdgeSettings(from: ConfigurationReader([:]))
        #expect(defaults.idleTimeout == 75, "longer than a proxy's 60 s upstream keep-alive")
        #expect(defaults.headerTimeout == 10 && defaults.bodyTimeout == 30 && defaults.writeStallTimeout == 30)
        #expect(defaults.maxHeaderBytes == 32 * 1024)
        let set = try EdgeSettings(from: ConfigurationReader([
            "GATEWAY_IDLE_TIMEOUT": "2m", "GATEWAY_HEADER_TIMEOUT": "5s", "GATEWAY_BODY_TIMEOUT": "1m",
            "GATEWAY_WRITE_STALL_TIMEOUT": "45s", "GATEWAY_MAX_HEADER_BYTES": "65536",
        ]))
        #expect(set.idleTimeout == 120 && set.headerTimeout == 5 && set.bodyTimeout == 60 && set.writeStallTimeout == 45)
        #expect(set.maxHeaderBytes == 65536)
        for (name, value) in [("GATEWAY_IDLE_TIMEOUT", "0"), ("GATEWAY_HEADER_TIMEOUT", "0s"), ("GATEWAY_BODY_TIMEOUT", "-1"),
                              ("GATEWAY_WRITE_STALL_TIMEOUT", "forever"), ("GATEWAY_MAX_HEADER_BYTES", "100"),
                              ("GATEWAY_MAX_HEADER_BYTES", "99999999")] {
            do {
                _ = try EdgeSettings(from: ConfigurationReader([name: value]))
                Issue.record("\(name)=\(value) was accepted")
            } catch {
                #expect(error.variable == name)
            }
        }
    }
}
