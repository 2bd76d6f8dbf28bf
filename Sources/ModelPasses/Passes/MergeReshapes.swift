import ModelIR
import ModelOps

/// `merge-reshapes`: a chain of shape-only ops (Reshape, Flatten, Squeeze, Unsqueeze) becomes
/// one Reshape, and `Squeeze(Unsqueeze(x, a), a)` / `Unsqueeze(Squeeze(x, a), a)` become x.
///
/// ```
/// before:  %a = Reshape(%x, %s1) <- r1
///          %y = Reshape(%a, %s2) <- r2          (%s2 = [2,-1], no 0 entries)
/// after:   %y = Reshape(%x, %s2) <- r2,r1
///
/// before:  %u = Unsqueeze(%x, %axes) <- u       (%x: float32[2,6])
///          %y = Flatten(%u) {axis=1} <- f
/// after:   %y = Reshape(%x, %y_shape) <- f,u    (%y_shape = [2,6])
/// ```
/// All of these ops keep the element order, so only the final shape matters:
/// - `Reshape(Reshape(x, s1), s2)`: s2 constant, and either without 0 entries or with
///   `allowzero` 1 (a 0 that copies a dim of the intermediate is replaced by that dim when
///   the intermediate's shape is static, else the pair stays);
/// - any other pair of the four: the outer op's output shape must be computable from a
///   static shape of x (constant axes, constant shapes);
/// - `Squeeze(Unsqueeze(x, a), a)` is x for the same constant axes (normalized on the same
///   rank); `Unsqueeze(Squeeze(x, a), a)` likewise (the Squeeze succeeds only on 1-dims).
/// The inner op stays when it has other readers (it is erased when the merge left it unused).
public struct MergeReshapes: GraphPass {
    public let name = "merge-reshapes"
    public let summary = "Reshape/Flatten/Squeeze/Unsqueeze chains -> one Reshape"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    static let shapeOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze"]

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let outer = g[node: id]
            guard outer.domain.isEmpty || outer.domain == "ai.onnx", MergeReshapes.shapeOps.contains(outer.opType),
                  let t = outer.inputs.first ?? nil, let y = outer.outputs.first ?? nil,
                  let (innerID, inner) = g.producer(of: t), inner.domain.isEmpty || inner.domain == "ai.onnx",
                  MergeReshapes.shapeOps.contains(inner.opType), let x = inner.inputs.first ?? nil else { return false }
            func why(_ s: String) -> Bool {
                context.note("merge-reshapes: \(outer.displayName): \(s)")
                return false
            }
            guard context.isReplaceable(y, in: g), context.isReplaceable(t, in: g) else {
                return why("a value is read by a subgraph")
            }
            let opset = Int(model.opsetVersion("") ?? 1)

            // Squeeze(Unsqueeze(x, a), a) and Unsqueeze(Squeeze(x, a), a) -> x.
            if (outer.isOp("Squeeze") && inner.isOp("Unsqueeze")) || (outer.isOp("Unsqueeze") && inner.isOp("Squeeze")) {
                let a = axes(outer, g, opset: opset), b = axes(inner, g, opset: opset)
                // Both axis lists index the rank of the unsqueezed tensor.
                let rank = outer.isOp("Squeeze") ? rankOf(x, g).map { $0 + (b?.count ?? 0) } : rankOf(x, g)
                if let a, let b, !a.isEmpty,
                   normalized(a, rank: rank) == normalized(b, rank: rank), normalized(a, rank: rank) != nil,
                   context.isReplaceable(x, in: g) {
                    guard g.bypass(y, with: x) else {
                        return why("x cannot take over the graph output '\(g[value: y].name)'")
                    }
                    eraseIfUnused(innerID, t, &g)
                    return true
                }
            }

