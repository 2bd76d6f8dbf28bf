import ModelIR
import ModelOps

/// `convert-layout-nhwc`: computes the layout-agnostic ops of an NCHW graph on channels-last
/// tensors. ONNX's Conv, pools, BatchNormalization... read and write NCHW only, so each keeps
/// a Transpose to NCHW before it and one to NHWC after it where its neighbours are
/// channels-last; the graph's inputs and outputs keep their NCHW interface. Only transposes
/// are added: every value is computed by the same op on the same numbers.
///
/// ```
/// before:  %c = Conv(%x, %w) <- conv1
///          %r = Relu(%c) <- relu
///          %a = Add(%r, %bias) <- add               (%bias: float32[1,8,1,1])
///          %y = Conv(%a, %w2) <- conv2
/// after:   %c = Conv(%x, %w) <- conv1
///          %c_nhwc = Transpose(%c) {perm=[0,2,3,1]} <- conv1
///          %r_nhwc = Relu(%c_nhwc) <- relu
///          %a_nhwc = Add(%r_nhwc, %bias_nhwc) <- add    (%bias_nhwc: float32[8])
///          %a = Transpose(%a_nhwc) {perm=[0,3,1,2]} <- add
///          %y = Conv(%a, %w2) <- conv2
/// ```
/// Which ops convert (rank >= 3 data; the channels-last permutation of rank r is
/// `[0, 2, ..., r-1, 1]`):
/// - elementwise unary ops (extra inputs must be scalars), broadcasting ops (constant operands
///   are re-laid out; a variable operand of lower rank that is not all ones blocks), Concat and
///   Split (axis remapped), Slice and Pad (axes or pads remapped), Reduce* with keepdims 1,
///   Softmax/LogSoftmax/Hardmax from opset 13 (axis remapped), Resize in nearest mode, or
///   linear mode on 4-D data whose N and C are not scaled (scales, sizes, roi permuted);
/// - an op converts when at least one of its data inputs is already channels-last or comes
///   from an NCHW-only op, and no more of them would need a new Transpose than not.
/// Everything else (Reshape, Flatten, MatMul, Gemm, Transpose, Shape, ops with subgraphs...)
/// reads NCHW. Every Transpose left in the graph is reported with its reason, one note each,
/// and a count per reason as a remark.
public struct ConvertLayoutNHWC: GraphPass {
    public let name = "convert-layout-nhwc"
    public let summary = "NCHW graph -> layout-agnostic ops on NHWC tensors, transposes around NCHW-only ops"

    public init() {}

    /// Ops whose data inputs and outputs are NCHW in ONNX (no channels-last attribute).
    static let nchwOnly: Set<String> = [
        "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv", "MaxPool", "AveragePool", "LpPool",
        "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "BatchNormalization", "InstanceNormalization",
        "GroupNormalization", "LRN", "DepthToSpace", "SpaceToDepth", "MaxUnpool", "RoiAlign", "MaxRoiPool",
        "GridSample", "Col2Im", "QLinearAveragePool", "QLinearGlobalAveragePool",
    ]

    static let unary: Set<String> = [
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu", "Celu",
        "Gelu", "Mish", "Softplus", "Softsign", "ThresholdedRelu", "Shrink", "Erf", "Exp", "Log", "Sqrt", "Reciprocal",
        "Neg", "Abs", "Sign", "Floor", "Ceil", "Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
        "Asinh", "Acosh", "Atanh", "Not", "IsNaN", "IsInf", "BitwiseNot", "Cast", "Identity", "Dropout",
    ]

