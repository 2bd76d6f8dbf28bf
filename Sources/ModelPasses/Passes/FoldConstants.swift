import ModelIR
import ModelOps
import ModelONNX

/// `fold-constants`: a node whose inputs are all constants becomes an initializer, computed
/// by the interpreter's own kernel (one truth per op). Constant nodes become initializers;
/// `Shape`/`Size` of a value whose shape is static become constants.
///
/// ```
/// before:  %s = Constant() {value=tensor<int64[2]>} <- c
///          %t = Concat(%s, %s) {axis=0} <- cat
///          %y = Reshape(%x, %t) <- r
/// after:   %t = initializer int64[4]
///          %y = Reshape(%x, %t) <- r
/// ```
/// Never bloats the model: a folded tensor larger than `PassOptions.foldLimitBytes` is kept
/// only if it is no larger than the constants it is computed from. Random ops, ops with
/// subgraphs and ops outside the registry are left alone.
public struct FoldConstants: GraphPass {
    public let name = "fold-constants"
    public let summary = "op(constants) -> constant, by the op's kernel"

    static let nondeterministic: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    ]

    public init() {}

    /// Folds, then re-infers shapes (newly constant shape inputs make more shapes static,
    /// which makes more `Shape` nodes foldable), until nothing changes. Folding keeps every
    /// value's shape, so once every shape is static (as after infer-shapes' dry run on a static
    /// model), or after one dry run here, the later rounds only fold.
    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var total = 0
        var complete = InferShapes.allShapesStatic(model.graph)
        for round in 0..<64 {
            let folded = try foldOnce(&model, &context)
            total += folded
            guard folded > 0 else { break }
            if complete { continue }
            // libonnx infers one more level of Shape -> ... -> Reshape chains per round; a
            // deep model (transformers) needs many. From the third round, when the inputs are
            // static, one interpreter run gives every shape that can be known.
            if round >= 2, InferShapes.inferByRunning(&model) == nil { complete = true; continue }
            if case .notChecked = ONNXChecker.inferShapes(&model) {
                complete = InferShapes.inferByRunning(&model) == nil
            }
            complete = complete || InferShapes.allShapesStatic(model.graph)
        }
        return total
    }

    func foldOnce(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var g = model.graph
        var opsets: [String: Int] = [:]
        for o in model.opsetImports { opsets[o.domain == "ai.onnx" ? "" : o.domain] = Int(o.version) }
        var folded = 0
        for id in g.order {
            guard g.nodes[Int(id.index)] != nil else { continue }
            let node = g[node: id]
            let domain = node.domain == "ai.onnx" ? "" : node.domain
            guard domain.isEmpty, !Self.nondeterministic.contains(node.opType), node.subgraphs.isEmpty else { continue }
            if node.outputs.contains(where: { $0.map { !context.isReplaceable($0, in: g) } ?? false }) { continue }
            if let shape = staticShapeFold(node, g) {
                g.makeConstant(node.outputs[0]!, shape)
                folded += 1
                continue
            }
            var inputs: [RuntimeValue?] = []
            var inputBytes = 0
            var allConstant = true
            for input in node.inputs {
                guard let input else { inputs.append(nil); continue }
                guard let t = g.constant(input) else { allConstant = false; break }
                inputs.append(.tensor(t))
                inputBytes += t.byteCount
            }
            guard allConstant, let schema = OpRegistry.schema(domain: domain, opType: node.opType),
                  schema.supports(opset: opsets[domain] ?? 1) else { continue }
            let results: [RuntimeValue]
            do {
                results = try schema.kernel(KernelContext(node: node, opset: opsets[domain] ?? 1, inputs: inputs, threads: 1))
            } catch {
                context.note("\(name): \(node.displayName): kernel failed: \(error)")
                continue
            }
            var tensors: [(ValueID, Tensor)] = []
            for (k, out) in node.outputs.enumerated() {
                guard let out else { continue }
                guard k < results.count, let t = results[k].tensor else { tensors = []; break }
                tensors.append((out, t))
            }
            guard !tensors.isEmpty else { continue }
            let outBytes = tensors.reduce(0) { $0 + $1.1.byteCount }
            if outBytes > max(context.options.foldLimitBytes, inputBytes) {
                context.note("\(name): \(node.displayName): result of \(outBytes) bytes exceeds the fold limit")
                continue
            }
            for (out, t) in tensors { g.makeConstant(out, t.spilled()) }
            for case .tensor(let t)? in inputs { t.releaseResidentPages() }  // read once
            folded += 1
        }
        g.removeUnusedInitializers(keeping: context.subgraphReads)
        model.graph = g
        return folded
    }

    /// `Shape(x)` / `Size(x)` when x's declared shape is fully static.
    func staticShapeFold(_ node: Node, _ g: Graph) -> Tensor? {
        guard node.isOp("Shape") || node.isOp("Size"), let x = node.inputs.first ?? nil,
              g.constant(x) == nil, let dims = g[value: x].type?.tensorShape?.staticDims,
              node.outputs.first ?? nil != nil else { return nil }
        if node.isOp("Size") { return Tensor.scalar(Int64(dims.reduce(1, *))) }
        let rank = dims.count
        func clamp(_ v: Int) -> Int { let a = v < 0 ? v + rank : v; return min(max(a, 0), rank) }
        var start = 0, end = rank
        if case .int(let s)? = node.attributes[named: "start"] { start = clamp(Int(s)) }
        if case .int(let e)? = node.attributes[named: "end"] { end = clamp(Int(e)) }
        let slice = start < end ? Array(dims[start..<end]) : []
        return Tensor.of(slice.map { Int64($0) })
    }
}
