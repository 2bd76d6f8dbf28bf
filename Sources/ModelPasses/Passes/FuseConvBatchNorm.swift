import ModelIR
import ModelOps

/// `fuse-conv-batchnorm`: `BatchNormalization(Conv(x, W, b)) -> Conv(x, W', b')` with
/// `W'[m] = W[m] * s[m]`, `b'[m] = (b[m] - mean[m]) * s[m] + B[m]`,
/// `s = scale / sqrt(var + epsilon)` (computed in double precision, stored as float32).
///
/// ```
/// before:  %c = Conv(%x, %w) {kernel_shape=[3,3]} <- conv1
///          %y = BatchNormalization(%c, %g, %b, %m, %v) <- bn1
/// after:   %y = Conv(%x, %w, %w_bias) {kernel_shape=[3,3]} <- conv1,bn1
/// ```
/// Does not fire when the Conv output has another reader, when a parameter is not a float32
/// constant, or when BatchNormalization computes training statistics.
public struct FuseConvBatchNorm: GraphPass {
    public let name = "fuse-conv-batchnorm"
    public let summary = "BatchNormalization(Conv(x, W, b)) -> Conv(x, W', b')"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let bn = g[node: id]
            guard bn.isOp("BatchNormalization"), bn.inputs.count == 5, let x = bn.inputs[0], let y = bn.outputs.first ?? nil else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-conv-batchnorm: \(bn.displayName): \(s)"); return false }
            if bn.outputs.dropFirst().contains(where: { $0 != nil }) { return why("computes training statistics") }
            if case .int(let t)? = bn.attributes[named: "training_mode"], t != 0 { return why("training_mode is set") }
            guard let (convID, conv) = g.producer(of: x), conv.isOp("Conv") else { return false }
            guard g.hasSingleUse(x), context.isReplaceable(x, in: g), context.isReplaceable(y, in: g) else {
                return why("the Conv output '\(g[value: x].name)' has another reader")
            }
            guard let w = g.constant(conv.inputs.count > 1 ? conv.inputs[1] : nil), w.dtype == .float32, w.dims.count >= 2 else {
                return why("the Conv weight is not a float32 constant")
            }
            let m = w.dims[0]
            let params = bn.inputs[1...4].map { g.constant($0) }
            guard params.allSatisfy({ $0?.dtype == .float32 && $0?.elementCount == m }) else {
                return why("scale, bias, mean and var are not float32 constants of \(m) channels")
            }
            var bias = [Float](repeating: 0, count: m)
            if conv.inputs.count > 2, let bID = conv.inputs[2] {
                guard let b = g.constant(bID), b.dtype == .float32, b.elementCount == m else {
                    return why("the Conv bias is not a float32 constant")
                }
                bias = b.elements(Float.self)
            }
            let scale = params[0]!.elements(Float.self), shift = params[1]!.elements(Float.self)
            let mean = params[2]!.elements(Float.self), variance = params[3]!.elements(Float.self)
            let epsilon = Double({ if case .float(let e)? = bn.attributes[named: "epsilon"] { return e }; return 1e-5 }())
            var s = [Double](repeating: 0, count: m)
            for c in 0..<m { s[c] = Double(scale[c]) / (Double(variance[c]) + epsilon).squareRoot() }
            let perChannel = w.elementCount! / m
            let newW = w.withElements(Float.self) { src in
                Tensor.make(Float.self, dims: w.dims) { dst in
                    for c in 0..<m {
                        for i in 0..<perChannel { dst[c * perChannel + i] = Float(Double(src[c * perChannel + i]) * s[c]) }
                    }
                }
            }
            var fusedBias = [Float](repeating: 0, count: m)
            for c in 0..<m {
                let centered = Double(bias[c]) - Double(mean[c])
                fusedBias[c] = Float(centered * s[c] + Double(shift[c]))
            }
            let newB = Tensor.of(fusedBias)
            w.releaseResidentPages()  // read once; the fused copy replaces it
            g.setConstantInput(1, of: convID, to: newW.spilled(), suffix: "_bn")
            g.setConstantInput(2, of: convID, to: newB, suffix: "_bias")
            g.mergeProvenance(bn.provenance, into: convID)
            return g.bypass(y, with: x)
        }
    }
}
