import ModelIR
import ModelOps

/// `merge-slices`: two Slices over disjoint axes are one Slice over both:
/// `Slice(Slice(x, s1, e1, a1, st1), s2, e2, a2, st2) -> Slice(x, s1+s2, e1+e2, a1+a2, st1+st2)`.
///
/// ```
/// before:  %r = Slice(%x, %c0, %big, %ax1, %c2) <- rows          (x[:, 0::2])
///          %y = Slice(%r, %c0, %big, %ax2, %c2) <- cols          (then [:, :, 0::2])
///          %z = Slice(%r, %c1, %big, %ax2, %c2) <- cols_odd      (then [:, :, 1::2])
/// after:   %y = Slice(%x, %s_merged, %e_merged, %a_merged, %st_merged) <- cols,rows
///          %z = Slice(%x, %s_merged_1, %e_merged_1, %a_merged_1, %st_merged_1) <- cols_odd,rows
/// ```
/// Slicing one axis does not change the extent of another, so applying both slices to x at
/// once gives the same elements (Swin's patch merging, `x[:, 0::2, 0::2]`, exports as two).
/// Fires when both Slices use the input form (opset 10 or later) with constant starts, ends,
/// axes and steps, their axes (normalized by the rank) are disjoint, and every reader of the
/// inner Slice is such a Slice, so the inner one goes away and no node is added.
/// The merged parameters are int64.
public struct MergeSlices: GraphPass {
    public let name = "merge-slices"
    public let summary = "Slice(Slice(x)) over disjoint axes -> one Slice"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    /// A Slice's constant parameters, axes normalized to `0..<rank`.
    struct Parameters {
        var starts: [Int64], ends: [Int64], axes: [Int64], steps: [Int64]

        init?(_ n: Node, rank: Int?, _ g: Graph) {
            guard n.isOp("Slice"), n.inputs.count >= 3, let s = g.constant(n.inputs[1])?.integers(),
                  let e = g.constant(n.inputs[2])?.integers(), s.count == e.count else { return nil }
            var a: [Int] = Array(0..<s.count)
            if n.inputs.count > 3, let axesInput = n.inputs[3] {
                guard let given = g.constant(axesInput)?.integers(), given.count == s.count else { return nil }
                a = given
            }
            var st: [Int] = Array(repeating: 1, count: s.count)
            if n.inputs.count > 4, let stepsInput = n.inputs[4] {
                guard let given = g.constant(stepsInput)?.integers(), given.count == s.count else { return nil }
                st = given
            }
            if a.contains(where: { $0 < 0 }) {
                guard let rank else { return nil }
                a = a.map { $0 < 0 ? $0 + rank : $0 }
            }
            guard Set(a).count == a.count, a.allSatisfy({ axis in axis >= 0 && axis < (rank ?? Int.max) }) else { return nil }
            starts = s.map { Int64($0) }; ends = e.map { Int64($0) }
            axes = a.map { Int64($0) }; steps = st.map { Int64($0) }
        }
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let outer = g[node: id]
            guard outer.isOp("Slice"), let t = outer.inputs.first ?? nil, let y = outer.outputs.first ?? nil,
                  let (innerID, inner) = g.producer(of: t), inner.isOp("Slice"), let x = inner.inputs.first ?? nil
            else { return false }
            func why(_ s: String) -> Bool {
                context.note("merge-slices: \(outer.displayName): \(s)")
                return false
            }
            guard (model.opsetVersion("") ?? 1) >= 10 else { return why("opset below 10 (Slice takes attributes)") }
            let rank = g[value: x].type?.tensorShape?.rank ?? g[value: t].type?.tensorShape?.rank ?? g.constant(x)?.dims.count
            guard let p = Parameters(inner, rank: rank, g) else {
                return why("the inner Slice's parameters are not constant (or its negative axes need a known rank)")
            }
            guard let q = Parameters(outer, rank: rank, g) else {
                return why("the parameters are not constant (or negative axes need a known rank)")
            }
            guard Set(p.axes).isDisjoint(with: q.axes) else { return why("both Slices cut axis \(Set(p.axes).intersection(q.axes).sorted())") }
            // Every reader of the inner Slice must merge too, so the inner one is erased.
            guard !g.isGraphOutput(t), g[value: t].uses.allSatisfy({ use in
                use.input == 0 && Parameters(g[node: use.node], rank: rank, g).map { Set(p.axes).isDisjoint(with: $0.axes) } ?? false
            }) else {
                return why("the inner Slice has a reader that does not merge (it would stay, and the work be done twice)")
            }
            guard context.isReplaceable(t, in: g), context.isReplaceable(y, in: g) else {
                return why("a value is read by a subgraph")
            }
            g.setInput(0, of: id, to: x)
            g.setConstantInput(1, of: id, to: Tensor.of(p.starts + q.starts), suffix: "_merged")
            g.setConstantInput(2, of: id, to: Tensor.of(p.ends + q.ends), suffix: "_merged")
            g.setConstantInput(3, of: id, to: Tensor.of(p.axes + q.axes), suffix: "_merged")
            g.setConstantInput(4, of: id, to: Tensor.of(p.steps + q.steps), suffix: "_merged")
            g.mergeProvenance(inner.provenance, into: id)
            if g[value: t].uses.isEmpty { g.eraseNode(innerID) }
            return true
        }
    }
}
