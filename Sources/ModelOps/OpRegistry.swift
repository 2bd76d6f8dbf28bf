import ModelIR

/// Every operator modelconv computes: an explicit list, one line per file. A coverage test
/// walks it (every op has a conformance case or a written reason why not).
public enum OpRegistry {
    public static let schemas: [OpSchema] = [
        IdentityOps.schemas,
        ConstantOps.schemas,
        UnaryOps.schemas,
        ActivationOps.schemas,
        BinaryOps.schemas,
        ReduceOps.schemas,
        SoftmaxOps.schemas,
        CastOps.schemas,
        TopKOps.schemas,
        ShapeOps.schemas,
        GatherScatterOps.schemas,
        SliceOps.schemas,
        PadOps.schemas,
        ConvOps.schemas,
        PoolOps.schemas,
        NormalizationOps.schemas,
        GemmOps.schemas,
        QuantizeOps.schemas,
        ControlFlowOps.schemas,
        RecurrentOps.schemas,
        ResizeOps.schemas,
        DetectionOps.schemas,
        SequenceOps.schemas,
        AttentionOps.schemas,
        SignalOps.schemas,
        ImageOps.schemas,
        LinearAlgebraOps.schemas,
        TextOps.schemas,
    ].flatMap { $0 }

    private static let index: [String: OpSchema] = {
        var d: [String: OpSchema] = [:]
        for s in schemas {
            precondition(d[key(s.domain, s.opType)] == nil, "op \(s.opType) registered twice")
            d[key(s.domain, s.opType)] = s
        }
        return d
    }()

    static func key(_ domain: String, _ opType: String) -> String {
        (domain == "ai.onnx" ? "" : domain) + "::" + opType
    }

    /// The schema for `opType` in `domain`, if registered.
    public static func schema(domain: String, opType: String) -> OpSchema? {
        index[key(domain, opType)]
    }
}
