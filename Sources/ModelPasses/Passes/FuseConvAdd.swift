import ModelIR
import ModelOps

/// `fuse-conv-add`: `Add(Conv(x, W, b), c) -> Conv(x, W, b + c)` for a per-channel constant c.
///
/// ```
/// before:  %c = Conv(%x, %w) {kernel_shape=[1,1]} <- conv
///          %y = Add(%c, %bias) <- add             (%bias: float32[1,8,1,1])
/// after:   %y = Conv(%x, %w, %bias_1) {kernel_shape=[1,1]} <- conv,add
/// ```
/// Does not fire when the Conv output has another reader or c is not per-channel.
public struct FuseConvAdd: GraphPass {
    public let name = "fuse-conv-add"
    public let summary = "Add(Conv(x, W, b), c) -> Conv(x, W, b + c)"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let add = g[node: id]
            guard add.isOp("Add"), add.inputs.count == 2, let y = add.outputs.first ?? nil else { return false }
            for side in 0..<2 {
                guard let c = add.inputs[side], let k = add.inputs[1 - side],
                      let (convID, conv) = g.producer(of: c), conv.isOp("Conv"), let constant = g.constant(k),
                      let w = g.constant(conv.inputs.count > 1 ? conv.inputs[1] : nil), w.dims.count >= 3 else { continue }
                let m = w.dims[0]
                guard g.hasSingleUse(c), context.isReplaceable(c, in: g), context.isReplaceable(y, in: g) else {
                    context.note("fuse-conv-add: \(add.displayName): the Conv output has another reader")
                    return false
                }
                guard let addend = ChannelParameters.perChannel(constant, channels: m, rank: w.dims.count),
                      let bias = ChannelParameters.bias(of: conv, in: g, channels: m) else {
                    context.note("fuse-conv-add: \(add.displayName): the addend is not a per-channel float32 constant")
                    return false
                }
                g.setConstantInput(2, of: convID, to: Tensor.of(zip(bias, addend).map { $0 + $1 }), suffix: "_bias")
                g.mergeProvenance(add.provenance, into: convID)
                return g.bypass(y, with: c)
            }
            return false
        }
    }
}
