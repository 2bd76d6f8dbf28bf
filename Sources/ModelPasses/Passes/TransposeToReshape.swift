import ModelIR
import ModelOps

/// `transpose-to-reshape`: a Transpose that moves only dims of size 1 keeps the element order,
/// so it is a Reshape to its output shape: `Transpose(x, p) -> Reshape(x, shape)`.
///
/// ```
/// before:  %t = Transpose(%x) {perm=[0,1,3,2,4,5]} <- partition   (%x: float32[1,1,7,1,7,768])
///          %y = Reshape(%t, %s) <- flatten                        (%s = [1,49,768])
/// after:   %t_reshaped = Reshape(%x, %t_shape) <- partition       (%t_shape = [1,1,1,7,7,768])
///          %y = Reshape(%t_reshaped, %s) <- flatten
/// ```
/// (`merge-reshapes` then makes the two Reshapes one.) Swin's window partition of a feature map
/// no larger than one window is such a Transpose. Fires when x's shape is static, the
/// permutation is not the identity (`eliminate-noop` removes those), no dim is 0, and the
/// dims other than 1 keep their relative order.
public struct TransposeToReshape: GraphPass {
    public let name = "transpose-to-reshape"
    public let summary = "Transpose that moves only 1-dims -> Reshape"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let node = g[node: id]
            guard node.isOp("Transpose"), let x = node.inputs.first ?? nil, let y = node.outputs.first ?? nil,
                  node.outputs.count == 1 else { return false }
            func why(_ s: String) -> Bool {
                context.note("transpose-to-reshape: \(node.displayName): \(s)")
                return false
            }
            guard let dims = g[value: x].type?.tensorShape?.staticDims ?? g.constant(x)?.dims else {
                return why("the input's shape is not static")
            }
            let perm: [Int]
            if case .ints(let p)? = node.attributes[named: "perm"] {
                perm = p.map { Int($0) }
            } else {
                perm = Array(dims.indices.reversed())  // ONNX's default: reverse the dims
            }
            guard perm.count == dims.count, Set(perm) == Set(dims.indices) else {
                return why("perm \(perm) is not a permutation of \(dims.count) dims")
            }
            guard perm != Array(dims.indices) else { return false }  // the identity: eliminate-noop's
            guard !dims.contains(0) else { return why("the tensor is empty (a 0 dim)") }
            let moved = perm.filter { dims[$0] != 1 }
            guard moved == moved.sorted() else { return why("perm \(perm) reorders dims larger than 1") }
            guard context.isReplaceable(y, in: g) else { return why("its output is read by a subgraph") }

            let outDims = perm.map { dims[$0] }
            let s = g.addValue(named: g.uniqueName(g[value: y].name + "_shape"))
            var shape = Tensor.of(outDims.map { Int64($0) })
            shape.name = g[value: s].name
            g.setInitializer(shape, of: s)
            let dtype = g[value: y].type?.tensorDType ?? g[value: x].type?.tensorDType ?? g.constant(x)?.dtype
            let out = g.addValue(named: g.uniqueName(g[value: y].name + "_reshaped"),
                                 type: dtype.map { .tensor($0, Shape(outDims)) })
            g.insertNode("Reshape", name: node.name, inputs: [x, s], outputs: [out], provenance: node.provenance, before: id)
            guard g.bypass(y, with: out) else {
                // y is a graph output that `out` cannot take over: undo.
                let added = g[value: out].producer!
                g.eraseNode(added)
                g.removeInitializer(of: s)
                return why("its output is a graph output that cannot be renamed")
            }
            return true
        }
    }
}
