import ModelIR
import ModelOps

/// `fuse-layernorm`: the decomposed layer normalization over the last axis,
/// `gamma * (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) + beta`, becomes
/// `LayerNormalization(x, gamma, beta) {axis=-1, epsilon=eps}`.
///
/// ```
/// before:  %mu = ReduceMean(%x) {axes=[-1]} <- mean        (opset 18+: axes as an input)
///          %d = Sub(%x, %mu) <- sub
///          %p = Pow(%d, %two) <- pow                         (or Mul(%d, %d))
///          %var = ReduceMean(%p) {axes=[-1]} <- var
///          %ve = Add(%var, %eps) <- add_eps
///          %sd = Sqrt(%ve) <- sqrt
///          %n = Div(%d, %sd) <- div
///          %s = Mul(%n, %gamma) <- mul                       (optional)
///          %y = Add(%s, %beta) <- add                        (optional)
/// after:   %y = LayerNormalization(%x, %gamma, %beta) {axis=-1, epsilon=1e-05} <- mean,sub,pow,var,add_eps,sqrt,div,mul,add
/// ```
/// Without the Mul, the scale is a new initializer of ones; without the Add, the optional
/// bias input is omitted (LayerNormalization adds nothing then). gamma and beta must be
/// float32 constants of C elements (C the static last dim of x) whose shape [C], [1,...,C]
/// does not broadcast x to a larger rank, or one-element constants (stored as [C] copies);
/// when they are not, the fusion stops before that Mul or Add.
///
/// Fires only when the model imports the default domain at opset 17 or later
/// (LayerNormalization's first version), both ReduceMeans keep dims and reduce the last
/// axis only, the exponent is exactly 2, x is float32 (LayerNormalization computes its
/// statistics in float32 by default: fusing float16 or float64 would change the precision)
/// and no intermediate value has a reader outside the pattern.
public struct FuseLayerNorm: GraphPass {
    public let name = "fuse-layernorm"
    public let summary = "ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add) over the last axis -> LayerNormalization"
    /// LayerNormalization's since_version.
    static let minOpset: Int64 = 17

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let div = g[node: id]
            guard div.isOp("Div"), div.inputs.count == 2, div.outputs.count == 1, let n = div.outputs[0],
                  let (x, epsilon, core) = matchNormalization(div, in: g) else { return false }
            func why(_ s: String) -> Bool { context.note("fuse-layernorm: \(div.displayName): \(s)"); return false }
            let opset = ChainMatching.defaultOpset(model) ?? 0
            guard opset >= FuseLayerNorm.minOpset else {
                return why("the model's opset \(opset) is below LayerNormalization's \(FuseLayerNorm.minOpset)")
            }
            guard ChainMatching.dtype(x, in: g) == .float32 else { return why("x is not known to be float32") }
            guard let c = g[value: x].type?.tensorShape?.dims.last?.value else { return why("the last dim of x is not static") }
            if let reason = ChainMatching.whyNotSelfContained(interior: core, root: id, in: g, context) { return why(reason) }

