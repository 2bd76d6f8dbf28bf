import ModelIR
import ModelOps

/// `fuse-convtranspose-batchnorm`: `BatchNormalization(ConvTranspose(x, W, b)) -> ConvTranspose(x, W', b')`.
/// ConvTranspose weights are [C_in, C_out/group, k...]: output channel `o = g * C_out/group + j`
/// is computed from `W[ci, j]` for the input channels `ci` of group g, so
/// `W'[ci, j] = W[ci, j] * s[o]`, `b'[o] = (b[o] - mean[o]) * s[o] + beta[o]`,
/// `s = gamma / sqrt(var + epsilon)` (double precision, stored as float32). Output padding
/// positions receive only the bias, before and after alike.
///
/// ```
/// before:  %c = ConvTranspose(%x, %w) {strides=[2,2]} <- up
///          %y = BatchNormalization(%c, %g, %b, %m, %v) <- bn
/// after:   %y = ConvTranspose(%x, %w, %w_bias) {strides=[2,2]} <- up,bn
/// ```
/// Does not fire when the ConvTranspose output has another reader, when a parameter is not a
/// float32 constant, or when BatchNormalization computes training statistics.
public struct FuseConvTransposeBatchNorm: GraphPass {
    public let name = "fuse-convtranspose-batchnorm"
    public let summary = "BatchNormalization(ConvTranspose(x, W, b)) -> ConvTranspose(x, W', b')"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let bn = g[node: id]
            guard bn.isOp("BatchNormalization"), let x = bn.inputs.first ?? nil, let y = bn.outputs.first ?? nil,
                  let (convID, conv) = g.producer(of: x), conv.isOp("ConvTranspose") else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-convtranspose-batchnorm: \(bn.displayName): \(s)"); return false }
            guard g.hasSingleUse(x), context.isReplaceable(x, in: g), context.isReplaceable(y, in: g) else {
                return why("the ConvTranspose output '\(g[value: x].name)' has another reader")
            }
            guard let w = g.constant(conv.inputs.count > 1 ? conv.inputs[1] : nil), w.dtype == .float32, w.dims.count >= 3 else {
                return why("the ConvTranspose weight is not a float32 constant")
            }
            var group = 1
            if case .int(let gr)? = conv.attributes[named: "group"] { group = Int(gr) }
            guard group >= 1, w.dims[0] % group == 0 else { return why("group \(group) does not divide C_in \(w.dims[0])") }
            let cin = w.dims[0], perGroupOut = w.dims[1], m = group * perGroupOut
            let params: BatchNormParameters
            switch BatchNormParameters.of(bn, in: g, channels: m) {
            case .success(let p): params = p
            case .failure(let r): return why(r.text)
            }
            var bias: [Float]? = nil
            if conv.inputs.count > 2, let bID = conv.inputs[2] {
                guard let b = g.constant(bID), b.dtype == .float32, b.elementCount == m else {
                    return why("the ConvTranspose bias is not a float32 constant of \(m) channels")
                }
                bias = b.elements(Float.self)
            }
            let kernel = w.elementCount! / (cin * perGroupOut)
            let inPerGroup = cin / group
            let newW = w.withElements(Float.self) { src in
                Tensor.make(Float.self, dims: w.dims) { dst in
                    for ci in 0..<cin {
                        let grp = ci / inPerGroup
                        for j in 0..<perGroupOut {
                            let s = params.scale[grp * perGroupOut + j]
                            let base = (ci * perGroupOut + j) * kernel
                            for k in 0..<kernel { dst[base + k] = Float(Double(src[base + k]) * s) }
                        }
                    }
                }
            }
            g.setConstantInput(1, of: convID, to: newW, suffix: "_bn")
            g.setConstantInput(2, of: convID, to: Tensor.of(params.foldedBias(bias)), suffix: "_bias")
            g.mergeProvenance(bn.provenance, into: convID)
            return g.bypass(y, with: x)
        }
    }
}
