import CLibPQ
import Foundation
import ServiceRuntime

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection. Every libpq call runs on the connection's own serial queue, off the cooperative
/// pool, and waits for results with `poll()` against a deadline so that no statement can hang a caller.
/// A connection that breaks is reopened on its next use; one found closed before a statement is sent
/// (a server restart) is reopened transparently, because nothing has run yet.
///
/// A connection serves one caller at a time: the pool hands it out exclusively.
public final class PostgresConnection: @unchecked Sendable {
    private let configuration: PostgresConfiguration
    private let queue: BlockingQueue
    /// Touched only on `queue`.
    private var handle: OpaquePointer?
    /// Statements prepared on the current server session, by SQL text. Parsing and planning the engine's
    /// multi-part statements costs more server CPU than running them, so each is prepared once per
    /// connection. Bounded, so that ad-hoc SQL cannot grow it without limit; cleared on reconnect.
    private var prepared: [String: String] = [:]
    private var preparedSerial = 0
    private static let preparedLimit = 256

    init(configuration: PostgresConfiguration, id: Int) {
        self.configuration = configuration
        self.queue = BlockingQueue(label: "storefleet.postgres.\(id)")
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Runs one parameterized statement and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery, timeout: Double? = nil) async throws(PostgresError) -> PostgresResult {
        let limit = timeout ?? configuration.statementTimeout
        return try await queue.run { () throws(PostgresError) -> PostgresResult in
            try self.runOnQueue(query, timeout: limit)
        }
    }

    /// Runs a script of several statements through the simple query protocol. It takes no parameters,
    /// so it is meant for trusted SQL only: the migration files shipped with the program.
    public func runScript(_ sql: String, timeout: Double? = nil) async throws(PostgresError) {
        let limit = timeout ?? configuration.statementTimeout
        try await queue.run { () throws(PostgresError) in
            let handle = try self.connectedHandle()
            guard PQsendQuery(handle, sql) == 1 else { throw self.sendFailure(statement: "script") }
            _ = try self.collect(handle, deadline: Self.now() + limit, statement: "script")
        }
    }

    /// Closes the connection now; the next statement opens a new one.
    func close() async {
        await queue.run { () -> Void in self.dropHandle() }
    }

    // MARK: - On the queue

    private func runOnQueue(_ query: PostgresQuery, timeout: Double) throws(PostgresError) -> PostgresResult {
        let handle = try connectedHandle()
        let deadline = Self.now() + timeout
        guard let name = try preparedName(for: query, handle: handle, deadline: deadline) else {
            let sent = withParameters(query.binds) { count, values, lengths, formats in
                PQsendQueryParams(handle, query.sql, count, nil, values, lengths, formats, 0)
            }
            guard sent == 1 else { throw sendFailure(statement: query.description) }
            return try collect(handle, deadline: deadline, statement: query.description)
        }
        let sent = withParameters(query.binds) { count, values, lengths, formats in
            PQsendQueryPrepared(handle, name, count, values, lengths, formats, 0)
        }
        guard sent == 1 else { throw sendFailure(statement: query.description) }
        do {
            return try collect(handle, deadline: deadline, statement: query.description)
        } catch where error.sqlState == "0A000" || error.sqlState == "26000" {
            // The schema changed under a cached plan ("cached plan must not change result type") or the
            // statement vanished: forget it and run the query unprepared this once.
            prepared.removeValue(forKey: query.sql)
            let resent = withParameters(query.binds) { count, values, lengths, formats in
                PQsendQueryParams(handle, query.sql, count, nil, values, lengths, formats, 0)
            }
            guard resent == 1 else { throw sendFailure(statement: query.description) }
            return try collect(handle, deadline: deadline, statement: query.description)
        }
    }