            // Extend over Mul(gamma) and Add(beta) while they are per-last-axis constants.
            var root = id, interior = core, out = n
            var gamma: Tensor?, gammaValue: ValueID?, beta: Tensor?, betaValue: ValueID?
            if let (mID, m) = soleReader(of: out, "Mul", in: g), let (k, t) = lastAxisConstant(m, besides: out, x: x, c: c, in: g) {
                gamma = t; gammaValue = k; interior.append(root); root = mID; out = m.outputs[0]!
            }
            if let (aID, a) = soleReader(of: out, "Add", in: g), let (k, t) = lastAxisConstant(a, besides: out, x: x, c: c, in: g) {
                beta = t; betaValue = k; interior.append(root); root = aID; out = a.outputs[0]!
            }
            if root != id, let reason = ChainMatching.whyNotSelfContained(interior: interior, root: root, in: g, context) {
                return why(reason)
            }
            let scale = parameter(gamma, gammaValue, default: 1, c: c, name: g[value: out].name + "_scale", in: &g)
            let bias = beta.map { parameter($0, betaValue, default: 0, c: c, name: g[value: out].name + "_bias", in: &g) }
            let attributes = [Attribute("axis", .int(-1)), Attribute("epsilon", .float(epsilon))]
            return ChainMatching.replace(root: root, interior: interior, with: "LayerNormalization",
                                         inputs: bias.map { [x, scale, $0] } ?? [x, scale], attributes: attributes, in: &g) != nil
        }

        /// `Div(Sub(x, mean(x)), Sqrt(Add(mean(Sub(...)^2), eps)))`: x, eps and the nodes
        /// other than the Div.
        func matchNormalization(_ div: Node, in g: Graph) -> (ValueID, Float, [NodeID])? {
            guard let d = div.inputs[0], let (subID, sub) = ChainMatching.producer(d, "Sub", in: g), sub.inputs.count == 2,
                  let x = sub.inputs[0], let (meanID, mean) = ChainMatching.producer(sub.inputs[1], "ReduceMean", in: g),
                  mean.inputs.first == x, reducesLastAxis(mean, of: x, in: g) else { return nil }
            guard let (sqrtID, sqrt) = ChainMatching.producer(div.inputs[1], "Sqrt", in: g),
                  let (addID, add) = ChainMatching.producer(sqrt.inputs.first ?? nil, "Add", in: g), add.inputs.count == 2 else { return nil }
            for side in 0..<2 {
                guard let (varID, variance) = ChainMatching.producer(add.inputs[side], "ReduceMean", in: g),
                      let p = variance.inputs.first ?? nil, reducesLastAxis(variance, of: x, in: g),
                      let eps = ChainMatching.scalar(add.inputs[1 - side], against: x, in: g),
                      let square = squareOf(d, p, in: g) else { continue }
                return (x, Float(eps), [meanID, subID, square, varID, addID, sqrtID])
            }
            return nil
        }

        /// The node computing `p = d^2`: `Pow(d, 2)` (exponent exactly 2) or `Mul(d, d)`.
        func squareOf(_ d: ValueID, _ p: ValueID, in g: Graph) -> NodeID? {
            if let (pID, pow) = ChainMatching.producer(p, "Pow", in: g), pow.inputs.count == 2, pow.inputs[0] == d,
               let e = g.constant(pow.inputs[1]), e.elementCount == 1, e.dims.count <= (ChainMatching.rank(d, in: g) ?? 0) {
                let two: Bool
                switch e.dtype {
                case .float32: two = e.elements(Float.self)[0] == 2
                case .float64: two = e.elements(Double.self)[0] == 2
                case .float16: two = e.elements(Float16.self)[0] == 2
                default: two = e.integers()?.first == 2
                }
                return two ? pID : nil
            }
            if let (mID, m) = ChainMatching.producer(p, "Mul", in: g), m.inputs.count == 2, m.inputs[0] == d, m.inputs[1] == d {
                return mID
            }
            return nil
        }

        /// Whether a ReduceMean of `x` keeps dims and reduces exactly the last axis (axes as
        /// the attribute before opset 18, as a constant input from 18).
        func reducesLastAxis(_ r: Node, of x: ValueID, in g: Graph) -> Bool {
            if case .int(let k)? = r.attributes[named: "keepdims"], k == 0 { return false }
            let axes: [Int]
            if r.inputs.count > 1, let a = r.inputs[1] {
                guard let t = g.constant(a), let v = t.integers() else { return false }
                axes = v
            } else if case .ints(let v)? = r.attributes[named: "axes"] {
                axes = v.map { Int($0) }
            } else {
                return false  // no axes: every axis (or none, with noop_with_empty_axes)
            }
            guard axes.count == 1 else { return false }
            if axes[0] == -1 { return true }
            guard let rank = ChainMatching.rank(x, in: g) else { return false }
            return axes[0] == rank - 1
        }

        /// The node reading `v` when it is the only reader and is the op `op`.
        func soleReader(of v: ValueID, _ op: String, in g: Graph) -> (NodeID, Node)? {
            let uses = g[value: v].uses
            guard uses.count == 1, !g.isGraphOutput(v) else { return nil }
            let node = g[node: uses[0].node]
            guard node.isOp(op), node.inputs.count == 2, node.outputs.count == 1, node.outputs[0] != nil else { return nil }
            return (uses[0].node, node)
        }

        /// The other operand of a binary node when it is a float32 constant of C elements
        /// laid along the last axis ([C], [1,...,1,C]) or of one element, of rank at most x's.
        func lastAxisConstant(_ node: Node, besides v: ValueID, x: ValueID, c: Int, in g: Graph) -> (ValueID, Tensor)? {
            guard let k = node.inputs[0] == v ? node.inputs[1] : node.inputs[0], let t = g.constant(k),
                  t.dtype == .float32, let rank = ChainMatching.rank(x, in: g), t.dims.count <= rank else { return nil }
            if t.elementCount == 1 { return (k, t) }
            guard t.elementCount == c, t.dims.last == c else { return nil }
            return (k, t)
        }

        /// The scale or bias input: the constant as it is when it is [C], a [C] copy
        /// otherwise, or a new [C] initializer of `value` when there is none.
        func parameter(_ t: Tensor?, _ id: ValueID?, default value: Float, c: Int, name: String, in g: inout Graph) -> ValueID {
            if let t, let id, t.dims == [c] { return id }
            let values: [Float]
            if let t { values = t.elementCount == 1 ? [Float](repeating: t.elements(Float.self)[0], count: c) : t.elements(Float.self) }
            else { values = [Float](repeating: value, count: c) }
            let v = g.addValue(named: g.uniqueName(name))
            g.setInitializer(Tensor.of(values, dims: [c], name: g[value: v].name), of: v)
            return v
        }
    }
}
