/// A value in the small subset of Python literal syntax that an .npy header uses: a dict of
/// strings, booleans, integers and tuples (`{'descr': '<f4', 'fortran_order': False,
/// 'shape': (2, 3), }`). Lists and `None` are parsed too, so that a structured dtype's
/// `descr` (a list of tuples) is recognised and refused by name rather than as a syntax
/// error.
enum PythonLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: String, value: PythonLiteral)])

    /// Python's `repr` of the value, for error messages.
    var repr: String {
        switch self {
        case .string(let s): return "'" + s + "'"
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let xs): return "(" + xs.map(\.repr).joined(separator: ", ") + (xs.count == 1 ? ",)" : ")")
        case .list(let xs): return "[" + xs.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let kv): return "{" + kv.map { "'\($0.key)': \($0.value.repr)" }.joined(separator: ", ") + "}"
        }
    }

    /// Why a header did not parse, with the byte offset in the header text.
    struct SyntaxError: Error {
        let reason: String
        let offset: Int
    }

    /// Parses `text` as exactly one literal, optionally surrounded by whitespace.
    ///
    /// Accepted: single- or double-quoted strings (escapes `\\`, `\'`, `\"` and `\n`;
    /// anything else keeps its backslash), decimal integers with an optional sign and
    /// Python 2's `L` suffix (`3L`, which old NumPy wrote), `True`, `False`, `None`,
    /// tuples (a parenthesized single value without a comma is that value, as in Python),
    /// lists, and dicts whose keys are strings; trailing commas are allowed. Integers that do
    /// not fit `Int`, nesting deeper than `maxDepth`, and duplicate dict keys are refused.
    static func parse(_ text: [UInt8], maxDepth: Int = 16) throws(SyntaxError) -> PythonLiteral {
        var parser = Parser(text: text, maxDepth: maxDepth)
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == text.count else {
            throw parser.failure("unexpected \(parser.peekDescription) after the literal")
        }
        return value
    }

    private struct Parser {
        let text: [UInt8]
        let maxDepth: Int
        var position = 0

        init(text: [UInt8], maxDepth: Int) {
            self.text = text
            self.maxDepth = maxDepth
        }

        func failure(_ reason: String) -> SyntaxError { SyntaxError(reason: reason, offset: position) }

        var peek: UInt8? { position < text.count ? text[position] : nil }

        var peekDescription: String {
            guard let c = peek else { return "end of header" }
            if c >= 0x20 && c < 0x7f { return "'\(Character(Unicode.Scalar(c)))'" }
            return "byte 0x" + String(c, radix: 16)
        }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d { position += 1 }
        }

        mutating func expect(_ c: UInt8) throws(SyntaxError) {
            skipSpace()
            guard peek == c else {
                throw failure("expected '\(Character(Unicode.Scalar(c)))', found \(peekDescription)")
            }
            position += 1
        }

        mutating func value(depth: Int) throws(SyntaxError) -> PythonLiteral {
            skipSpace()
            guard depth < maxDepth else { throw failure("nested deeper than \(maxDepth) levels") }
            guard let c = peek else { throw failure("unexpected end of header") }
            switch c {
            case UInt8(ascii: "{"): return try dict(depth: depth)
            case UInt8(ascii: "("):
                return try sequence(close: UInt8(ascii: ")"), depth: depth, isTuple: true)
            case UInt8(ascii: "["):
                return try sequence(close: UInt8(ascii: "]"), depth: depth, isTuple: false)
            case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try integer())
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
                let start = position
                while let d = peek, Self.isIdentifier(d) { position += 1 }
                switch String(decoding: text[start..<position], as: UTF8.self) {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .none
                case let word:
                    position = start
                    throw failure("unexpected name '\(word)' (only True, False and None are literals)")
                }
            default:
                throw failure("unexpected \(peekDescription)")
            }
        }

        static func isIdentifier(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
        }

        mutating func dict(depth: Int) throws(SyntaxError) -> PythonLiteral {
            position += 1  // {
            var entries: [(key: String, value: PythonLiteral)] = []
            while true {
                skipSpace()
                if peek == UInt8(ascii: "}") { position += 1; return .dict(entries) }
                let keyStart = position
                guard case .string(let key) = try value(depth: depth + 1) else {
                    position = keyStart
                    throw failure("dict keys must be strings")
                }
                if entries.contains(where: { $0.key == key }) {
                    position = keyStart
                    throw failure("key '\(key)' appears twice")
                }
                try expect(UInt8(ascii: ":"))
                entries.append((key, try value(depth: depth + 1)))
                skipSpace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .dict(entries)
            }
        }

        mutating func sequence(close: UInt8, depth: Int, isTuple: Bool) throws(SyntaxError) -> PythonLiteral {
            position += 1  // ( or [
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipSpace()
                if peek == close { position += 1; break }
                items.append(try value(depth: depth + 1))
                skipSpace()
                if peek == UInt8(ascii: ",") { position += 1; sawComma = true; continue }
                try expect(close)
                break
            }
            if isTuple && items.count == 1 && !sawComma { return items[0] }  // (3) is 3
            return isTuple ? .tuple(items) : .list(items)
        }

        mutating func string() throws(SyntaxError) -> String {
            let quote = text[position]
            let start = position
            position += 1
            var out: [UInt8] = []
            while true {
                guard let c = peek, c != 0x0a else {
                    position = start
                    throw failure("unterminated string")
                }
                position += 1
                if c == quote { break }
                if c == UInt8(ascii: "\\"), let e = peek {
                    position += 1
                    switch e {
                    case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    default: out.append(c); out.append(e)
                    }
                    continue
                }
                out.append(c)
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func integer() throws(SyntaxError) -> Int {
            let start = position
            var negative = false
            if peek == UInt8(ascii: "-") || peek == UInt8(ascii: "+") {
                negative = peek == UInt8(ascii: "-")
                position += 1
                skipSpace()
            }
            var value = 0
            var digits = 0
            while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                guard !o1 && !o2 else {
                    position = start
                    throw failure("integer too large")
                }
                value = s
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw failure("expected digits, found \(peekDescription)") }
            if peek == UInt8(ascii: "L") || peek == UInt8(ascii: "l") { position += 1 }  // Python 2 long
            if let c = peek, Self.isIdentifier(c) || c == UInt8(ascii: ".") {
                throw failure("unexpected \(peekDescription) in an integer")
            }
            return negative ? -value : value
        }
    }
}