    /// The name of the query's prepared statement, preparing it first if needed; nil for statements
    /// without parameters (one-off administrative SQL) or when the cache is full.
    private func preparedName(for query: PostgresQuery, handle: OpaquePointer, deadline: Double) throws(PostgresError) -> String? {
        guard !query.binds.isEmpty else { return nil }
        if let name = prepared[query.sql] { return name }
        guard prepared.count < Self.preparedLimit else { return nil }
        preparedSerial += 1
        let name = "sf\(preparedSerial)"
        guard PQsendPrepare(handle, name, query.sql, Int32(query.binds.count), nil) == 1 else {
            throw sendFailure(statement: query.description)
        }
        _ = try collect(handle, deadline: deadline, statement: query.description)
        prepared[query.sql] = name
        return name
    }

    /// The open handle, reopening it when it is missing, broken, or was closed by the server while idle.
    private func connectedHandle() throws(PostgresError) -> OpaquePointer {
        if let handle {
            if PQstatus(handle) == CONNECTION_OK, !closedWhileIdle(handle) { return handle }
            dropHandle()
        }
        let opened = try open()
        handle = opened
        return opened
    }

    /// An idle connection has nothing to read unless the server is saying goodbye (shutdown, restart,
    /// `pg_terminate_backend`) or sent an unsolicited message. Either way a fresh connection is the safe
    /// choice, and it is cheap next to sending a statement into a connection that is about to close.
    private func closedWhileIdle(_ handle: OpaquePointer) -> Bool {
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private func open() throws(PostgresError) -> OpaquePointer {
        let keywords = ["dbname", "connect_timeout", "application_name", "options", "keepalives", "keepalives_idle"]
        let values = [
            configuration.url,
            String(max(1, Int(configuration.connectTimeout.rounded(.up)))),
            configuration.applicationName,
            // A transaction left open by a client that stopped (a frozen or partitioned worker inside a
            // fenced step write) would hold its job's row lock (the reaper skips locked rows) and hold back
            // every event stream's horizon: the server ends it after 15 s idle. Every transaction here
            // is SQL only, round trips apart.
            "-c TimeZone=UTC -c DateStyle=ISO,YMD -c client_encoding=UTF8 -c idle_in_transaction_session_timeout=15s",
            "1",
            "30",
        ]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else { throw PostgresError(.connectionFailed, "out of memory opening a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(.connectionFailed, message)
        }
        // libpq prints server notices ("relation already exists, skipping") to stderr by default, which
        // would interleave with structured logs; they carry nothing an operator needs.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        return connection
    }

    private func sendFailure(statement: @autoclosure () -> String) -> PostgresError {
        let message = handle.map { Self.message(PQerrorMessage($0)) } ?? "no connection"
        dropHandle()
        return PostgresError(.connectionLost, message, statement: statement())
    }

    private func dropHandle() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared = [:]
    }

    /// Waits for every result of the statement in flight and returns the last one. `statement` (the
    /// query's first line) is built only for an error: building it for every statement showed in profiles.
    private func collect(_ handle: OpaquePointer, deadline: Double, statement: @autoclosure () -> String) throws(PostgresError) -> PostgresResult {
        var outcome: PostgresResult?
        var failure: PostgresError?
        while true {
            try waitUntilReadable(handle, deadline: deadline, statement: statement())
            guard let result = PQgetResult(handle) else { break }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                outcome = Self.materialize(result)
            default:
                if failure == nil { failure = Self.serverError(result, statement: statement()) }
            }
        }
        if PQstatus(handle) != CONNECTION_OK {
            let message = Self.message(PQerrorMessage(handle))
            dropHandle()
            throw failure.map { PostgresError(.connectionLost, $0.message, sqlState: $0.sqlState, statement: statement()) }
                ?? PostgresError(.connectionLost, message, statement: statement())
        }
        if let failure { throw failure }
        return outcome ?? PostgresResult(columns: [], rows: [])
    }

