import Foundation

/// A configuration value that is missing or malformed. Its description is the one line an operator sees
/// before the process exits, so it names the variable and says what a good value looks like.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let variable: String
    public let problem: String

    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "\(variable): \(problem)" }
}

/// Reads typed settings from the process environment (or a dictionary in tests) and refuses bad values
/// with a `ConfigurationError`, so a misconfigured process stops at start-up instead of failing later.
public struct ConfigurationReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// A variable's value, with blank values treated as unset.
    public func raw(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    public func required(_ name: String, hint: String) throws(ConfigurationError) -> String {
        guard let value = raw(name) else {
            throw ConfigurationError(variable: name, problem: "is required (\(hint))")
        }
        return value
    }

    public func string(_ name: String, default defaultValue: String) -> String {
        raw(name) ?? defaultValue
    }

    public func string(_ name: String, default defaultValue: String, oneOf allowed: [String]) throws(ConfigurationError) -> String {
        let value = raw(name) ?? defaultValue
        guard allowed.contains(value) else {
            throw ConfigurationError(
                variable: name,
                problem: "must be one of \(allowed.joined(separator: ", ")) (got \"\(value)\")"
            )
        }
        return value
    }

    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                variable: name,
                problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \"\(text)\")"
            )
        }
        return value
    }

    /// A duration in seconds; accepts fractions ("0.5") and the suffixes ms, s, m, h and d ("250ms", "30s",
    /// "2m", "12h", "30d").
    public func seconds(_ name: String, default defaultValue: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let text = raw(name) else { return defaultValue }
        let value: Double?
        if text.hasSuffix("ms") {
            value = Double(text.dropLast(2)).map { $0 / 1000 }
        } else if text.hasSuffix("s") {
            value = Double(text.dropLast())
        } else if text.hasSuffix("m") {
            value = Double(text.dropLast()).map { $0 * 60 }
        } else if text.hasSuffix("h") {
            value = Double(text.dropLast()).map { $0 * 3600 }
        } else if text.hasSuffix("d") {
            value = Double(text.dropLast()).map { $0 * 86_400 }
        } else {
            value = Double(text)
        }
        guard let value, value.isFinite, range.contains(value) else {
            throw ConfigurationError(
                variable: name,
                problem: "must be a duration from \(range.lowerBound)s to \(range.upperBound)s, such as 30s or 250ms (got \"\(text)\")"
            )
        }
        return value
    }

    public func bool(_ name: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        guard let text = raw(name) else { return defaultValue }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable: name, problem: "must be true or false (got \"\(text)\")")
        }
    }

    /// A URL with one of the given schemes and a host; the value is not echoed back because URLs carry passwords.
    public func url(_ name: String, schemes: [String], example: String) throws(ConfigurationError) -> URL {
        let text = try required(name, hint: "for example \(example)")
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
              let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(
                variable: name,
                problem: "must be a URL such as \(example) (scheme \(schemes.joined(separator: " or ")), with a host)"
            )
        }
        return url
    }
}
