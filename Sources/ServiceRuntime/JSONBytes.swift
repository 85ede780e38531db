/// JSON scalars appended to UTF-8 bytes as `JSONEncoder` writes them: shared by the hand-written JSON
/// writers of the gateway and of the Kubernetes client.
public enum JSONBytes {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Integral values without a fraction (Kubernetes replicas and ports must stay integers on the
    /// wire), others as Swift prints them; NaN and infinities, which JSON cannot say, as null.
    public static func appendNumber(_ value: Double, to out: inout [UInt8]) {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
            out.append(contentsOf: String(Int(value)).utf8)
        } else if value.isFinite {
            out.append(contentsOf: value.description.utf8)
        } else {
            out.append(contentsOf: "null".utf8)
        }
    }

    /// A string literal, escaped as `JSONEncoder` escapes it (slashes left alone).
    public static func appendQuoted(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
