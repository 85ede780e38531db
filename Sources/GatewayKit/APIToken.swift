import Crypto
import Foundation

/// API tokens: `sfk_` and the base64url of 32 bytes from the system CSPRNG (getrandom on Linux). Only the
/// SHA-256 digest is stored, so a database leak reveals no usable token; a lookup hashes the presented
/// token and finds the row by its digest (an index lookup, no timing side channel on the token itself).
public enum APIToken {
    public static let prefix = "sfk_"

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(bytes)
    }

    public static func hash(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(token.utf8)))
    }

    /// The first characters, shown in listings so a person can tell tokens apart.
    public static func displayPrefix(_ token: String) -> String {
        String(token.prefix(prefix.count + 6))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] {
    Array(SHA256.hash(data: bytes))
}