            // The new target shape of a Reshape straight from x.
            var target: [Int]
            if outer.isOp("Reshape"), inner.isOp("Reshape"), let s2 = constantShape(outer, g) {
                let allowZero = { if case .int(let a)? = outer.attributes[named: "allowzero"] { return a != 0 }; return false }()
                target = s2
                if !allowZero, target.contains(0) {
                    // A 0 copies the intermediate's dim: substitute it when known.
                    guard let mid = staticDims(t, g) ?? inferredDims(of: inner, g, opset: opset),
                          target.indices.allSatisfy({ target[$0] != 0 || $0 < mid.count }) else {
                        return why("the outer Reshape copies dims (0) of an intermediate whose shape is unknown")
                    }
                    for i in target.indices where target[i] == 0 { target[i] = mid[i] }
                }
            } else {
                guard let xDims = staticDims(x, g) else {
                    return why("\(inner.opType) then \(outer.opType) need a static input shape to merge")
                }
                guard let mid = outputDims(of: inner, input: xDims, g, opset: opset),
                      let out = outputDims(of: outer, input: mid, g, opset: opset) else {
                    return why("the output shape of \(inner.opType) then \(outer.opType) is not computable")
                }
                guard !out.contains(0) else { return why("the tensor is empty (a 0 dim)") }
                target = out
                if out == xDims, context.isReplaceable(x, in: g), g.bypass(y, with: x) {
                    // The chain is a no-op.
                    eraseIfUnused(innerID, t, &g)
                    return true
                }
            }
            let shape = Tensor.of(target.map { Int64($0) })
            if outer.isOp("Reshape") {
                g.setInput(0, of: id, to: x)
                let old = g.constant(outer.inputs[1])
                if old == nil || !old!.isBitwiseEqual(to: shape) {
                    g.setConstantInput(1, of: id, to: shape, suffix: "_merged")
                }
                g.mergeProvenance(inner.provenance, into: id)
            } else {
                let s = g.addValue(named: g.uniqueName(g[value: y].name + "_shape"))
                var st = shape
                st.name = g[value: s].name
                g.setInitializer(st, of: s)
                let out = g.addValue(named: g.uniqueName(g[value: y].name + "_reshaped"), type: g[value: y].type)
                g.insertNode("Reshape", name: outer.name, inputs: [x, s], outputs: [out],
                             provenance: outer.provenance + inner.provenance.filter { !outer.provenance.contains($0) },
                             before: id)
                guard g.bypass(y, with: out) else { return false }
                if g.nodes[Int(id.index)] != nil, g[node: id].outputs.allSatisfy({ $0.map { g[value: $0].uses.isEmpty && !g.isGraphOutput($0) } ?? true }) {
                    g.eraseNode(id)
                }
            }
            eraseIfUnused(innerID, t, &g)
            return true
        }

        func eraseIfUnused(_ node: NodeID, _ out: ValueID, _ g: inout Graph) {
            guard g.nodes[Int(node.index)] != nil, g[value: out].uses.isEmpty, !g.isGraphOutput(out) else { return }
            g.eraseNode(node)
        }

        func rankOf(_ v: ValueID, _ g: Graph) -> Int? {
            g[value: v].type?.tensorShape?.rank ?? g.constant(v)?.dims.count
        }

        func staticDims(_ v: ValueID, _ g: Graph) -> [Int]? {
            g[value: v].type?.tensorShape?.staticDims ?? g.constant(v)?.dims
        }

        /// The Reshape's constant target shape.
        func constantShape(_ n: Node, _ g: Graph) -> [Int]? {
            guard n.inputs.count > 1 else { return nil }
            return g.constant(n.inputs[1])?.integers()
        }

        /// The output dims of `inner` computed from its own input's static shape.
        func inferredDims(of inner: Node, _ g: Graph, opset: Int) -> [Int]? {
            guard let x = inner.inputs.first ?? nil, let d = staticDims(x, g) else { return nil }
            return outputDims(of: inner, input: d, g, opset: opset)
        }

        /// Squeeze/Unsqueeze axes: the attribute (opset < 13) or the constant input; [] when absent.
        func axes(_ n: Node, _ g: Graph, opset: Int) -> [Int]? {
            if opset < 13 {
                if case .ints(let a)? = n.attributes[named: "axes"] { return a.map { Int($0) } }
                return []
            }
            guard n.inputs.count > 1, let a = n.inputs[1] else { return [] }
            return g.constant(a)?.integers()
        }

        func normalized(_ axes: [Int], rank: Int?) -> [Int]? {
            if axes.allSatisfy({ $0 >= 0 }) { return axes.sorted() }
            guard let rank else { return nil }
            return axes.map { $0 < 0 ? $0 + rank : $0 }.sorted()
        }

        /// The output shape of a shape-only op given its input dims; nil when not computable
        /// (or when the op would fail on these dims).
        func outputDims(of n: Node, input d: [Int], _ g: Graph, opset: Int) -> [Int]? {
            switch n.opType {
            case "Reshape":
                guard let s = constantShape(n, g), let total = Shape.elementCount(of: d) else { return nil }
                let allowZero = { if case .int(let a)? = n.attributes[named: "allowzero"] { return a != 0 }; return false }()
                var out = s
                for i in out.indices where out[i] == 0 && !allowZero {
                    guard i < d.count else { return nil }
                    out[i] = d[i]
                }
                let unknown = out.indices.filter { out[$0] == -1 }
                guard unknown.count <= 1, out.allSatisfy({ $0 >= -1 }) else { return nil }
                if let u = unknown.first {
                    let known = out.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
                    guard known > 0, total % known == 0 else { return nil }
                    out[u] = total / known
                }
                guard Shape.elementCount(of: out) == total else { return nil }
                return out
            case "Flatten":
                var axis = 1
                if case .int(let a)? = n.attributes[named: "axis"] { axis = Int(a) }
                if axis < 0 { axis += d.count }
                guard axis >= 0, axis <= d.count else { return nil }
                return [d[..<axis].reduce(1, *), d[axis...].reduce(1, *)]
            case "Squeeze":
                guard let a = axes(n, g, opset: opset) else { return nil }
                if a.isEmpty { return d.filter { $0 != 1 } }
                guard let axes = normalized(a, rank: d.count), Set(axes).count == axes.count,
                      axes.allSatisfy({ $0 >= 0 && $0 < d.count && d[$0] == 1 }) else { return nil }
                return d.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
            case "Unsqueeze":
                guard let a = axes(n, g, opset: opset), !a.isEmpty else { return nil }
                let rank = d.count + a.count
                guard let axes = normalized(a, rank: rank), Set(axes).count == axes.count,
                      axes.allSatisfy({ $0 >= 0 && $0 < rank }) else { return nil }
                var out: [Int] = []
                var k = 0
                for i in 0..<rank {
                    if axes.contains(i) { out.append(1) } else { out.append(d[k]); k += 1 }
                }
                return out
            default:
                return nil
            }
        }
    }
}
