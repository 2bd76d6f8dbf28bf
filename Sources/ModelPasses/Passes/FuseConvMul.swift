import ModelIR
import ModelOps

/// `fuse-conv-mul`: `Mul(Conv(x, W, b), s) -> Conv(x, W * s, b * s)` for a per-channel
/// constant scale s (each output channel's filter and bias scaled by its s).
///
/// ```
/// before:  %c = Conv(%x, %w, %b) <- conv
///          %y = Mul(%c, %s) <- scale              (%s: float32[1,8,1,1])
/// after:   %y = Conv(%x, %w_scaled, %b_scaled) <- conv,scale
/// ```
/// Does not fire for a scale that is not per-channel (a spatial or per-element scale) or
/// when the Conv output has another reader.
public struct FuseConvMul: GraphPass {
    public let name = "fuse-conv-mul"
    public let summary = "Mul(Conv(x, W, b), s) -> Conv(x, W*s, b*s)"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let mul = g[node: id]
            guard mul.isOp("Mul"), mul.inputs.count == 2, let y = mul.outputs.first ?? nil else { return false }
            for side in 0..<2 {
                guard let c = mul.inputs[side], let k = mul.inputs[1 - side],
                      let (convID, conv) = g.producer(of: c), conv.isOp("Conv"), let constant = g.constant(k),
                      let w = g.constant(conv.inputs.count > 1 ? conv.inputs[1] : nil), w.dtype == .float32,
                      w.dims.count >= 3 else { continue }
                let m = w.dims[0]
                guard g.hasSingleUse(c), context.isReplaceable(c, in: g), context.isReplaceable(y, in: g) else {
                    context.note("fuse-conv-mul: \(mul.displayName): the Conv output has another reader")
                    return false
                }
                guard let scale = ChannelParameters.perChannel(constant, channels: m, rank: w.dims.count),
                      let bias = ChannelParameters.bias(of: conv, in: g, channels: m) else {
                    context.note("fuse-conv-mul: \(mul.displayName): the scale is not a per-channel float32 constant")
                    return false
                }
                let per = w.elementCount! / m
                let scaled = w.withElements(Float.self) { src in
                    Tensor.make(Float.self, dims: w.dims) { dst in
                        for ch in 0..<m { for i in 0..<per { dst[ch * per + i] = src[ch * per + i] * scale[ch] } }
                    }
                }
                w.releaseResidentPages()  // read once; the scaled copy replaces it
                g.setConstantInput(1, of: convID, to: scaled.spilled(), suffix: "_scaled")
                if conv.inputs.count > 2, conv.inputs[2] != nil {
                    g.setConstantInput(2, of: convID, to: Tensor.of(zip(bias, scale).map { $0 * $1 }), suffix: "_scaled")
                }
                g.mergeProvenance(mul.provenance, into: convID)
                return g.bypass(y, with: c)
            }
            return false
        }
    }
}
