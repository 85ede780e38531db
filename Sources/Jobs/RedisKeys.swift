import Redis

/// Every Redis key the engine uses, under one prefix (so that several installations, or tests, can share
/// a Redis). Redis holds only job IDs and liveness; Postgres holds everything else.
public struct RedisKeys: Sendable {
    public let prefix: String

    public init(prefix: String = "storefleet") {
        self.prefix = prefix
    }

    /// List: IDs of jobs ready to run. Producers LPUSH, workers BLMOVE from the right.
    public var queue: String { "\(prefix):queue" }
    /// Sorted set: IDs of jobs waiting to retry, scored by due time (ms since the epoch, Redis clock).
    public var retry: String { "\(prefix):retry" }
    /// Set: IDs Redis currently carries (in the queue, a processing list or the retry set). The sweeper
    /// re-dispatches due jobs that are missing here, which covers a failed push and a Redis that lost data.
    public var dispatched: String { "\(prefix):dispatched" }
    /// Sorted set: worker ID scored by heartbeat expiry (ms, Redis clock).
    public var workers: String { "\(prefix):workers" }
    /// String with a TTL: held by the worker currently running the reaper and sweeper.
    public var maintenanceLock: String { "\(prefix):maintenance-lock" }

    /// List: the IDs a worker has taken and not yet finished with.
    public func processing(_ worker: String) -> String { "\(prefix):processing:\(worker)" }
    /// Strings with a TTL: a job the sweeper re-dispatched although Redis was said to hold it, so that
    /// it is not pushed again on every pass while it waits behind a long queue.
    public var sweptPrefix: String { "\(prefix):swept:" }
}

/// The engine's Lua scripts: each does several key updates atomically, in one round trip.
enum EngineScripts {
    /// KEYS: queue, dispatched. ARGV: "back" or "ahead", then job IDs. Pushes each ID — at the back of
    /// the queue, or ahead, at the end workers take from next — and records it as dispatched.
    static let dispatch = RedisScript(name: "dispatch", source: """
        local push = ARGV[1] == 'ahead' and 'RPUSH' or 'LPUSH'
        for i = 2, #ARGV do
            redis.call(push, KEYS[1], ARGV[i])
            redis.call('SADD', KEYS[2], ARGV[i])
        end
        return #ARGV - 1
        """)

    /// KEYS: retry, dispatched. ARGV: job ID, delay in ms. Schedules a retry by Redis' own clock.
    static let schedule = RedisScript(name: "schedule", source: """
        local now = redis.call('TIME')
        local due = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], due, ARGV[1])
        redis.call('SADD', KEYS[2], ARGV[1])
        return due
        """)

    /// KEYS: retry, queue. ARGV: batch size. Moves retries that are due to the queue.
    static let promoteDue = RedisScript(name: "promote-due", source: """
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[1]))
        for _, id in ipairs(due) do
            redis.call('ZREM', KEYS[1], id)
            redis.call('LPUSH', KEYS[2], id)
        end
        return #due
        """)

    /// KEYS: workers. ARGV: worker ID, time to live in ms. Records a heartbeat by Redis' clock.
    static let heartbeat = RedisScript(name: "heartbeat", source: """
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
        return ms
        """)

    /// KEYS: workers, queue. ARGV: key prefix. For every worker whose heartbeat expired, moves its
    /// processing list back to the head of the queue (they were taken before anything now waiting)
    /// and forgets the worker. Returns the number of IDs moved.
    static let reclaimDeadWorkers = RedisScript(name: "reclaim-dead-workers", source: """
        local now = redis.call('TIME')
        local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms)
        local moved = 0
        for _, worker in ipairs(dead) do
            local list = ARGV[1] .. ':processing:' .. worker
            while redis.call('LMOVE', list, KEYS[2], 'LEFT', 'RIGHT') do
                moved = moved + 1
            end
            redis.call('ZREM', KEYS[1], worker)
        end
        return moved
        """)

    /// KEYS: processing list, queue. ARGV: job IDs. Moves those of the IDs still in the processing list
    /// to the end of the queue workers take from next; returns how many moved. A worker's own list
    /// holds an ID nobody works on when a BLMOVE reply was lost, a finish failed, or the container
    /// restarted under the same worker ID.
    static let requeueOwn = RedisScript(name: "requeue-own", source: """
        local moved = 0
        for i = 1, #ARGV do
            if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then
                redis.call('RPUSH', KEYS[2], ARGV[i])
                moved = moved + 1
            end
        end
        return moved
        """)

    /// KEYS: queue, dispatched. ARGV: swept-key prefix, hold in ms, then job IDs. Pushes each ID that
    /// was not pushed this way within the hold, whatever `dispatched` says: a duplicate ID is harmless
    /// (the claim refuses it), a stranded one is not. Returns how many were pushed.
    static let redispatchOverdue = RedisScript(name: "redispatch-overdue", source: """
        local pushed = 0
        for i = 3, #ARGV do
            if redis.call('SET', ARGV[1] .. ARGV[i], '1', 'NX', 'PX', tonumber(ARGV[2])) then
                redis.call('LPUSH', KEYS[1], ARGV[i])
                redis.call('SADD', KEYS[2], ARGV[i])
                pushed = pushed + 1
            end
        end
        return pushed
        """)

    /// KEYS: processing list, dispatched. ARGV: job IDs. A worker is done with these IDs.
    static let finish = RedisScript(name: "finish", source: """
        for i = 1, #ARGV do
            redis.call('LREM', KEYS[1], 1, ARGV[i])
            redis.call('SREM', KEYS[2], ARGV[i])
        end
        return #ARGV
        """)
}
