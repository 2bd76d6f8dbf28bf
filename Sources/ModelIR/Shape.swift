/// One dimension of a shape: a number, a named symbol shared across values (`batch`), or
/// nothing known.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case symbolic(String)
    case unknown

    /// The size, when known; nil for symbolic and unknown dims and for the negative sizes
    /// some exporters (PaddlePaddle: -1) write for a dynamic dim.
    public var value: Int? {
        if case .known(let v) = self, v >= 0 { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .known(let v): return String(v)
        case .symbolic(let s): return s
        case .unknown: return "?"
        }
    }
}

/// A tensor shape of known rank whose dims may be symbolic.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }
    public init(_ dims: [Int]) { self.dims = dims.map(Dim.known) }

    public var rank: Int { dims.count }

    /// Every dim as a number, or nil if any is symbolic or unknown.
    public var staticDims: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return out
    }

    /// The element count when every dim is known; nil otherwise or on overflow.
    public var elementCount: Int? { staticDims.flatMap(Shape.elementCount(of:)) }

    /// The product of `dims`, or nil if a dim is negative or the product overflows `Int`.
    public static func elementCount(of dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { return nil }
            n = p
        }
        return n
    }

    public var description: String { "[" + dims.map(\.description).joined(separator: ",") + "]" }
}

/// The type of a value: ONNX's `TypeProto`. Tensors are the common case; sequences,
/// optionals and maps appear in a few opsets' ops and are carried through.
public indirect enum ValueType: Hashable, Sendable, CustomStringConvertible {
    /// A dense tensor; `shape` nil means the rank is unknown.
    case tensor(DType, Shape?)
    case sparseTensor(DType, Shape?)
    case sequence(ValueType?)
    case optional(ValueType?)
    case map(key: DType, value: ValueType?)

    /// The element type of a dense tensor type.
    public var tensorDType: DType? {
        if case .tensor(let t, _) = self { return t }
        return nil
    }

    /// The shape of a dense tensor type, when its rank is known.
    public var tensorShape: Shape? {
        if case .tensor(_, let s) = self { return s }
        return nil
    }

    public var description: String {
        func opt(_ t: ValueType?) -> String { t.map(\.description) ?? "?" }
        switch self {
        case .tensor(let d, let s): return "\(d)\(s.map(\.description) ?? "[*]")"
        case .sparseTensor(let d, let s): return "sparse<\(d)\(s.map(\.description) ?? "[*]")>"
        case .sequence(let e): return "seq<\(opt(e))>"
        case .optional(let e): return "optional<\(opt(e))>"
        case .map(let k, let v): return "map<\(k),\(opt(v))>"
        }
    }
}
