import ModelIR
import ModelOps

/// `fuse-gemm-batchnorm`: `BatchNormalization(Gemm(A, B, C)) -> Gemm(A, B', C')` and
/// `BatchNormalization(MatMul(A, B)) -> Gemm(A, B', C')` for a 2-D A and a constant 2-D B.
/// The BN normalizes axis 1 of the [M, N] product, one channel per output column n:
/// `B'[:, n] = B[:, n] * s[n]` (rows of B when `transB` is 1),
/// `C'[m, n] = (beta * C[m, n] - mean[n]) * s[n] + bnBias[n]` with Gemm's beta set to 1,
/// `s = gamma / sqrt(var + epsilon)` (double precision, stored as float32). alpha and transA
/// are kept.
///
/// ```
/// before:  %h = Gemm(%a, %w, %c) {transB=1} <- fc
///          %y = BatchNormalization(%h, %g, %b, %m, %v) <- bn
/// after:   %y = Gemm(%a, %w_bn, %c_bn) {transB=1, beta=1} <- fc,bn
///
/// before:  %h = MatMul(%a, %w) <- fc                  (%a: float32[8,16], %w: [16,4])
///          %y = BatchNormalization(%h, %g, %b, %m, %v) <- bn
/// after:   %y = Gemm(%a, %w_bn, %y_bias) <- fc,bn
/// ```
/// Does not fire when the product has another reader, when B, C or a BN parameter is not a
/// float32 constant, when A is not known to be 2-D (MatMul), or below opset 7 (Gemm's C
/// broadcasts from opset 7 on).
public struct FuseGemmBatchNorm: GraphPass {
    public let name = "fuse-gemm-batchnorm"
    public let summary = "BatchNormalization(Gemm(A, B, C) or MatMul(A, B)) -> Gemm(A, B', C')"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let bn = g[node: id]
            guard bn.isOp("BatchNormalization"), let h = bn.inputs.first ?? nil, let y = bn.outputs.first ?? nil,
                  let (prodID, prod) = g.producer(of: h), prod.isOp("Gemm") || prod.isOp("MatMul"),
                  prod.inputs.count >= 2, let a = prod.inputs[0], let bID = prod.inputs[1] else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-gemm-batchnorm: \(bn.displayName): \(s)"); return false }
            guard (model.opsetVersion("") ?? 1) >= 7 else { return why("Gemm's C does not broadcast below opset 7") }
            guard g.hasSingleUse(h), context.isReplaceable(h, in: g), context.isReplaceable(y, in: g) else {
                return why("the \(prod.opType) output '\(g[value: h].name)' has another reader")
            }
            guard let b = g.constant(bID), b.dtype == .float32, b.dims.count == 2 else {
                return why("B is not a 2-D float32 constant")
            }
            let isGemm = prod.isOp("Gemm")
            func intAttr(_ n: String) -> Int { if case .int(let v)? = prod.attributes[named: n] { return Int(v) }; return 0 }
            func floatAttr(_ n: String) -> Double { if case .float(let v)? = prod.attributes[named: n] { return Double(v) }; return 1 }
            if !isGemm {
                guard g[value: a].type?.tensorShape?.rank == 2 || g.constant(a)?.dims.count == 2 else {
                    return why("A is not known to be 2-D (BN's channel axis must be the product's columns)")
                }
                guard g[value: a].type?.tensorDType ?? g.constant(a)?.dtype == .float32 else { return why("A is not float32") }
            }
            let transB = isGemm && intAttr("transB") != 0
            let k = transB ? b.dims[1] : b.dims[0], n = transB ? b.dims[0] : b.dims[1]
            let params: BatchNormParameters
            switch BatchNormParameters.of(bn, in: g, channels: n) {
            case .success(let p): params = p
            case .failure(let r): return why(r.text)
            }
            // C as [rows, n] (rows 1 or M), already multiplied by Gemm's beta.
            var c: [Double]? = nil
            var rows = 1
            if isGemm, prod.inputs.count > 2, let cID = prod.inputs[2] {
                guard let ct = g.constant(cID), ct.dtype == .float32, ct.dims.count <= 2 else {
                    return why("C is not a float32 constant of rank <= 2")
                }
                let d = [Int](repeating: 1, count: 2 - ct.dims.count) + ct.dims
                guard d[1] == 1 || d[1] == n else { return why("C \(ct.dims) does not broadcast to \(n) columns") }
                rows = d[0]
                let beta = floatAttr("beta")
                let values = ct.elements(Float.self)
                c = [Double](repeating: 0, count: rows * n)
                for r in 0..<rows { for j in 0..<n { c![r * n + j] = beta * Double(values[r * d[1] + (d[1] == 1 ? 0 : j)]) } }
            }
            let newB = b.withElements(Float.self) { src in
                Tensor.make(Float.self, dims: b.dims) { dst in
                    for i in 0..<k {
                        for j in 0..<n {
                            let at = transB ? j * k + i : i * n + j
                            dst[at] = Float(Double(src[at]) * params.scale[j])
                        }
                    }
                }
            }
            var newC = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows {
                for j in 0..<n { newC[r * n + j] = Float(((c?[r * n + j] ?? 0) - params.mean[j]) * params.scale[j] + params.beta[j]) }
            }
            let cTensor = Tensor.of(newC, dims: rows == 1 ? [n] : [rows, n])
            if isGemm {
                g.setConstantInput(1, of: prodID, to: newB, suffix: "_bn")
                g.setConstantInput(2, of: prodID, to: cTensor, suffix: "_bn")
                var attrs = prod.attributes.filter { $0.name != "beta" }
                attrs.append(Attribute("beta", .float(1)))
                g.setAttributes(attrs, of: prodID)
                g.mergeProvenance(bn.provenance, into: prodID)
                return g.bypass(y, with: h)
            }
            // MatMul: a Gemm replaces both nodes.
            let wName = g.uniqueName(g[value: bID].name + "_bn"), cName = g.uniqueName(g[value: y].name + "_bias")
            let w2 = g.addValue(named: wName), c2 = g.addValue(named: cName)
            var bt = newB; bt.name = wName
            var cc = cTensor; cc.name = cName
            g.setInitializer(bt, of: w2)
            g.setInitializer(cc, of: c2)
            let out = g.addValue(named: g.uniqueName(g[value: y].name + "_gemm"), type: g[value: y].type)
            g.insertNode("Gemm", name: prod.name, inputs: [a, w2, c2], outputs: [out],
                         provenance: prod.provenance + bn.provenance.filter { !prod.provenance.contains($0) }, before: prodID)
            guard g.bypass(y, with: out) else { return false }
            if g.nodes[Int(prodID.index)] != nil, g[value: h].uses.isEmpty { g.eraseNode(prodID) }
            return true
        }
    }
}