    static let broadcasting: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "Equal", "Less", "LessOrEqual",
        "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Where", "BitShift", "BitwiseAnd", "BitwiseOr",
        "BitwiseXor", "PRelu",
    ]

    static let reductions: Set<String> = [
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    ]

    /// `[0, 2, ..., r-1, 1]`: physical axis j holds logical axis `toNHWC[j]`.
    static func toNHWC(_ r: Int) -> [Int] { [0] + Array(2..<r) + [1] }
    /// `[0, r-1, 1, ..., r-2]`: the inverse.
    static func toNCHW(_ r: Int) -> [Int] { [0, r - 1] + Array(1..<(r - 1)) }
    /// The physical position of logical axis `a` (normalized) in rank r.
    static func physicalAxis(_ a: Int, rank r: Int) -> Int { a == 0 ? 0 : a == 1 ? r - 1 : a - 1 }

    /// How one node is rewritten to read and write channels-last tensors.
    struct Conversion {
        var rank: Int
        /// Inputs that take the channels-last form of a rank-`rank` value.
        var dataInputs: [Int] = []
        /// Inputs replaced by (or added as) constants.
        var constants: [(Int, Tensor)] = []
        var attributes: [Attribute]
    }

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var g = model.graph
        let cycle = g.sortTopologically()
        guard cycle.isEmpty else {
            context.note("\(name): the graph has a cycle; left unchanged")
            return 0
        }
        let opset = Int(model.opsetVersion("") ?? 1)
        var state = State()
        // A value produced by Transpose(v, toNCHW) has v as its channels-last form already.
        for (id, n) in g.liveNodes where n.isOp("Transpose") {
            guard let v = n.inputs.first ?? nil, let out = n.outputs.first ?? nil, let r = rank(v, g), r >= 3,
                  case .ints(let p)? = n.attributes[named: "perm"], p.map({ Int($0) }) == Self.toNCHW(r) else { continue }
            state.physical[out] = v
            state.ours.insert(id)
        }
        var converted = 0
        for id in g.order {
            guard g.nodes[Int(id.index)] != nil else { continue }
            let node = g[node: id]
            guard node.domain.isEmpty || node.domain == "ai.onnx", node.subgraphs.isEmpty,
                  node.outputs.allSatisfy({ $0.map { context.isReplaceable($0, in: g) } ?? true }),
                  let plan = conversion(node, g, opset: opset) else { continue }
            // Cost: data inputs that are channels-last already (or come straight from an
            // NCHW-only op) against those that would need a new Transpose.
            var wants = 0, costs = 0
            for i in plan.dataInputs {
                let v = node.inputs[i]!
                if state.physical[v] != nil || producedByNCHWOnly(v, g) { wants += 1 } else { costs += 1 }
            }
            guard wants > 0, wants >= costs else { continue }
            for i in plan.dataInputs {
                g.setInput(i, of: id, to: physicalForm(node.inputs[i]!, before: id, &g, &state))
            }
            for (i, t) in plan.constants {
                g.setConstantInput(i, of: id, to: t, suffix: "_nhwc")
            }
            g.setAttributes(plan.attributes, of: id)
            // The node now writes channels-last values; its readers get them back in NCHW
            // through one Transpose per output (erased at the end if nobody needs it).
            let next = g.order.firstIndex(of: id).map { $0 + 1 < g.order.count ? g.order[$0 + 1] : nil } ?? nil
            for case let y? in node.outputs {
                let name = g[value: y].name, type = g[value: y].type
                let logical = g.addValue(named: g.uniqueName(name + "__nchw"), type: type)
                g.replaceAllUses(of: y, with: logical)
                g.renameValue(y, to: g.uniqueName(name + "_nhwc"))
                g.renameValue(logical, to: name)
                if g[value: y].hasValueInfo { g.markValueInfo(logical, docString: g[value: y].docString) }
                g.setType(permuted(type, plan.rank), of: y)
                let attrs = [Attribute("perm", .ints(Self.toNCHW(plan.rank).map { Int64($0) }))]
                let t = next.map {
                    g.insertNode("Transpose", name: g.uniqueName(name + "_to_nchw"), inputs: [y], outputs: [logical],
                                 attributes: attrs, provenance: node.provenance, before: $0)
                } ?? g.appendNode("Transpose", name: g.uniqueName(name + "_to_nchw"), inputs: [y], outputs: [logical],
                                  attributes: attrs, provenance: node.provenance)
                state.ours.insert(t)
                state.physical[logical] = y
            }
            converted += 1
        }
        // Transposes nobody reads any more.
        for id in state.ours.sorted() where g.nodes[Int(id.index)] != nil {
            let out = g[node: id].outputs[0]!
            if g[value: out].uses.isEmpty, !g.isGraphOutput(out), context.isReplaceable(out, in: g) { g.eraseNode(id) }
        }
        report(g, &context)
        model.graph = g
        return converted
    }

    struct State {
        /// Logical (NCHW) value -> the value holding it channels-last.
        var physical: [ValueID: ValueID] = [:]
        /// Transposes this pass made or found.
        var ours: Set<NodeID> = []
    }

    func rank(_ v: ValueID, _ g: Graph) -> Int? {
        g[value: v].type?.tensorShape?.rank ?? g.constant(v)?.dims.count
    }

    func staticDims(_ v: ValueID, _ g: Graph) -> [Int]? {
        g[value: v].type?.tensorShape?.staticDims ?? g.constant(v)?.dims
    }

    func producedByNCHWOnly(_ v: ValueID, _ g: Graph) -> Bool {
        guard let (_, p) = g.producer(of: v) else { return false }
        return (p.domain.isEmpty || p.domain == "ai.onnx") && Self.nchwOnly.contains(p.opType)
    }

    func permuted(_ type: ValueType?, _ r: Int) -> ValueType? {
        guard case .tensor(let dt, let shape)? = type else { return type }
        guard let shape, shape.rank == r else { return .tensor(dt, shape) }
        return .tensor(dt, Shape(Self.toNHWC(r).map { shape.dims[$0] }))
    }

    /// The channels-last form of logical value `v`, made by a Transpose before `anchor` the
    /// first time it is asked for.
    func physicalForm(_ v: ValueID, before anchor: NodeID, _ g: inout Graph, _ state: inout State) -> ValueID {
        if let p = state.physical[v] { return p }
        let r = rank(v, g)!
        let name = g[value: v].name
        let p = g.addValue(named: g.uniqueName(name + "_nhwc"), type: permuted(g[value: v].type, r))
        let provenance = g.producer(of: v)?.node.provenance ?? [name]
        let t = g.insertNode("Transpose", name: g.uniqueName(name + "_to_nhwc"), inputs: [v], outputs: [p],
                             attributes: [Attribute("perm", .ints(Self.toNHWC(r).map { Int64($0) }))],
                             provenance: provenance, before: anchor)
        state.ours.insert(t)
        state.physical[v] = p
        return p
    }

    // MARK: Which ops convert, and how

    func conversion(_ n: Node, _ g: Graph, opset: Int) -> Conversion? {
        let op = n.opType
        // Broadcasting ops may have their full-rank operand anywhere.
        if Self.broadcasting.contains(op) { return broadcast(n, g) }
        guard let x = n.inputs.first ?? nil, let r = rank(x, g), r >= 3 else { return nil }
        // Every output must have the data's rank (as far as known).
        for case let y? in n.outputs {
            if let yr = g[value: y].type?.tensorShape?.rank, yr != r { return nil }
        }
        if Self.unary.contains(op) {
            // Extra inputs (Clip's min and max, Dropout's ratio) must not depend on the layout.
            for case let extra? in n.inputs.dropFirst() where !layoutFree(extra, g) { return nil }
            return Conversion(rank: r, dataInputs: [0], attributes: n.attributes)
        }
        if Self.reductions.contains(op) { return reduction(n, g, rank: r, opset: opset) }
        switch op {
        case "Concat":
            guard let a = axisAttribute(n, "axis", rank: r, default: nil) else { return nil }
            var c = Conversion(rank: r, attributes: replacing(n.attributes, "axis", .int(Int64(Self.physicalAxis(a, rank: r)))))
            for (i, v) in n.inputs.enumerated() {
                guard let v, rank(v, g) == r else { return nil }
                if let t = g.constant(v) {
                    guard let moved = relaid(t, rank: r, strip: false) else { return nil }
                    c.constants.append((i, moved))
                } else {
                    c.dataInputs.append(i)
                }
            }
            return c
        case "Split":
            guard let a = axisAttribute(n, "axis", rank: r, default: 0) else { return nil }
            return Conversion(rank: r, dataInputs: [0], attributes: replacing(n.attributes, "axis", .int(Int64(Self.physicalAxis(a, rank: r)))))
        case "Softmax", "LogSoftmax", "Hardmax":
            guard opset >= 13, let a = axisAttribute(n, "axis", rank: r, default: -1) else { return nil }
            return Conversion(rank: r, dataInputs: [0], attributes: replacing(n.attributes, "axis", .int(Int64(Self.physicalAxis(a, rank: r)))))
        case "Slice":
            return slice(n, g, rank: r, opset: opset)
        case "Pad":
            return pad(n, g, rank: r, opset: opset)
        case "Resize":
            return resize(n, g, rank: r, opset: opset)
        default:
            return nil
        }
    }

    /// A value whose broadcasting does not depend on the layout: rank 0 or all dims 1, or absent.
    func layoutFree(_ v: ValueID, _ g: Graph) -> Bool {
        guard let d = staticDims(v, g) else { return false }
        return d.allSatisfy { $0 == 1 }
    }

    func broadcast(_ n: Node, _ g: Graph) -> Conversion? {
        var ranks: [Int] = []
        for case let v? in n.inputs {
            guard let r = rank(v, g) else { return nil }
            ranks.append(r)
        }
        guard let r = ranks.max(), r >= 3 else { return nil }
        for case let y? in n.outputs {
            if let yr = g[value: y].type?.tensorShape?.rank, yr != r { return nil }
        }
        var c = Conversion(rank: r, attributes: n.attributes)
        for (i, v) in n.inputs.enumerated() {
            guard let v else { continue }
            if layoutFree(v, g) { continue }
            if let t = g.constant(v) {
                guard let moved = relaid(t, rank: r, strip: true) else { return nil }
                c.constants.append((i, moved))
            } else if rank(v, g) == r {
                c.dataInputs.append(i)
            } else {
                return nil
            }
        }
        return c.dataInputs.isEmpty ? nil : c
    }

    func reduction(_ n: Node, _ g: Graph, rank r: Int, opset: Int) -> Conversion? {
        if case .int(let k)? = n.attributes[named: "keepdims"], k == 0 { return nil }
        let axesAsInput = n.opType == "ReduceSum" ? opset >= 13 : opset >= 18
        var c = Conversion(rank: r, dataInputs: [0], attributes: n.attributes)
        if axesAsInput {
            guard n.inputs.count > 1, let a = n.inputs[1] else { return c }
            guard let axes = g.constant(a)?.integers(), let mapped = mapAxes(axes, rank: r) else { return nil }
            c.constants.append((1, Tensor.of(mapped.map { Int64($0) })))
        } else if case .ints(let axes)? = n.attributes[named: "axes"] {
            guard let mapped = mapAxes(axes.map { Int($0) }, rank: r) else { return nil }
            c.attributes = replacing(n.attributes, "axes", .ints(mapped.map { Int64($0) }))
        }
        return c
    }

    func slice(_ n: Node, _ g: Graph, rank r: Int, opset: Int) -> Conversion? {
        var c = Conversion(rank: r, dataInputs: [0], attributes: n.attributes)
        if opset < 10 {
            guard case .ints(let starts)? = n.attributes[named: "starts"] else { return nil }
            var axes = Array(0..<starts.count)
            if case .ints(let a)? = n.attributes[named: "axes"] { axes = a.map { Int($0) } }
            guard let mapped = mapAxes(axes, rank: r) else { return nil }
            c.attributes = replacing(n.attributes, "axes", .ints(mapped.map { Int64($0) }))
            return c
        }
        guard n.inputs.count > 2, let s = n.inputs[1], let count = staticDims(s, g)?.first else { return nil }
        var axes = Array(0..<count)
        if n.inputs.count > 3, let a = n.inputs[3] {
            guard let list = g.constant(a)?.integers() else { return nil }
            axes = list
        }
        guard let mapped = mapAxes(axes, rank: r) else { return nil }
        c.constants.append((3, Tensor.of(mapped.map { Int64($0) })))
        return c
    }

    func pad(_ n: Node, _ g: Graph, rank r: Int, opset: Int) -> Conversion? {
        var c = Conversion(rank: r, dataInputs: [0], attributes: n.attributes)
        if opset < 11 {
            let key = opset < 2 ? "paddings" : "pads"
            guard case .ints(let pads)? = n.attributes[named: key], pads.count == 2 * r else { return nil }
            let p = Self.toNHWC(r)
            c.attributes = replacing(n.attributes, key, .ints(p.map { pads[$0] } + p.map { pads[r + $0] }))
            return c
        }
        for case let extra? in n.inputs.dropFirst(2).prefix(1) where !layoutFree(extra, g) { return nil }
        if opset >= 18, n.inputs.count > 3, let a = n.inputs[3] {
            guard let axes = g.constant(a)?.integers(), let mapped = mapAxes(axes, rank: r) else { return nil }
            c.constants.append((3, Tensor.of(mapped.map { Int64($0) })))
            return c
        }
        guard n.inputs.count > 1, let pt = g.constant(n.inputs[1]), let pads = pt.integers(), pads.count == 2 * r else { return nil }
        let p = Self.toNHWC(r)
        c.constants.append((1, Tensor.of((p.map { pads[$0] } + p.map { pads[r + $0] }).map { Int64($0) })))
        return c
    }

    func resize(_ n: Node, _ g: Graph, rank r: Int, opset: Int) -> Conversion? {
        guard opset >= 11 else { return nil }
        let mode = { if case .string(let m)? = n.attributes[named: "mode"] { return String(decoding: m, as: UTF8.self) }; return "nearest" }()
        guard mode == "nearest" || (mode == "linear" && r == 4) else { return nil }
        var c = Conversion(rank: r, dataInputs: [0], attributes: n.attributes)
        if case .ints(let axes)? = n.attributes[named: "axes"] {
            guard let mapped = mapAxes(axes.map { Int($0) }, rank: r) else { return nil }
            if mode == "linear" {
                // Linear resizes of N or C have no channels-last kernel in ONNX Runtime.
                return nil
            }
            c.attributes = replacing(n.attributes, "axes", .ints(mapped.map { Int64($0) }))
            return c
        }
        let p = Self.toNHWC(r)
        if n.inputs.count > 1, let roi = n.inputs[1] {
            guard let t = g.constant(roi) else { return nil }
            if t.elementCount != 0 {
                guard t.dims.count == 1, t.dims[0] == 2 * r else { return nil }
                guard let moved = permuteVector(t, p, halves: 2) else { return nil }
                c.constants.append((1, moved))
            }
        }
        var found = false
        for i in [2, 3] where n.inputs.count > i {
            guard let v = n.inputs[i] else { continue }
            guard let t = g.constant(v) else { return nil }
            if t.elementCount == 0 { continue }
            guard t.dims == [r], let moved = permuteVector(t, p, halves: 1) else { return nil }
            if mode == "linear", i == 2, t.dtype == .float32 {
                let s = t.elements(Float.self)
                guard s[0] == 1, s[1] == 1 else { return nil }
            }
            if mode == "linear", i == 3, let sizes = t.integers(), let d = staticDims(n.inputs[0]!, g) {
                guard sizes[0] == d[0], sizes[1] == d[1] else { return nil }
            } else if mode == "linear", i == 3 {
                return nil
            }
            c.constants.append((i, moved))
            found = true
        }
        return found ? c : nil
    }

    // MARK: Helpers

    /// Logical axes -> physical axes (normalized), nil when out of range.
    func mapAxes(_ axes: [Int], rank r: Int) -> [Int]? {
        var out: [Int] = []
        for a0 in axes {
            let a = a0 < 0 ? a0 + r : a0
            guard a >= 0, a < r else { return nil }
            out.append(Self.physicalAxis(a, rank: r))
        }
        return out
    }

    func axisAttribute(_ n: Node, _ key: String, rank r: Int, default d: Int?) -> Int? {
        var a: Int
        if case .int(let v)? = n.attributes[named: key] { a = Int(v) } else {
            guard let d else { return nil }
            a = d
        }
        if a < 0 { a += r }
        return a >= 0 && a < r ? a : nil
    }

    func replacing(_ attrs: [Attribute], _ key: String, _ value: AttributeValue) -> [Attribute] {
        var out = attrs
        if let i = out.firstIndex(where: { $0.name == key }) { out[i].value = value } else { out.append(Attribute(key, value)) }
        return out
    }

    /// A 1-D tensor of `halves * r` entries with each half permuted by `p`.
    func permuteVector(_ t: Tensor, _ p: [Int], halves: Int) -> Tensor? {
        let r = p.count
        let order = (0..<halves).flatMap { h in p.map { h * r + $0 } }
        return gather(t, order, dims: t.dims)
    }

    /// The constant `t` broadcast-aligned to rank r and transposed to channels-last; with
    /// `strip`, leading 1-dims are dropped again (broadcasting restores them).
    func relaid(_ t: Tensor, rank r: Int, strip: Bool) -> Tensor? {
        guard t.dims.count <= r else { return nil }
        let aligned = [Int](repeating: 1, count: r - t.dims.count) + t.dims
        let p = Self.toNHWC(r)
        var dims = p.map { aligned[$0] }
        // Source index of each destination element, in destination order.
        let srcStrides = strides(aligned)
        var order: [Int] = []
        order.reserveCapacity(t.elementCount ?? 0)
        var idx = [Int](repeating: 0, count: r)
        let total = t.elementCount ?? 0
        for _ in 0..<total {
            var src = 0
            for j in 0..<r { src += idx[j] * srcStrides[p[j]] }
            order.append(src)
            var j = r - 1
            while j >= 0 {
                idx[j] += 1
                if idx[j] < dims[j] { break }
                idx[j] = 0
                j -= 1
            }
        }
        if strip { while dims.count > 1, dims[0] == 1 { dims.removeFirst() } }
        return gather(t, order, dims: dims)
    }

    func strides(_ d: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: d.count)
        var acc = 1
        for i in stride(from: d.count - 1, through: 0, by: -1) { s[i] = acc; acc *= d[i] }
        return s
    }

    /// A tensor of `dims` whose element k is element `order[k]` of t (fixed-width dtypes only).
    func gather(_ t: Tensor, _ order: [Int], dims: [Int]) -> Tensor? {
        if case .strings = t.storage { return nil }
        guard let count = t.elementCount else { return nil }
        if count == 0 { return t.reshaped(dims) }
        // Fixed-width elements only (4-bit types pack two per byte).
        let size = t.byteCount / count
        guard size > 0, size * count == t.byteCount else { return nil }
        var out = [UInt8](repeating: 0, count: t.byteCount)
        t.withUnsafeBytes { src in
            for (k, s) in order.enumerated() {
                for b in 0..<size { out[k * size + b] = src[s * size + b] }
            }
        }
        var r = Tensor(unchecked: t.dtype, dims: dims, storage: .owned(out), name: t.name)
        r.docString = t.docString
        return r
    }

    // MARK: Report

    /// One note per Transpose left in the graph, with its reason, and a remark counting them.
    func report(_ g: Graph, _ context: inout PassContext) {
        var counts: [String: Int] = [:]
        var total = 0
        for (_, n) in g.liveNodes where n.isOp("Transpose") {
            guard let v = n.inputs.first ?? nil, let out = n.outputs.first ?? nil else { continue }
            total += 1
            let r = rank(v, g) ?? 0
            let perm: [Int] = { if case .ints(let p)? = n.attributes[named: "perm"] { return p.map { Int($0) } }; return [] }()
            let dims = staticDims(v, g)
            // Whether only size-1 axes move (the channel, or every spatial axis, is 1): the
            // bytes are already in the target order, a backend can treat it as a reshape.
            func movesOnlyOnes(channel c: Int) -> Bool {
                guard let dims, r >= 3 else { return false }
                return dims[c] == 1 || dims.indices.filter { $0 != 0 && $0 != c }.allSatisfy { dims[$0] == 1 }
            }
            var reason: String
            var category: String
            if r >= 3, perm == Self.toNHWC(r) {
                if g[value: v].isGraphInput {
                    reason = "graph input '\(g[value: v].name)' keeps the NCHW interface"; category = "at graph inputs"
                } else if let (_, p) = g.producer(of: v), Self.nchwOnly.contains(p.opType) {
                    reason = "after \(p.opType) '\(p.displayName)': ONNX \(p.opType) writes NCHW"; category = "after \(p.opType) (writes NCHW)"
                } else if let (_, p) = g.producer(of: v) {
                    reason = "after \(p.opType) '\(p.displayName)', which this pass does not convert"; category = "after \(p.opType) (not converted)"
                } else {
                    reason = "of '\(g[value: v].name)', which has no producer here"; category = "other"
                }
            } else if r >= 3, perm == Self.toNCHW(r) {
                let readers = g[value: out].uses.map { g[node: $0.node] }
                if g.isGraphOutput(out) {
                    reason = "graph output '\(g[value: out].name)' keeps the NCHW interface"; category = "at graph outputs"
                } else if let c = readers.first(where: { Self.nchwOnly.contains($0.opType) }) {
                    reason = "before \(c.opType) '\(c.displayName)': ONNX \(c.opType) reads NCHW"; category = "before \(c.opType) (reads NCHW)"
                } else if let c = readers.first {
                    reason = "before \(c.opType) '\(c.displayName)', which this pass does not convert (layout-sensitive)"
                    category = "before \(c.opType) (not converted)"
                } else {
                    reason = "unused"; category = "other"
                }
                if readers.count > 1 { reason += " and \(readers.count - 1) more reader(s)" }
            } else {
                reason = "from the source model (perm \(perm))"; category = "from the source model"
            }
            let free = r >= 3 && (perm == Self.toNHWC(r) ? movesOnlyOnes(channel: 1) : perm == Self.toNCHW(r) ? movesOnlyOnes(channel: r - 1) : false)
            let suffix = free ? " (moves only size-1 axes: a reshape in memory)" : ""
            context.note("\(name): Transpose '\(n.displayName)' \(dims.map { "\($0)" } ?? "") \(reason)\(suffix)")
            counts[category, default: 0] += 1
        }
        let parts = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        context.remark("\(name): \(total) Transpose node(s) remain" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")))
    }
}
