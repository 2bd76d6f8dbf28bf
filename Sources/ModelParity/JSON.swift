/// A JSON value with a deterministic text form, for the parity report.
///
/// Writing: object keys sorted by their UTF-8 bytes, two-space indentation; arrays of
/// scalars, and objects whose members are scalars or arrays of scalars, on one line. A `Double` is written in its shortest round-trip form (Swift's
/// `description`: `0.0001`, `1e-05`, `1.0`), so parsing the text gives back the same bits;
/// the non-finite values, which JSON has no literal for, are the strings `"inf"`, `"-inf"`
/// and `"nan"`. Integers are written without a fraction or exponent.
///
/// Reading: `JSON.parse` keeps that distinction: a number with a `.`, `e` or `E` is a
/// `.double` (parsed with `Double(String)`, correctly rounded), any other a `.int`.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// A number: `.double`, or for non-finite values the strings `"inf"`, `"-inf"`, `"nan"`.
    public static func number(_ v: Double) -> JSON {
        if v.isNaN { return .string("nan") }
        if v.isInfinite { return .string(v < 0 ? "-inf" : "inf") }
        return .double(v)
    }

    /// An optional number: `null` when nil.
    public static func number(_ v: Double?) -> JSON { v.map { number($0) } ?? .null }

    // MARK: Access

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A number written by `number(_:)`: a double, an int, or one of the non-finite strings.
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        case .string("nan"): return .nan
        default: return nil
        }
    }

    // MARK: Writing

    /// The deterministic text, ending with a newline.
    public var text: String {
        var out = ""
        write(into: &out, indent: 0)
        out.append("\n")
        return out
    }

    /// A scalar, or an array of scalars.
    private var isFlat: Bool {
        if case .array(let items) = self { return items.allSatisfy(\.isScalar) }
        return isScalar
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .int(let i): out.append(String(i))
        case .double(let d): out.append(JSON.format(d))
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out.append("[]"); return }
            if items.allSatisfy(\.isScalar) {
                out.append("[")
                for (k, item) in items.enumerated() {
                    if k > 0 { out.append(", ") }
                    item.write(into: &out, indent: indent)
                }
                out.append("]")
                return
            }
            let pad = String(repeating: " ", count: indent + 2)
            out.append("[\n")
            for (k, item) in items.enumerated() {
                out.append(pad)
                item.write(into: &out, indent: indent + 2)
                out.append(k + 1 < items.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "]")
        case .object(let members):
            if members.isEmpty { out.append("{}"); return }
            let keys = members.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            if members.values.allSatisfy(\.isFlat) {
                // Scalars (and arrays of scalars) only: one line.
                out.append("{")
                for (k, key) in keys.enumerated() {
                    if k > 0 { out.append(", ") }
                    JSON.quote(key, into: &out)
                    out.append(": ")
                    members[key]!.write(into: &out, indent: indent)
                }
                out.append("}")
                return
            }
            let pad = String(repeating: " ", count: indent + 2)
            out.append("{\n")
            for (k, key) in keys.enumerated() {
                out.append(pad)
                JSON.quote(key, into: &out)
                out.append(": ")
                members[key]!.write(into: &out, indent: indent + 2)
                out.append(k + 1 < keys.count ? ",\n" : "\n")
            }
            out.append(String(repeating: " ", count: indent) + "}")
        }
    }

    /// Shortest round-trip form of a finite double (`-0.0` is written as `-0.0`).
    static func format(_ d: Double) -> String {
        precondition(d.isFinite, "non-finite doubles are written as strings")
        return d.description
    }

    static func quote(_ s: String, into out: inout String) {
        out.append("\"")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029 {
                    let hex = String(u.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out.append("\"")
    }

    // MARK: Reading

    /// Why a text is not JSON: the byte offset and what was expected there.
    public struct SyntaxError: Error, CustomStringConvertible, Sendable {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses `text` (UTF-8). Nesting deeper than 512 levels is refused.
    public static func parse(_ text: String) throws(SyntaxError) -> JSON {
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.at == p.bytes.count else { throw p.fail("text after the end of the value") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var at = 0

        func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: at, reason: reason) }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func literal(_ word: String, _ v: JSON) throws(SyntaxError) -> JSON {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else {
                throw fail("expected '\(word)'")
            }
            at += w.count
            return v
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSON {
            guard depth < 512 else { throw fail("nesting deeper than 512 levels") }
            guard at < bytes.count else { throw fail("unexpected end of text") }
            switch bytes[at] {
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                at += 1
                var items: [JSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated array") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "{"):
                at += 1
                var members: [String: JSON] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    at += 1
                    skipSpace()
                    guard members[key] == nil else { throw fail("duplicate key '\(key)'") }
                    members[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated object") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            default:
                return try number()
            }
        }

        mutating func number() throws(SyntaxError) -> JSON {
            let start = at
            var isDouble = false
            while at < bytes.count {
                let c = bytes[at]
                if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                    at += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    isDouble = true
                    at += 1
                } else {
                    break
                }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            guard !text.isEmpty else { throw fail("unexpected character") }
            if !isDouble, let i = Int(text) { return .int(i) }
            guard let d = Double(text), d.isFinite else {
                at = start
                throw fail("malformed number '\(text)'")
            }
            return .double(d)
        }

        mutating func string() throws(SyntaxError) -> String {
            at += 1  // opening quote
            var out: [UInt8] = []
            while at < bytes.count {
                let c = bytes[at]
                at += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard at < bytes.count else { break }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate")
                        }
                        at += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("invalid escape")
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard at + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16) else {
                throw fail("invalid \\u escape")
            }
            at += 4
            return v
        }
    }
}
