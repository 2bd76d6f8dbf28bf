import ModelIR

/// `merge-transposes`: `Transpose(Transpose(x, p), q) -> Transpose(x, p∘q)`, where the
/// composed permutation is `r[i] = p[q[i]]`; an identity result leaves `x` itself.
///
/// ```
/// before:  %t = Transpose(%x) {perm=[0,2,3,1]} <- to_nhwc
///          %y = Transpose(%t) {perm=[0,3,1,2]} <- to_nchw
/// after:   (%y replaced by %x)
/// ```
public struct MergeTransposes: GraphPass {
    public let name = "merge-transposes"
    public let summary = "Transpose(Transpose(x, p), q) -> Transpose(x, p∘q)"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let outer = g[node: id]
            guard outer.isOp("Transpose"), let t = outer.inputs.first ?? nil, let y = outer.outputs.first ?? nil,
                  let (_, inner) = g.producer(of: t), inner.isOp("Transpose"), let x = inner.inputs.first ?? nil,
                  case .ints(let p)? = inner.attributes[named: "perm"], case .ints(let q)? = outer.attributes[named: "perm"],
                  p.count == q.count, q.allSatisfy({ $0 >= 0 && Int($0) < p.count }) else { return false }
            guard context.isReplaceable(y, in: g) else { return false }
            let r = q.map { p[Int($0)] }
            if r.enumerated().allSatisfy({ Int64($0.offset) == $0.element }) {
                guard context.isReplaceable(x, in: g) else { return false }
                return g.bypass(y, with: x)
            }
            g.setInput(0, of: id, to: x)
            var attrs = outer.attributes
            if let k = attrs.firstIndex(where: { $0.name == "perm" }) { attrs[k].value = .ints(r) }
            g.setAttributes(attrs, of: id)
            g.mergeProvenance(inner.provenance, into: id)
            // The inner Transpose is erased by eliminate-dead-code if nothing else reads it.
            return true
        }
    }
}