    /// Blocks until libpq can hand out the next result without blocking, or the deadline passes, in which
    /// case the statement is cancelled on the server and the connection is reset.
    private func waitUntilReadable(_ handle: OpaquePointer, deadline: Double, statement: @autoclosure () -> String) throws(PostgresError) {
        while PQisBusy(handle) == 1 {
            let remaining = deadline - Self.now()
            if remaining <= 0 {
                cancelInFlight(handle)
                throw PostgresError(.timedOut, "no result within the statement timeout; the statement was cancelled", statement: statement())
            }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining * 1000, 1000).rounded(.up)))
            if ready < 0, errno != EINTR {
                dropHandle()
                throw PostgresError(.connectionLost, "poll failed: \(String(cString: strerror(errno)))", statement: statement())
            }
            if ready > 0, PQconsumeInput(handle) == 0 {
                let message = Self.message(PQerrorMessage(handle))
                dropHandle()
                throw PostgresError(.connectionLost, message, statement: statement())
            }
        }
    }

    /// Asks the server to cancel the running statement, then drops the connection: after a cancel the
    /// protocol state is only clean once every result is drained, and a fresh connection is simpler and
    /// certain.
    private func cancelInFlight(_ handle: OpaquePointer) {
        if let cancel = PQgetCancel(handle) {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &buffer, Int32(buffer.count))
            PQfreeCancel(cancel)
        }
        dropHandle()
    }

    // MARK: - Helpers

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private static func message(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "unknown error" }
        let text = String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text.replacingOccurrences(of: "\n", with: " ")
    }

    private static func serverError(_ result: OpaquePointer, statement: @autoclosure () -> String) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let pointer = PQresultErrorField(result, code) else { return nil }
            return String(cString: pointer)
        }
        let sqlState = field(Int32(UInt8(ascii: "C")))
        var message = field(Int32(UInt8(ascii: "M"))) ?? message(PQresultErrorMessage(result))
        if let detail = field(Int32(UInt8(ascii: "D"))) { message += " — \(detail)" }
        return PostgresError(.server, message, sqlState: sqlState, statement: statement())
    }

    private static func materialize(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        var index: [String: Int] = [:]
        for column in 0..<columnCount {
            let name = String(cString: PQfname(result, Int32(column)))
            columns.append(PostgresColumn(name: name, type: PostgresType(rawValue: PQftype(result, Int32(column)))))
            if index[name] == nil { index[name] = column }
        }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    let pointer = UnsafeRawPointer(PQgetvalue(result, Int32(row), Int32(column))!)
                    values.append(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
                }
            }
            rows.append(PostgresRow(columnIndex: index, columns: columns, values: values))
        }
        return PostgresResult(columns: columns, rows: rows)
    }
}

/// Lays parameters out as the arrays `PQsendQueryParams` takes: text values NUL-terminated, bytea values
/// as raw bytes with their lengths and binary format, NULL as a null pointer.
private func withParameters<R>(
    _ binds: [PostgresBind],
    _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
) -> R {
    guard !binds.isEmpty else { return body(0, nil, nil, nil) }
    var storage: [UnsafeMutableRawPointer?] = []
    storage.reserveCapacity(binds.count)
    var lengths: [Int32] = []
    var formats: [Int32] = []
    defer { storage.forEach { $0?.deallocate() } }
    for bind in binds {
        switch bind {
        case .null:
            storage.append(nil)
            lengths.append(0)
            formats.append(0)
        case .text(let text):
            let utf8 = Array(text.utf8CString)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: utf8.count, alignment: 1)
            utf8.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
            storage.append(buffer)
            lengths.append(Int32(utf8.count - 1))
            formats.append(0)
        case .binary(let bytes):
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
            storage.append(buffer)
            lengths.append(Int32(bytes.count))
            formats.append(1)
        }
    }
    let pointers: [UnsafePointer<CChar>?] = storage.map { $0.map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } }
    return pointers.withUnsafeBufferPointer { values in
        lengths.withUnsafeBufferPointer { lengths in
            formats.withUnsafeBufferPointer { formats in
                body(Int32(binds.count), values.baseAddress, lengths.baseAddress, formats.baseAddress)
            }
        }
    }
}

/// A NULL-terminated array of C strings for libpq's keyword/value connection API.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
