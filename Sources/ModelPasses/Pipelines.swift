/// Pipelines are data: ordered pass names, each ordering constraint commented.
public enum Pipelines {
    /// Clean-up only: nothing that changes how a value is computed.
    public static let cleanup: [String] = [
        "eliminate-identity",
        "eliminate-dead-code",
    ]

    /// What `modelconv convert` and `optimize` run unless told otherwise.
    public static let `default`: [String] = [
        "infer-shapes",            // first: static shapes (with --input-shape) make Shape chains foldable
        "fold-constants",          // after infer-shapes: turns Constant nodes and static shape arithmetic into initializers
        "eliminate-identity",
        "eliminate-noop",          // after fold-constants: needs constant operands (Mul by 1, Pad of 0)
        "merge-duplicate-initializers", // before CSE: equal constants make equal nodes
        "eliminate-common-subexpressions",
        "merge-transposes",
        "transpose-to-reshape",    // after merge-transposes (a composed perm may move only 1-dims), before
                                   // merge-reshapes (which then joins the Reshape to its neighbours); needs
                                   // infer-shapes' static shapes
        "merge-reshapes",          // after fold-constants: needs constant shapes and axes
        "merge-slices",            // after fold-constants: needs constant starts, ends, axes and steps
        "eliminate-noop",          // again: merged transposes and reshapes may have become the identity
        "fuse-pad-conv",           // after eliminate-noop: all-zero Pads are gone; needs constant pads
        "fuse-hardswish",          // activation patterns: after fold-constants (needs constant operands) and
        "fuse-gelu",               // infer-shapes (a scalar must not broadcast x to a larger rank; LayerNorm
        "fuse-layernorm",          // needs x's static last dim); each is a no-op below its op's opset
        "fuse-conv-batchnorm",     // after fold-constants: needs static BN parameters
        "fuse-convtranspose-add",  // before fuse-convtranspose-batchnorm: a bias Add between them blocks it
        "fuse-convtranspose-batchnorm", // after fold-constants: needs static BN parameters
        "fuse-gemm-batchnorm",     // before fuse-matmul-add: takes MatMul+BN into one Gemm first
        "fuse-conv-mul",           // after fuse-conv-batchnorm: a BN already folded leaves a plain Conv
        "fuse-conv-add",
        "fuse-matmul-add",         // after infer-shapes: needs A's rank
        "eliminate-dead-code",     // last: removes what the rewrites above left unused
    ]

    /// Everything, including rewrites that change the op set an accelerator sees.
    public static let aggressive: [String] = {
        var passes = Pipelines.default
        // Last before the final eliminate-dead-code: the annotation describes the final Conv/Gemm ->
        // activation pairs (after the Conv fusions and fuse-hardswish); a later rewrite could make it stale.
        passes.insert("fuse-activation", at: passes.lastIndex(of: "eliminate-dead-code") ?? passes.count)
        return passes
    }()

    /// `default`, then channels-last for targets that want NHWC (opt-in: adds transposes).
    public static let nhwc: [String] = Pipelines.default + [
        "convert-layout-nhwc",     // after the fusions: BN/Mul/Add already folded into Conv leave fewer ops to wrap
        "merge-transposes",        // after convert-layout-nhwc: composes its transposes with the source model's
        "eliminate-noop",          // then: composed transposes that became the identity
        "eliminate-dead-code",
    ]

    public static let all: [(name: String, passes: [String])] = [
        ("none", []), ("cleanup", cleanup), ("default", `default`), ("aggressive", aggressive), ("nhwc", nhwc),
    ]

    public static func named(_ name: String) throws(PassError) -> [String] {
        guard let p = all.first(where: { $0.name == name }) else {
            throw .unknownPipeline(name, known: all.map(\.name))
        }
        return p.passes
    }
}
