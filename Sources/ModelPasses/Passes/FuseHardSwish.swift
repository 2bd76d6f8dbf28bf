import ModelIR
import ModelOps

/// `fuse-hardswish`: `Mul(x, HardSigmoid(x; alpha=1/6, beta=1/2)) -> HardSwish(x)`, and the
/// decomposed `x * relu6(x + 3) / 6` that torch and paddle2onnx export:
/// `Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`, `Mul(x, Div(Clip(Add(x, 3), 0, 6), 6))` and the
/// same with `Mul(..., 1/6)` for the division (every Mul and Add in either operand order).
///
/// ```
/// before:  %a = Add(%x, %three) <- add           (%three = 3, %zero = 0, %six = 6: scalars)
///          %c = Clip(%a, %zero, %six) <- clip
///          %m = Mul(%x, %c) <- mul
///          %y = Div(%m, %six) <- div
/// after:   %y = HardSwish(%x) <- add,clip,mul,div
/// ```
/// Fires only when the model imports the default domain at opset 14 or later (HardSwish's
/// first version), the constants are float16/32/64 scalars that do not broadcast x to a
/// larger rank (1/6 within 1e-6 relative, see `ChainMatching.rtol`; 0, 3, 6, 1/2 exact), and
/// no intermediate value has a reader outside the pattern. HardSwish computes
/// `x * max(0, min(1, x/6 + 1/2))`: the same function, rounded differently (a few ulps).
public struct FuseHardSwish: GraphPass {
    public let name = "fuse-hardswish"
    public let summary = "Mul(x, HardSigmoid(x; 1/6, 1/2)) or x * Clip(x + 3, 0, 6) / 6 -> HardSwish(x)"
    /// HardSwish's since_version.
    static let minOpset: Int64 = 14

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let root = g[node: id]
            guard root.isOp("Mul") || root.isOp("Div"), root.inputs.count == 2, root.outputs.count == 1,
                  root.outputs[0] != nil, let (x, interior) = match(root, in: g) else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-hardswish: \(root.displayName): \(s)"); return false }
            let opset = ChainMatching.defaultOpset(model) ?? 0
            guard opset >= FuseHardSwish.minOpset else {
                return why("the model's opset \(opset) is below HardSwish's \(FuseHardSwish.minOpset)")
            }
            if let reason = ChainMatching.whyNotSelfContained(interior: interior, root: id, in: g, context) { return why(reason) }
            return ChainMatching.replace(root: id, interior: interior, with: "HardSwish", inputs: [x], in: &g) != nil
        }

        /// x and the matched nodes other than the root, when `root` computes hardswish(x).
        func match(_ root: Node, in g: Graph) -> (ValueID, [NodeID])? {
            guard let a = root.inputs[0], let b = root.inputs[1] else { return nil }
            if root.isOp("Div") {
                // Div(Mul(x, relu6(x + 3)), 6)
                guard ChainMatching.isScalar(root, 1, 6, against: a, in: g) else { return nil }
                return productWithRelu6(a, in: g)
            }
            for (x, h) in [(a, b), (b, a)] {
                // Mul(x, HardSigmoid(x; 1/6, 1/2))
                if let (hsID, hs) = ChainMatching.producer(h, "HardSigmoid", in: g), hs.inputs.first == x {
                    let alpha = Double({ if case .float(let v)? = hs.attributes[named: "alpha"] { return v }; return 0.2 }())
                    let beta = Double({ if case .float(let v)? = hs.attributes[named: "beta"] { return v }; return 0.5 }())
                    if ChainMatching.isClose(alpha, 1.0 / 6), beta == 0.5 { return (x, [hsID]) }
                }
                // Mul(x, Div(relu6(x + 3), 6)) and Mul(x, Mul(relu6(x + 3), 1/6))
                if let (sID, s) = ChainMatching.producer(h, "Div", in: g), s.inputs.count == 2,
                   ChainMatching.isScalar(s, 1, 6, against: x, in: g),
                   let (x2, nodes) = relu6OfXPlus3(s.inputs[0], in: g), x2 == x {
                    return (x, [sID] + nodes)
                }
                if let (sID, s) = ChainMatching.producer(h, "Mul", in: g), s.inputs.count == 2 {
                    for side in 0..<2 where ChainMatching.isScalar(s, 1 - side, 1.0 / 6, against: x, in: g) {
                        if let (x2, nodes) = relu6OfXPlus3(s.inputs[side], in: g), x2 == x { return (x, [sID] + nodes) }
                    }
                }
            }
            // Mul(Mul(x, relu6(x + 3)), 1/6)
            for side in 0..<2 {
                let p = root.inputs[side]!
                if ChainMatching.isScalar(root, 1 - side, 1.0 / 6, against: p, in: g), let m = productWithRelu6(p, in: g) { return m }
            }
            return nil
        }

        /// `p = Mul(x, relu6(x + 3))` (either order): x and the matched nodes.
        func productWithRelu6(_ p: ValueID, in g: Graph) -> (ValueID, [NodeID])? {
            guard let (mID, m) = ChainMatching.producer(p, "Mul", in: g), m.inputs.count == 2,
                  let m0 = m.inputs[0], let m1 = m.inputs[1] else { return nil }
            for (x, c) in [(m0, m1), (m1, m0)] {
                if let (x2, nodes) = relu6OfXPlus3(c, in: g), x2 == x { return (x, [mID] + nodes) }
            }
            return nil
        }

        /// `c = Clip(Add(x, 3), 0, 6)` (Add either order): x and the matched nodes.
        func relu6OfXPlus3(_ c: ValueID?, in g: Graph) -> (ValueID, [NodeID])? {
            guard let (clipID, clip) = ChainMatching.producer(c, "Clip", in: g), clip.inputs.count == 3,
                  let s = clip.inputs[0], let (addID, add) = ChainMatching.producer(s, "Add", in: g),
                  add.inputs.count == 2 else { return nil }
            for side in 0..<2 {
                guard let x = add.inputs[side], ChainMatching.isScalar(add, 1 - side, 3, against: x, in: g) else { continue }
                guard ChainMatching.isScalar(clip, 1, 0, against: x, in: g), ChainMatching.isScalar(clip, 2, 6, against: x, in: g) else { return nil }
                return (x, [clipID, addID])
            }
            return nil
        }
    }
}
