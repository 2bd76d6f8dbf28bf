import ModelIR

/// `eliminate-dead-code`: removes nodes none of whose outputs is used (graph outputs and
/// values subgraphs read count as uses), then initializers nothing reads.
///
/// ```
/// before:  %a = Relu(%x) <- used
///          %b = Sigmoid(%x) <- unused
/// after:   %a = Relu(%x) <- used
/// ```
public struct EliminateDeadCode: GraphPass {
    public let name = "eliminate-dead-code"
    public let summary = "unused nodes and initializers -> removed"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var g = model.graph
        var removed = 0
        var changed = true
        while changed {
            changed = false
            for id in g.order.reversed() {
                let node = g[node: id]
                let live = node.outputs.contains { out in
                    guard let out else { return false }
                    let v = g[value: out]
                    return !v.uses.isEmpty || g.isGraphOutput(out) || context.subgraphReads.contains(v.name)
                }
                if !live {
                    g.eraseNode(id)
                    removed += 1
                    changed = true
                }
            }
        }
        removed += g.removeUnusedInitializers(keeping: context.subgraphReads)
        model.graph = g
        return removed
    }
}
