// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "storefleet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "storefleet-gateway", targets: ["Gateway"]),
        .executable(name: "storefleet-worker", targets: ["Worker"]),
        .executable(name: "storefleet-jobs-bench", targets: ["JobsBench"]),
        .executable(name: "kube-sim", targets: ["KubeSim"]),
        .executable(name: "helm-sim", targets: ["HelmSim"]),
        .executable(name: "storefleet", targets: ["CLI"]),
        .library(name: "Jobs", targets: ["Jobs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        // The OTLP exporter over HTTP only: the gRPC one would build grpc-swift for nothing.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // C libraries, found through pkg-config; the Debian package names tell a fresh machine what to install.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // What every Storefleet process shares: configuration, logging, backoff, pools, blocking-call queues, child processes.
        .target(
            name: "ServiceRuntime",
            dependencies: ["CProcessShims", .product(name: "Logging", package: "swift-log"), .product(name: "Tracing", package: "swift-distributed-tracing")],
            swiftSettings: swiftSettings
        ),
        // OpenTelemetry for the executables: the OTLP exporter and the log correlation, set up from OTEL_*.
        .target(
            name: "TracingBootstrap",
            dependencies: [
                "ServiceRuntime",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // One libc call Swift's Glibc module does not expose (pipe2), for ChildProcess.
        .target(name: "CProcessShims"),
        // A Postgres client over libpq: pool, parameterized queries, transactions, typed rows, migrations.
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", "ServiceRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // A Redis client over hiredis: pool, pipelining, scripts, a dedicated connection for blocking commands.
        .target(
            name: "Redis",
            dependencies: ["CHiredis", "ServiceRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The job engine: its own schema, Redis dispatch, Postgres claims and leases, steps with timeouts and retries.
        .target(
            name: "Jobs",
            dependencies: ["Postgres", "Redis", "ServiceRuntime", .product(name: "Logging", package: "swift-log"), .product(name: "Tracing", package: "swift-distributed-tracing")],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        // The platform's schema (over the engine's), its retention rules and store job kinds, and start-up.
        .target(
            name: "Platform",
            dependencies: ["Jobs", "Postgres", "Redis", "ServiceRuntime", .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams")],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        // The gateway's HTTP API as a library, so that tests can run it in-process.
        .target(
            name: "GatewayKit",
            dependencies: [
                "Jobs", "Platform", "KubeClient", "Postgres", "Redis", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Dashboard")],
            swiftSettings: swiftSettings
        ),
        // storefleet-gateway: the API and dashboard process.
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "GatewayKit", "Jobs", "Platform", "KubeClient", "Postgres", "Redis", "ServiceRuntime", "TracingBootstrap",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The store pipelines: one file per step under Steps/, run by the worker.
        .target(
            name: "Provisioning",
            dependencies: ["Jobs", "Platform", "KubeClient", "Postgres", "ServiceRuntime", .product(name: "Logging", package: "swift-log"), .product(name: "Tracing", package: "swift-distributed-tracing")],
            swiftSettings: swiftSettings
        ),
        // storefleet-worker: runs the store jobs.
        .executableTarget(
            name: "Worker",
            dependencies: [
                "Jobs", "Platform", "KubeClient", "Provisioning", "Postgres", "Redis", "ServiceRuntime", "TracingBootstrap",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Synthetic job kinds for the engine's tests, and the benchmark process that runs them.
        .target(name: "SyntheticJobs", dependencies: ["Jobs", "Postgres"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "JobsBench",
            dependencies: ["Jobs", "Platform", "SyntheticJobs", "Postgres", "Redis", "ServiceRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // A Kubernetes client over libcurl: kubeconfig and in-cluster configuration, typed API errors.
        .target(
            name: "KubeClient",
            dependencies: ["CCurl", "ServiceRuntime", .product(name: "Yams", package: "Yams"), .product(name: "Tracing", package: "swift-distributed-tracing")],
            swiftSettings: swiftSettings
        ),
        // kube-sim as a library: a Kubernetes API stand-in (HTTPS, RBAC, admission, controllers, faults).
        .target(
            name: "ClusterSimulator",
            dependencies: [
                "KubeClient", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // kube-sim and helm-sim, the cluster and helm stand-ins for tests and runs without a cluster.
        .executableTarget(
            name: "KubeSim",
            dependencies: ["ClusterSimulator", "ServiceRuntime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "HelmSim",
            dependencies: ["KubeClient", "ServiceRuntime", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),

        // storefleet, the command-line client of the gateway's API (commands in CLIKit, tested in-process).
        .target(
            name: "CLIKit",
            dependencies: [
                "CCurl", "KubeClient", "ServiceRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "CLI", dependencies: ["CLIKit"], swiftSettings: swiftSettings),

        // Throwaway servers and environment for integration tests.
        .target(
            name: "TestSupport",
            dependencies: ["ServiceRuntime", "ClusterSimulator", "KubeClient", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport", swiftSettings: swiftSettings
        ),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["CLIKit", "KubeClient"], swiftSettings: swiftSettings),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "SyntheticJobs", "ServiceRuntime", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "Jobs", "Postgres", "ServiceRuntime", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ClusterSimulatorTests",
            dependencies: [
                "ClusterSimulator", "KubeClient", "Provisioning", "Jobs", "Platform", "Postgres", "Redis", "TestSupport", "ServiceRuntime",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "GatewayKit", "Jobs", "Platform", "KubeClient", "ClusterSimulator", "Postgres", "Redis", "TestSupport", "ServiceRuntime",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
