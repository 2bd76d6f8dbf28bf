import ModelIR

/// `eliminate-common-subexpressions`: two nodes with the same op, inputs and attributes
/// compute the same values; the later one's outputs are replaced by the earlier one's.
///
/// ```
/// before:  %a = Shape(%x) <- shape1
///          %b = Shape(%x) <- shape2
///          %y = Concat(%a, %b) {axis=0} <- cat
/// after:   %a = Shape(%x) <- shape1,shape2
///          %y = Concat(%a, %a) {axis=0} <- cat
/// ```
/// Random ops, ops with subgraphs and nodes whose outputs are graph outputs are not merged.
public struct EliminateCommonSubexpressions: GraphPass {
    public let name = "eliminate-common-subexpressions"
    public let summary = "op(x) computed twice -> computed once"

    static let nondeterministic: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout",
    ]

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var g = model.graph
        var seen: [String: NodeID] = [:]
        var merged = 0
        for id in g.order {
            guard g.nodes[Int(id.index)] != nil else { continue }
            let node = g[node: id]
            guard node.subgraphs.isEmpty, !Self.nondeterministic.contains(node.opType),
                  node.outputs.allSatisfy({ $0.map { !g.isGraphOutput($0) && context.isReplaceable($0, in: g) } ?? true }) else { continue }
            let key = Self.key(node)
            guard let earlier = seen[key] else { seen[key] = id; continue }
            let first = g[node: earlier]
            for (a, b) in zip(node.outputs, first.outputs) {
                if let a, let b { g.replaceAllUses(of: a, with: b) }
            }
            g.mergeProvenance(node.provenance, into: earlier)
            g.eraseNode(id)
            merged += 1
        }
        model.graph = g
        return merged
    }

    /// Op, domain, input value IDs, output arity and the attributes in printed form (tensor
    /// attributes by a hash of their bytes plus dims and dtype).
    static func key(_ n: Node) -> String {
        var k = "\(n.domain)::\(n.opType)(" + n.inputs.map { $0.map { String($0.index) } ?? "_" }.joined(separator: ",") + ")"
        k += "->\(n.outputs.count)"
        for a in n.attributes {
            k += "|\(a.name)="
            switch a.value {
            case .tensor(let t):
                var h = Hasher()
                if case .strings(let s) = t.storage { h.combine(s) } else { t.withUnsafeBytes { h.combine(bytes: $0) } }
                k += "t\(t.dtype)\(t.dims)#\(h.finalize())"
            case .float(let f): k += "f\(f.bitPattern)"
            case .floats(let fs): k += "fs" + fs.map { String($0.bitPattern) }.joined(separator: ",")
            case .int(let i): k += "i\(i)"
            case .ints(let xs): k += "is\(xs)"
            case .string(let s): k += "s\(s)"
            case .strings(let ss): k += "ss\(ss)"
            default: k += "?\(UInt(bitPattern: ObjectIdentifier(Self.self).hashValue))\(n.name)"  // unique: never merged
            }
        }
        return k
    }
}
