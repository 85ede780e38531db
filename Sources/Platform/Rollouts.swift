import Foundation

/// What a rollout changes on every store it selects: the chart version, the application version, or
/// both. The store keeps its plan.
public struct RolloutTarget: Codable, Sendable, Equatable {
    public var chartVersion: String?
    public var appVersion: String?

    public init(chartVersion: String? = nil, appVersion: String? = nil) {
        self.chartVersion = chartVersion
        self.appVersion = appVersion
    }

    /// The spec a store ends with: its own, with the versions the target names.
    public func applied(to live: StoreSpec) -> StoreSpec {
        StoreSpec(plan: live.plan, chartVersion: chartVersion ?? live.chartVersion, appVersion: appVersion ?? live.appVersion)
    }
}

/// Which stores a rollout takes: every live store matching all the fields given.
public struct RolloutSelector: Codable, Sendable, Equatable {
    public var engine: String?
    public var tenantId: UUID?
    public var plan: String?
    public var storeIds: [UUID]?

    public init(engine: String? = nil, tenantId: UUID? = nil, plan: String? = nil, storeIds: [UUID]? = nil) {
        (self.engine, self.tenantId, self.plan, self.storeIds) = (engine, tenantId, plan, storeIds)
    }
}

/// How a rollout goes: a canary wave first, then waves of a count or a share of the selected stores;
/// at most `maxParallel` updates at once; a wave whose failures (stores rolled back or failed) pass
/// `failureThreshold` halts the rollout before the next wave starts.
public struct RolloutStrategy: Codable, Sendable, Equatable {
    public var canary: Int
    /// Stores per wave after the canary: `waveSize`, or `wavePercent` of the selected stores.
    public var waveSize: Int?
    public var wavePercent: Int?
    public var maxParallel: Int
    public var failureThreshold: Int

    public init(canary: Int = 1, waveSize: Int? = nil, wavePercent: Int? = 25, maxParallel: Int = 5, failureThreshold: Int = 0) {
        (self.canary, self.waveSize, self.wavePercent, self.maxParallel, self.failureThreshold) = (canary, waveSize, wavePercent, maxParallel, failureThreshold)
    }

    /// Each of `count` stores' wave, in order: `canary` stores in wave 0, then waves of the wave size
    /// (a percentage rounds up, and is at least one store).
    public func waves(count: Int) -> [Int] {
        let size = max(1, waveSize ?? Int((Double(count) * Double(wavePercent ?? 25) / 100).rounded(.up)))
        let canaries = min(canary, count)
        return (0..<count).map { index in index < canaries ? 0 : 1 + (index - canaries) / size }
    }
}
