import ModelIR
import ModelOps

/// `fuse-activation`: `Act(Conv(x, W, b))` -> the same graph, with the Conv (or Gemm)
/// annotated `fused_activation=Act` for backends that run the activation in the
/// convolution's epilogue. The graph stays standard ONNX: the activation node stays, and
/// the ONNX exporter does not write annotations.
///
/// ```
/// before:  %c = Conv(%x, %w, %b) {kernel_shape=[3,3]} <- conv1
///          %y = Clip(%c, %zero, %six) <- relu6
/// after:   %c = Conv(%x, %w, %b) {kernel_shape=[3,3]} [fused_activation=Clip, fused_activation_max=6, fused_activation_min=0] <- conv1
///          %y = Clip(%c, %zero, %six) <- relu6
/// ```
/// Annotations (numbers in Swift's shortest round-trip decimal form):
/// - `fused_activation`: `Relu`, `Clip` (min 0, max 6 only: ReLU6), `LeakyRelu`, `Sigmoid`
///   or `HardSwish`;
/// - `fused_activation_min`, `fused_activation_max` for Clip; `fused_activation_alpha` for
///   LeakyRelu.
///
/// The annotation means: the Conv/Gemm output is read only by that activation node (and is
/// not a graph output), so a backend may compute `Act(Conv(...))` in one kernel and skip the
/// activation node. It holds when the pass runs; run it last (rewrites after it are not
/// required to keep annotations true). Does not fire when the Conv output has another
/// reader, or for a Clip with other bounds.
public struct FuseActivation: GraphPass {
    public let name = "fuse-activation"
    public let summary = "Act(Conv|Gemm(x)) -> Conv|Gemm(x) [fused_activation=Act] + Act (annotation only)"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    /// The annotation key of the activation's op type.
    public static let key = "fused_activation"

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let act = g[node: id]
            guard ["Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish"].contains(where: act.isOp), let c = act.inputs.first ?? nil,
                  let (convID, conv) = g.producer(of: c), conv.isOp("Conv") || conv.isOp("Gemm") else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-activation: \(act.displayName): \(s)"); return false }
            guard g.hasSingleUse(c) else { return why("the \(conv.opType) output '\(g[value: c].name)' has another reader") }
            var annotations = [FuseActivation.key: act.opType]
            switch act.opType {
            case "Clip":
                guard let (low, high) = clipBounds(act, in: g, model: model), low == 0, high == 6 else {
                    return why("a Clip whose bounds are not constants 0 and 6")
                }
                annotations[FuseActivation.key + "_min"] = "0"
                annotations[FuseActivation.key + "_max"] = "6"
            case "LeakyRelu":
                let alpha = { if case .float(let v)? = act.attributes[named: "alpha"] { return v }; return Float(0.01) }()
                annotations[FuseActivation.key + "_alpha"] = alpha.description
            default:
                break
            }
            // Already annotated the same way: nothing changes (the pattern driver's fixed point).
            let current = conv.annotations.filter { $0.key.hasPrefix(FuseActivation.key) }
            if current == annotations { return false }
            for key in current.keys { g.setAnnotation(key, nil, of: convID) }
            for (key, value) in annotations { g.setAnnotation(key, value, of: convID) }
            return true
        }

        /// Clip's bounds: constant inputs from opset 11, attributes before (absent: unbounded).
        func clipBounds(_ clip: Node, in g: Graph, model: Model) -> (Double, Double)? {
            if (ChainMatching.defaultOpset(model) ?? 0) < 11 {
                guard case .float(let low)? = clip.attributes[named: "min"], case .float(let high)? = clip.attributes[named: "max"] else { return nil }
                return (Double(low), Double(high))
            }
            guard clip.inputs.count == 3, let c = clip.inputs[0],
                  let low = ChainMatching.scalar(clip.inputs[1], against: c, in: g),
                  let high = ChainMatching.scalar(clip.inputs[2], against: c, in: g) else { return nil }
            return (low, high)
        }
    }
}
