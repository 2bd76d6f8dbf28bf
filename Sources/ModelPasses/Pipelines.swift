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
        "eliminate-noop",          // again: merged transposes may have become the identity
        "fuse-conv-batchnorm",     // after fold-constants: needs static BN parameters
        "fuse-conv-mul",           // after fuse-conv-batchnorm: a BN already folded leaves a plain Conv
        "fuse-conv-add",
        "fuse-matmul-add",         // after infer-shapes: needs A's rank
        "eliminate-dead-code",     // last: removes what the rewrites above left unused
    ]

    /// Everything, including rewrites that change the op set an accelerator sees.
    public static let aggressive: [String] = Pipelines.default

    public static let all: [(name: String, passes: [String])] = [
        ("none", []), ("cleanup", cleanup), ("default", `default`), ("aggressive", aggressive),
    ]

    public static func named(_ name: String) throws(PassError) -> [String] {
        guard let p = all.first(where: { $0.name == name }) else {
            throw .unknownPipeline(name, known: all.map(\.name))
        }
        return p.passes
    }
}
