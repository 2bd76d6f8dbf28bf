/// A sparse tensor in COO form, as ONNX's `SparseTensorProto` holds it.
public struct SparseTensor: Sendable {
    /// The non-zero values, a 1-D tensor of length NNZ.
    public var values: Tensor
    /// int64 indices: [NNZ] linearized, or [NNZ, rank].
    public var indices: Tensor
    /// The dense shape.
    public var dims: [Int]

    public init(values: Tensor, indices: Tensor, dims: [Int]) {
        self.values = values
        self.indices = indices
        self.dims = dims
    }
}

/// An attribute value, one case per ONNX `AttributeProto.AttributeType`.
public enum AttributeValue: Sendable {
    case float(Float)
    case int(Int64)
    /// Raw bytes; ONNX says UTF-8 but exporters store arbitrary bytes too.
    case string([UInt8])
    case tensor(Tensor)
    case graph(Graph)
    case sparseTensor(SparseTensor)
    case type(ValueType)
    case floats([Float])
    case ints([Int64])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([Graph])
    case sparseTensors([SparseTensor])
    case types([ValueType])
}

/// A named attribute of a node, in the order the source model listed it.
public struct Attribute: Sendable {
    public var name: String
    public var value: AttributeValue
    public var docString: String

    public init(_ name: String, _ value: AttributeValue, docString: String = "") {
        self.name = name
        self.value = value
        self.docString = docString
    }

    /// The subgraphs this attribute holds (one for `graph`, many for `graphs`).
    public var subgraphs: [Graph] {
        switch value {
        case .graph(let g): return [g]
        case .graphs(let gs): return gs
        default: return []
        }
    }
}

extension Array where Element == Attribute {
    /// The attribute named `name`, if present.
    public subscript(named name: String) -> AttributeValue? {
        first(where: { $0.name == name })?.value
    }
}
