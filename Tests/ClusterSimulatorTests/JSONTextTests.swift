import Foundation
import KubeClient
import Testing

/// `JSON`'s hand-written parser and writer against Foundation's, which they replaced.
@Suite("JSON text")
struct JSONTextTests {
    static let sample = #"""
    {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop-web","labels":{"app.kubernetes.io/name":"wordpress"},
     "annotations":{"note":"quote \" backslash \\ slash \/ tab \t newline \n bell \u0007 e\u0301 \u00e9 snowman \u2603 emoji \ud83d\uded2 中文"}},
     "spec":{"replicas":2,"paused":false,"ratio":0.25,"big":12345678901234,"tiny":-1.5e-7,"exp":2E+3,"nothing":null,
     "template":{"spec":{"containers":[{"name":"web","image":"wordpress:6.8","ports":[{"containerPort":80}],"args":[]}]}},
     "empty":{}}}
    """#

    @Test("parses what Foundation parses, to the same values")
    func parsesLikeFoundation() throws {
        let data = Data(Self.sample.utf8)
        let parsed = try JSON(parsing: data)
        let reference = try JSONDecoder().decode(JSON.self, from: data)
        #expect(parsed == reference)
        #expect(parsed.at("metadata", "annotations", "note")?.string?.contains("snowman ☃ emoji 🛒 中文") == true)
        #expect(parsed.at("spec", "replicas") == .number(2))
        #expect(parsed.at("spec", "tiny") == .number(-1.5e-7))
        #expect(parsed.at("spec", "exp") == .number(2000))
        #expect(parsed.at("spec", "nothing") == .null)
        #expect(parsed.at("spec", "paused") == .bool(false))
    }

    @Test("writes what JSONEncoder with sorted keys and unescaped slashes writes")
    func writesLikeFoundation() throws {
        let value = try JSON(parsing: Data(Self.sample.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: value.serialized(), as: UTF8.self) == String(decoding: try encoder.encode(value), as: UTF8.self))
        #expect(try JSON(parsing: value.serialized()) == value, "round trip")
        #expect(String(decoding: JSON.object(["b": 1, "a": [.null, true, .number(0.5), "x/y"]]).serialized(), as: UTF8.self) == #"{"a":[null,true,0.5,"x/y"],"b":1}"#)
    }

    @Test("refuses malformed text with the offset of the problem", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "\"\\ud83d\"", "\"a\u{1}b\"", "{} {}", "[1] x",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ])
    func refusesMalformed(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON(parsing: Data(text.utf8)) }
    }

    @Test("accepts surrounding whitespace and scalar documents")
    func scalars() throws {
        #expect(try JSON(parsing: Data(" \n\t42\r\n".utf8)) == .number(42))
        #expect(try JSON(parsing: Data("\"ok\"".utf8)) == .string("ok"))
        #expect(try JSON(parsing: Data("null".utf8)) == .null)
    }
}
