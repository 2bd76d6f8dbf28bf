import ModelIR
import ModelOps

/// `fuse-matmul-add`: `Add(MatMul(A, B), C) -> Gemm(A, B, C)` when A is 2-D, B is a 2-D
/// constant and C a constant that broadcasts to the [M, N] result along rows ([N] or [1, N]).
///
/// ```
/// before:  %m = MatMul(%a, %w) <- fc/MatMul       (%a: float32[1,512], %w: [512,10])
///          %y = Add(%m, %b) <- fc/Add             (%b: float32[10])
/// after:   %y = Gemm(%a, %w, %b) <- fc/MatMul,fc/Add
/// ```
/// N-D MatMuls (transformer blocks) keep MatMul + Add: Gemm is 2-D only.
public struct FuseMatMulAdd: GraphPass {
    public let name = "fuse-matmul-add"
    public let summary = "Add(MatMul(A, B), C) -> Gemm(A, B, C) for 2-D A"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let add = g[node: id]
            guard add.isOp("Add"), add.inputs.count == 2, let y = add.outputs.first ?? nil else { return false }
            for side in 0..<2 {
                guard let mOut = add.inputs[side], let cID = add.inputs[1 - side],
                      let (mmID, mm) = g.producer(of: mOut), mm.isOp("MatMul"), mm.inputs.count == 2,
                      let a = mm.inputs[0], let b = mm.inputs[1] else { continue }
                guard g[value: a].type?.tensorShape?.rank == 2 || g.constant(a)?.dims.count == 2 else {
                    context.note("fuse-matmul-add: \(add.displayName): A is not known to be 2-D")
                    return false
                }
                guard let w = g.constant(b), w.dims.count == 2, let c = g.constant(cID),
                      c.dtype == w.dtype, c.dims == [w.dims[1]] || c.dims == [1, w.dims[1]] else {
                    context.note("fuse-matmul-add: \(add.displayName): B or C is not a suitable constant")
                    return false
                }
                guard g.hasSingleUse(mOut), context.isReplaceable(mOut, in: g), context.isReplaceable(y, in: g) else {
                    return false
                }
                let out = g.addValue(named: g.uniqueName(g[value: y].name + "_gemm"), type: g[value: y].type)
                g.insertNode("Gemm", name: mm.name.isEmpty ? add.name : mm.name, inputs: [a, b, cID], outputs: [out],
                             provenance: mm.provenance + add.provenance, before: mmID)
                guard g.bypass(y, with: out) else { return false }
                if g[value: mOut].uses.isEmpty && !g.isGraphOutput(mOut) { g.eraseNode(mmID) }
                return true
            }
            return false
        }
    }
}
