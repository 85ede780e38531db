import Foundation
import Testing
@testable import CLIKit

@Suite(.serialized) struct ArgumentTests {
    @Test func commandsParseTheirArgumentsAndOptions() throws {
        let create = try #require(try Storefleet.parseAsRoot(["stores", "create", "acme-shop", "--engine", "medusa", "--wait", "--timeout", "90s", "-o", "json"]) as? Stores.Create)
        #expect(create.name == "acme-shop" && create.engine == .medusa)
        #expect(create.wait.wait && create.wait.timeout.seconds == 90)
        #expect(create.options.output == .json)
        let list = try #require(try Storefleet.parseAsRoot(["store", "list", "-A", "--status", "failed", "--context", "prod"]) as? Stores.List)
        #expect(list.allTenants && list.status == "failed" && list.options.context == "prod")
        let delete = try #require(try Storefleet.parseAsRoot(["stores", "delete", "acme-shop", "-y"]) as? Stores.Delete)
        #expect(delete.yes && !delete.wait.wait && delete.wait.timeout.seconds == 1200)
        let token = try #require(try Storefleet.parseAsRoot(["tokens", "create", "--tenant", "acme", "--expires-in", "30d"]) as? Tokens.Create)
        #expect(token.expiresIn?.seconds == Double(30 * 86_400))
        #expect(try Storefleet.parseAsRoot(["jobs", "watch", "4e0c5a2e-0d8e-4a53-9d0e-8a5e7c2f1b3d"]) is Jobs.Watch)
        #expect(try Storefleet.parseAsRoot(["context", "use", "prod"]) is ContextCommand.Use)
        let sized = try #require(try Storefleet.parseAsRoot(["stores", "create", "big-shop", "--engine", "woocommerce", "--plan", "large"]) as? Stores.Create)
        #expect(sized.plan == "large")
        let update = try #require(try Storefleet.parseAsRoot(["stores", "update", "acme-shop", "--app-version", "6.8.4-php8.3-apache", "--plan", "medium", "--wait"]) as? Stores.Update)
        #expect(update.appVersion == "6.8.4-php8.3-apache" && update.plan == "medium" && update.chartVersion == nil && update.wait.wait)
        #expect(try Storefleet.parseAsRoot(["stores", "revisions", "acme-shop"]) is Stores.Revisions)
        #expect(try Storefleet.parseAsRoot(["plans"]) is Plans.List)
        let tenant = try #require(try Storefleet.parseAsRoot(["tenants", "update", "acme", "--allowed-plans", "small,medium"]) as? Tenants.Update)
        #expect(tenant.allowedPlans == "small,medium" && tenant.storeLimit == nil)
        #expect(Tenants.Create.planList(" small, medium") == .array(["small", "medium"]))
        let rollout = try #require(try Storefleet.parseAsRoot(["rollouts", "create", "--app-version", "6.8.4", "--engine", "woocommerce", "--store", "a-shop",
                                                               "--store", "b-shop", "--wave-percent", "20", "--max-parallel", "10", "--wait"]) as? Rollouts.Create)
        #expect(rollout.stores == ["a-shop", "b-shop"] && rollout.wavePercent == 20 && rollout.maxParallel == 10 && rollout.wait.wait)
        #expect(try Storefleet.parseAsRoot(["rollouts", "resume", "4e0c5a2e-0d8e-4a53-9d0e-8a5e7c2f1b3d"]) is Rollouts.Resume)
    }

    func run(_ arguments: [String]) -> (code: Int32, out: String, err: String) {
        let captured = CapturedConsole()
        let saved = Runtime.current
        Runtime.current.console = captured.console
        Runtime.current.environment = ["HOME": "/nonexistent"]
        defer { Runtime.current = saved }
        let code = Storefleet.run(arguments)
        return (code, captured.out, captured.err)
    }

    @Test func usageErrorsExitTwoAndHelpExitsZero() {
        #expect(run(["stores", "create", "shop", "--engine", "magento"]).code == 2)
        #expect(run(["stores", "create", "shop"]).code == 2)
        #expect(run(["stores", "list", "-o", "xml"]).code == 2)
        #expect(run(["stores", "create", "shop", "--engine", "medusa", "--timeout", "soon"]).code == 2)
        #expect(run(["frobnicate"]).code == 2)
        #expect(run(["stores", "update", "acme-shop"]).code == 2, "an update that changes nothing is a usage error")
        #expect(run(["tenants", "update", "acme"]).code == 2)
        #expect(run(["rollouts", "create", "--engine", "medusa"]).code == 2, "a rollout of nothing")
        #expect(run(["rollouts", "create", "--app-version", "1", "--wave-size", "2", "--wave-percent", "5"]).code == 2)
        let badID = run(["rollouts", "get", "not-an-id", "--server", "http://127.0.0.1:1"])
        #expect(badID.code == 2 && badID.err.contains("not a rollout ID"), "checked before any request")
        let help = run(["--help"])
        #expect(help.code == 0)
        #expect(help.out.contains("EXIT CODES:") && help.out.contains("9  server unreachable"))
        let sub = run(["stores", "delete", "--help"])
        #expect(sub.code == 0 && sub.out.contains("--yes"))
    }

    @Test func withoutAServerOrTokenTheCommandSaysWhatToDo() {
        let result = run(["stores", "list"])
        #expect(result.code == 2)
        #expect(result.err.contains("storefleet login --server URL"))
    }

    @Test func jobIDsAreCheckedBeforeAnyRequest() {
        let result = run(["jobs", "get", "not-a-uuid", "--server", "http://127.0.0.1:1"])
        #expect(result.code == 2 && result.err.contains("not a job ID"))
    }
}
