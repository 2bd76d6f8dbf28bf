import ModelIR
import ModelOps

/// `fuse-gelu`: `0.5 * x * (1 + erf(x / sqrt(2))) -> Gelu(x)` and
/// `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) -> Gelu(x) {approximate="tanh"}`.
///
/// The three factors may be multiplied in any grouping and order (torch: `Mul(Mul(x, h), 0.5)`,
/// `Mul(0.5, Mul(x, h))`; Hugging Face: `Mul(Mul(x, 0.5), h)`); `x / sqrt(2)` may be
/// `Mul(x, 1/sqrt(2))`; `x^3` may be `Pow(x, 3)`, `Mul(x, Mul(x, x))` or `Mul(Mul(x, x), x)`.
///
/// ```
/// before:  %d = Div(%x, %sqrt2) <- div             (%sqrt2 = 1.4142135, %one = 1, %half = 0.5)
///          %e = Erf(%d) <- erf
///          %a = Add(%e, %one) <- add
///          %m = Mul(%x, %a) <- mul
///          %y = Mul(%m, %half) <- mul_1
/// after:   %y = Gelu(%x) {approximate="none"} <- div,erf,add,mul,mul_1
/// ```
/// Fires only when the model imports the default domain at opset 20 or later (Gelu's first
/// version); below that the pattern stays as it is. The constants must be float16/32/64
/// scalars that do not broadcast x to a larger rank, equal to 1/2, 1, sqrt(2) (or 1/sqrt(2)),
/// sqrt(2/pi) and 0.044715 within 1e-6 relative (`ChainMatching.rtol`), the exponent exactly
/// 3; no intermediate value may have a reader outside the pattern.
public struct FuseGelu: GraphPass {
    public let name = "fuse-gelu"
    public let summary = "0.5 * x * (1 + erf(x / sqrt(2))) (or the tanh form) -> Gelu(x)"
    /// Gelu's since_version.
    static let minOpset: Int64 = 20

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let root = g[node: id]
            guard root.isOp("Mul"), root.inputs.count == 2, root.outputs.count == 1, root.outputs[0] != nil,
                  let (x, approximate, interior) = match(root, in: g) else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-gelu: \(root.displayName): \(s)"); return false }
            let opset = ChainMatching.defaultOpset(model) ?? 0
            guard opset >= FuseGelu.minOpset else {
                return why("the model's opset \(opset) is below Gelu's \(FuseGelu.minOpset)")
            }
            if let reason = ChainMatching.whyNotSelfContained(interior: interior, root: id, in: g, context) { return why(reason) }
            let attributes = [Attribute("approximate", .string(Array(approximate.utf8)))]
            return ChainMatching.replace(root: id, interior: interior, with: "Gelu", inputs: [x],
                                         attributes: attributes, in: &g) != nil
        }

        /// x, "none" or "tanh", and the matched nodes other than the root.
        func match(_ root: Node, in g: Graph) -> (ValueID, String, [NodeID])? {
            guard let a = root.inputs[0], let b = root.inputs[1] else { return nil }
            // The three factors x, 1/2 and h = 1 + erf(...) (or 1 + tanh(...)): one operand
            // of the root is a Mul of two of them.
            for (inner, other) in [(a, b), (b, a)] {
                guard let (mID, m) = ChainMatching.producer(inner, "Mul", in: g), m.inputs.count == 2,
                      let m0 = m.inputs[0], let m1 = m.inputs[1] else { continue }
                let factors = [m0, m1, other]
                for k in 0..<3 {
                    guard let (x, approximate, nodes) = onePlusErfOrTanh(factors[k], in: g) else { continue }
                    let rest = factors.enumerated().filter { $0.offset != k }.map(\.element)
                    for (p, q) in [(rest[0], rest[1]), (rest[1], rest[0])] where p == x {
                        guard let half = ChainMatching.scalar(q, against: x, in: g), ChainMatching.isClose(half, 0.5) else { continue }
                        return (x, approximate, [mID] + nodes)
                    }
                }
            }
            return nil
        }

        /// `h = Add(t, 1)` (either order) with `t = Erf(x / sqrt(2))` or
        /// `t = Tanh(sqrt(2/pi) * (x + 0.044715 x^3))`: x, the approximation, the matched nodes.
        func onePlusErfOrTanh(_ h: ValueID, in g: Graph) -> (ValueID, String, [NodeID])? {
            guard let (addID, add) = ChainMatching.producer(h, "Add", in: g), add.inputs.count == 2 else { return nil }
            for side in 0..<2 {
                guard let t = add.inputs[side] else { continue }
                if let (eID, e) = ChainMatching.producer(t, "Erf", in: g), let (x, nodes) = overSqrt2(e.inputs.first ?? nil, in: g),
                   ChainMatching.isScalar(add, 1 - side, 1, against: x, in: g) {
                    return (x, "none", [addID, eID] + nodes)
                }
                if let (tID, tanh) = ChainMatching.producer(t, "Tanh", in: g), let (x, nodes) = tanhArgument(tanh.inputs.first ?? nil, in: g),
                   ChainMatching.isScalar(add, 1 - side, 1, against: x, in: g) {
                    return (x, "tanh", [addID, tID] + nodes)
                }
            }
            return nil
        }

        /// `Div(x, sqrt(2))` or `Mul(x, 1/sqrt(2))` (either order).
        func overSqrt2(_ v: ValueID?, in g: Graph) -> (ValueID, [NodeID])? {
            if let (dID, d) = ChainMatching.producer(v, "Div", in: g), d.inputs.count == 2, let x = d.inputs[0],
               ChainMatching.isScalar(d, 1, 2.0.squareRoot(), against: x, in: g) {
                return (x, [dID])
            }
            if let (mID, m) = ChainMatching.producer(v, "Mul", in: g), m.inputs.count == 2 {
                for side in 0..<2 {
                    if let x = m.inputs[side], ChainMatching.isScalar(m, 1 - side, 0.5.squareRoot(), against: x, in: g) { return (x, [mID]) }
                }
            }
            return nil
        }

        /// `Mul(sqrt(2/pi), Add(x, Mul(0.044715, x^3)))`, every Mul and Add in either order.
        func tanhArgument(_ v: ValueID?, in g: Graph) -> (ValueID, [NodeID])? {
            guard let (sID, s) = ChainMatching.producer(v, "Mul", in: g), s.inputs.count == 2 else { return nil }
            for side in 0..<2 {
                guard let (aID, a) = ChainMatching.producer(s.inputs[side], "Add", in: g), a.inputs.count == 2 else { continue }
                for aSide in 0..<2 {
                    guard let x = a.inputs[aSide], let (kID, k) = ChainMatching.producer(a.inputs[1 - aSide], "Mul", in: g),
                          k.inputs.count == 2 else { continue }
                    guard ChainMatching.isScalar(s, 1 - side, (2 / Double.pi).squareRoot(), against: x, in: g) else { return nil }
                    for kSide in 0..<2 {
                        guard ChainMatching.isScalar(k, 1 - kSide, 0.044715, against: x, in: g),
                              let cube = cube(of: x, k.inputs[kSide], in: g) else { continue }
                        return (x, [sID, aID, kID] + cube)
                    }
                }
            }
            return nil
        }

        /// The nodes computing `x^3` as `Pow(x, 3)`, `Mul(x, Mul(x, x))` or `Mul(Mul(x, x), x)`.
        func cube(of x: ValueID, _ v: ValueID?, in g: Graph) -> [NodeID]? {
            if let (pID, p) = ChainMatching.producer(v, "Pow", in: g), p.inputs.count == 2, p.inputs[0] == x,
               let e = g.constant(p.inputs[1]), e.elementCount == 1, e.dims.count <= (ChainMatching.rank(x, in: g) ?? 0),
               exponent(e) == 3 {
                return [pID]
            }
            if let (mID, m) = ChainMatching.producer(v, "Mul", in: g), m.inputs.count == 2 {
                for side in 0..<2 where m.inputs[side] == x {
                    if let (sqID, sq) = ChainMatching.producer(m.inputs[1 - side], "Mul", in: g),
                       sq.inputs.count == 2, sq.inputs[0] == x, sq.inputs[1] == x {
                        return [mID, sqID]
                    }
                }
            }
            return nil
        }

        /// A one-element exponent as a Double (float or integer tensor).
        func exponent(_ t: Tensor) -> Double? {
            if let i = t.integers() { return Double(i[0]) }
            switch t.dtype {
            case .float32: return Double(t.elements(Float.self)[0])
            case .float64: return t.elements(Double.self)[0]
            case .float16: return Double(t.elements(Float16.self)[0])
            default: return nil
            }
        }
    }
}
