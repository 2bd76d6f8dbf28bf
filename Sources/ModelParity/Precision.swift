import ModelIR

/// The numeric precision a candidate computes in; it picks the default tolerances
/// (`Tolerance.preset`).
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
    case float32
    case float16
    case int8

    public var description: String { rawValue }

    /// Ops that mark a graph as quantized (default and com.microsoft domains).
    static let quantizedOps: Set<String> = [
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
        "ConvInteger", "MatMulInteger", "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
        "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearConcat", "QLinearSoftmax", "QGemm",
    ]

    /// The precision of `model`: `int8` when any node (subgraphs included) is a quantization
    /// op (QuantizeLinear, DequantizeLinear, QLinearConv, ConvInteger...); else `float16` when
    /// any initializer, graph input or output, or declared value is float16 or bfloat16;
    /// else `float32`.
    public static func detect(_ model: Model) -> Precision {
        var half = false
        func walk(_ g: Graph) -> Bool {
            for (_, node) in g.liveNodes {
                if quantizedOps.contains(node.opType) { return true }
                for sub in node.subgraphs where walk(sub) { return true }
            }
            for v in g.values {
                let t = v.initializer?.dtype ?? v.type?.tensorDType
                if t == .float16 || t == .bfloat16 { half = true }
            }
            return false
        }
        if walk(model.graph) { return .int8 }
        return half ? .float16 : .float32
    }
}
