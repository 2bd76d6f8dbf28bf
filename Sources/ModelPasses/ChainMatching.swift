import ModelIR
import ModelOps

/// Helpers for patterns that match a chain of elementwise nodes and replace it with one op
/// (`fuse-hardswish`, `fuse-gelu`, `fuse-layernorm`).
enum ChainMatching {
    /// Relative tolerance for the float constants of a decomposed activation: an exporter
    /// writes `sqrt(2)` or `1/6` rounded to float32 (and Paddle's 1/6 is 2 ulps off), so
    /// constants are compared within 1e-6 relative (about 8 float32 ulps). Integers (0, 1, 3,
    /// 6, exponents) compare exactly: `rtol * 0 == 0`, and the others are exact in float32.
    static let rtol = 1e-6

    /// Whether `a` is `b` within `rtol` relative (exact when `b` is 0).
    static func isClose(_ a: Double, _ b: Double, rtol: Double = ChainMatching.rtol) -> Bool {
        abs(a - b) <= rtol * abs(b)
    }

    /// The version of the default ONNX domain the model imports (nil: none).
    static func defaultOpset(_ model: Model) -> Int64? {
        model.opsetImports.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version
    }

    /// The float element types the fused ops accept at every opset they exist in
    /// (HardSwish-14, Gelu-20, LayerNormalization-17 all take float16, float and double).
    static let floatTypes: Set<DType> = [.float16, .float32, .float64]

    /// The producer of `v` when it is the default-domain op `op` with one output.
    static func producer(_ v: ValueID?, _ op: String, in g: Graph) -> (id: NodeID, node: Node)? {
        guard let p = g.producer(of: v), p.node.isOp(op), p.node.outputs.count == 1 else { return nil }
        return p
    }

    /// The rank of `v` when known (its declared or inferred type, or its constant's dims).
    static func rank(_ v: ValueID, in g: Graph) -> Int? {
        g[value: v].type?.tensorShape?.rank ?? g.constant(v)?.dims.count
    }

    /// The element type of `v` when known.
    static func dtype(_ v: ValueID, in g: Graph) -> DType? {
        g[value: v].type?.tensorDType ?? g.constant(v)?.dtype
    }

    /// The value of a one-element float constant of a type in `floatTypes`, when applying it
    /// elementwise to a tensor shaped like `operand` cannot change that shape: it is 0-d, or
    /// its rank is at most `operand`'s known rank. nil otherwise.
    static func scalar(_ id: ValueID?, against operand: ValueID, in g: Graph) -> Double? {
        guard let t = g.constant(id), floatTypes.contains(t.dtype), t.elementCount == 1 else { return nil }
        if !t.dims.isEmpty {
            guard let r = rank(operand, in: g), t.dims.count <= r else { return nil }
        }
        switch t.dtype {
        case .float32: return Double(t.elements(Float.self)[0])
        case .float64: return t.elements(Double.self)[0]
        case .float16: return Double(t.elements(Float16.self)[0])
        default: return nil
        }
    }

    /// Whether input `side` of a binary node is the constant `value` (within `rtol`) that
    /// does not broadcast `operand`'s shape.
    static func isScalar(_ node: Node, _ side: Int, _ value: Double, against operand: ValueID, in g: Graph) -> Bool {
        guard side < node.inputs.count, let c = scalar(node.inputs[side], against: operand, in: g) else { return false }
        return isClose(c, value)
    }

    /// Why the matched nodes cannot be replaced, or nil when they can: every output of an
    /// `interior` node must be read only by matched nodes (interior or `root`), must not be a
    /// graph output, and no subgraph may read it by name; neither may one read `root`'s output.
    static func whyNotSelfContained(interior: [NodeID], root: NodeID, in g: Graph, _ context: PassContext) -> String? {
        let matched = Set(interior + [root])
        for id in interior {
            for case let out? in g[node: id].outputs {
                let v = g[value: out]
                if g.isGraphOutput(out) { return "'\(v.name)' is a graph output" }
                if !context.isReplaceable(out, in: g) { return "a subgraph reads '\(v.name)'" }
                if v.uses.contains(where: { !matched.contains($0.node) }) { return "'\(v.name)' has a reader outside the pattern" }
            }
        }
        for case let out? in g[node: root].outputs where !context.isReplaceable(out, in: g) {
            return "a subgraph reads '\(g[value: out].name)'"
        }
        return nil
    }

    /// Replaces the matched nodes by one `opType` node computing `root`'s output from
    /// `inputs`, inserted just before `root`; its provenance is the union of the matched
    /// nodes' (in graph order). The interior nodes are erased. Call only after
    /// `whyNotSelfContained` returned nil.
    @discardableResult
    static func replace(root: NodeID, interior: [NodeID], with opType: String, inputs: [ValueID?],
                        attributes: [Attribute] = [], in g: inout Graph) -> NodeID? {
        let rootNode = g[node: root]
        guard let y = rootNode.outputs.first ?? nil else { return nil }
        let position = Dictionary(uniqueKeysWithValues: g.order.enumerated().map { ($1, $0) })
        let matched = Array(Set(interior + [root])).sorted { position[$0] ?? 0 < position[$1] ?? 0 }
        var provenance: [String] = []
        for id in matched { for name in g[node: id].provenance where !provenance.contains(name) { provenance.append(name) } }
        let out = g.addValue(named: g.uniqueName(g[value: y].name + "_" + opType.lowercased()), type: g[value: y].type)
        let fused = g.insertNode(opType, name: rootNode.name, inputs: inputs, outputs: [out], attributes: attributes,
                                 provenance: provenance, before: root)
        guard g.bypass(y, with: out) else { g.eraseNode(fused); return nil }
        // Erase consumers before producers: repeat until no matched node is left unread.
        var pending = matched.filter { g.nodes[Int($0.index)] != nil }
        while !pending.isEmpty {
            let dead = pending.filter { id in
                g[node: id].outputs.allSatisfy { $0 == nil || g[value: $0!].uses.isEmpty && !g.isGraphOutput($0!) }
            }
            if dead.isEmpty { break }
            for id in dead { g.eraseNode(id) }
            pending.removeAll { g.nodes[Int($0.index)] == nil }
        }
        return fused
    }
}
