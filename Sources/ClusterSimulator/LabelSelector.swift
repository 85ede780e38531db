/// Kubernetes label selectors as they arrive in `?labelSelector=`: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
/// `a notin (x)`, `a` (exists) and `!a` (does not exist), joined by commas.
public struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    let requirements: [Requirement]

    public init(parsing text: String) throws(APIError) {
        var requirements: [Requirement] = []
        for clause in Self.splitClauses(text) {
            let part = clause.trimmingCharacters(in: .whitespaces)
            if part.isEmpty { continue }
            if let range = part.range(of: " notin ") {
                requirements.append(.notIn(String(part[..<range.lowerBound]).trimmed, try Self.set(String(part[range.upperBound...]))))
            } else if let range = part.range(of: " in ") {
                requirements.append(.isIn(String(part[..<range.lowerBound]).trimmed, try Self.set(String(part[range.upperBound...]))))
            } else if let range = part.range(of: "!=") {
                requirements.append(.notEquals(String(part[..<range.lowerBound]).trimmed, String(part[range.upperBound...]).trimmed))
            } else if let range = part.range(of: "==") ?? part.range(of: "=") {
                requirements.append(.equals(String(part[..<range.lowerBound]).trimmed, String(part[range.upperBound...]).trimmed))
            } else if part.hasPrefix("!") {
                requirements.append(.notExists(String(part.dropFirst()).trimmed))
            } else {
                requirements.append(.exists(part))
            }
        }
        self.requirements = requirements
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .isIn(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .notExists(let key): labels[key] == nil
            }
        }
    }

    /// Splits on commas outside parentheses.
    static func splitClauses(_ text: String) -> [String] {
        var clauses: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                clauses.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        clauses.append(current)
        return clauses
    }

    static func set(_ text: String) throws(APIError) -> Set<String> {
        let trimmed = text.trimmed
        guard trimmed.hasPrefix("("), trimmed.hasSuffix(")") else {
            throw APIError.badRequest("unable to parse requirement: expected a parenthesized set in \"\(text)\"")
        }
        return Set(trimmed.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed })
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespaces) }
}

import KubeClient
import Foundation
