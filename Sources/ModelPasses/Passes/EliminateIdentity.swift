import ModelIR

/// `eliminate-identity`: `Identity(x) -> x`, `Dropout(x) -> x` (inference; the mask unused).
///
/// ```
/// before:  %y = Identity(%x) <- skip
///          %z = Relu(%y) <- relu
/// after:   %z = Relu(%x) <- relu
/// ```
/// A graph output keeps its name (the producer of `x` takes it over); an Identity between a
/// graph input and a graph output, or whose values subgraphs read by name, stays.
public struct EliminateIdentity: GraphPass {
    public let name = "eliminate-identity"
    public let summary = "Identity(x) -> x; Dropout(x) -> x at inference"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let node = g[node: id]
            let isIdentity = node.isOp("Identity")
            let isDropout = node.isOp("Dropout")
            guard isIdentity || isDropout, let x = node.inputs.first ?? nil, let y = node.outputs.first ?? nil else { return false }
            if isDropout {
                // A used mask, or training_mode that is not a constant false, keeps the node.
                if node.outputs.count > 1, let mask = node.outputs[1], !g[value: mask].uses.isEmpty || g.isGraphOutput(mask) {
                    context.note("\(node.displayName): Dropout mask is used")
                    return false
                }
                if node.inputs.count > 2, let t = node.inputs[2] {
                    guard let c = g.constant(t), c.dtype == .bool, c.elements(Bool.self) == [false] else {
                        context.note("\(node.displayName): training_mode is not a constant false")
                        return false
                    }
                }
            }
            guard context.isReplaceable(y, in: g), context.isReplaceable(x, in: g) else {
                context.note("\(node.displayName): a subgraph reads its values by name")
                return false
            }
            if !g.bypass(y, with: x) {
                context.note("\(node.displayName): output '\(g[value: y].name)' is a graph output fed by an interface value")
                return false
            }
            return true
        }
    }
}
