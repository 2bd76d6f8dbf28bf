import ModelIR
import ModelOps

/// `fuse-convtranspose-add`: `Add(ConvTranspose(x, W, b), c) -> ConvTranspose(x, W, b + c)`
/// for a per-channel constant c (C_out = group * W.dims[1] channels). Exporters that emit
/// the bias as a separate Add (Paddle's paddle2onnx) leave this pattern before a BatchNorm.
///
/// ```
/// before:  %t = ConvTranspose(%x, %w) {strides=[2,2]} <- up
///          %y = Add(%t, %b) <- add                 (%b: float32[1,8,1,1])
/// after:   %y = ConvTranspose(%x, %w, %b_1) {strides=[2,2]} <- up,add
/// ```
/// Does not fire when the ConvTranspose output has another reader or c is not per-channel.
public struct FuseConvTransposeAdd: GraphPass {
    public let name = "fuse-convtranspose-add"
    public let summary = "Add(ConvTranspose(x, W, b), c) -> ConvTranspose(x, W, b + c)"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let add = g[node: id]
            guard add.isOp("Add"), add.inputs.count == 2, let y = add.outputs.first ?? nil else { return false }
            for side in 0..<2 {
                guard let t = add.inputs[side], let k = add.inputs[1 - side],
                      let (convID, conv) = g.producer(of: t), conv.isOp("ConvTranspose"), let constant = g.constant(k),
                      let w = g.constant(conv.inputs.count > 1 ? conv.inputs[1] : nil), w.dtype == .float32,
                      w.dims.count >= 3 else { continue }
                func why(_ s: String) -> Bool { context.note("fuse-convtranspose-add: \(add.displayName): \(s)"); return false }
                var group = 1
                if case .int(let gr)? = conv.attributes[named: "group"] { group = Int(gr) }
                let m = group * w.dims[1]
                guard g.hasSingleUse(t), context.isReplaceable(t, in: g), context.isReplaceable(y, in: g) else {
                    return why("the ConvTranspose output has another reader")
                }
                guard let addend = ChannelParameters.perChannel(constant, channels: m, rank: w.dims.count),
                      let bias = ChannelParameters.bias(of: conv, in: g, channels: m) else {
                    return why("the addend is not a per-channel float32 constant")
                }
                g.setConstantInput(2, of: convID, to: Tensor.of(zip(bias, addend).map { $0 + $1 }), suffix: "_bias")
                g.mergeProvenance(add.provenance, into: convID)
                return g.bypass(y, with: t)
            }
            return false
        }
    }
}
