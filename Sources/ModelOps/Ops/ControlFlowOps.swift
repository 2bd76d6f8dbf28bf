import ModelIR

/// Control flow: If, Loop and Scan. Bodies run through `KernelContext.runSubgraph`, which
/// binds the given values to the body's graph inputs in order; bodies read outer values
/// by name.
///
/// - If: runs `then_branch` or `else_branch` by a one-element bool condition; the node's
///   outputs are the branch's outputs.
/// - Loop: inputs (M, cond, v...), body (iter, cond, v...) -> (cond, v..., scan...). Runs while
///   `iter < M` (M absent: unbounded) and the condition holds (cond absent: true at the
///   start); the body's condition output is read after every iteration. Outputs: the final
///   loop-carried values, then every scan output stacked along a new axis 0. With zero
///   iterations the carried values are the initial ones and each scan output is empty, shaped
///   `[0] + ` the body output's declared shape when static (else `[0]`).
/// - Scan 8: inputs (sequence_lens?, state..., scan...) with a batch axis 0 and the scan axis 1.
/// - Scan 9+: inputs (state..., scan...), `scan_input_axes`/`scan_input_directions`,
///   `scan_output_axes`/`scan_output_directions` (negative axes allowed from opset 11).
enum ControlFlowOps {
    static let schemas: [OpSchema] = [
        OpSchema("If", versions: [1, 11, 13, 16, 19, 21, 23, 24, 25]) { ctx in
            let cond = try ctx.tensor(0)
            guard cond.dtype == .bool, cond.elementCount == 1 else {
                throw OpError.invalid("cond must be a single bool, got \(cond.dtype)\(Shape(cond.dims))")
            }
            let taken = cond.elements(Bool.self)[0]
            let outputs = try ctx.runSubgraph(taken ? "then_branch" : "else_branch", 0, [])
            guard outputs.count >= ctx.outputCount else {
                throw OpError.invalid("\(taken ? "then" : "else") branch has \(outputs.count) outputs, the node has \(ctx.outputCount)")
            }
            return outputs
        },
        OpSchema("Loop", versions: [1, 11, 13, 16, 19, 21, 23, 24, 25], kernel: loop),
        OpSchema("Scan", versions: [8, 9, 11, 16, 19, 21, 23, 24, 25]) { ctx in
            ctx.opset < 9 ? try scan8(ctx) : try scan9(ctx)
        },
    ]

    /// The body graph of attribute `name`.
    static func body(_ ctx: KernelContext, _ name: String = "body") throws -> Graph {
        guard case .graph(let g)? = ctx.attribute(name) else { throw OpError.invalid("attribute '\(name)' (a graph) is required") }
        return g
    }

    /// An empty scan output for zero iterations: dtype and trailing dims from the body's
    /// declaration of output `index` (float32 and `[0]` when undeclared).
    static func emptyScanOutput(_ body: Graph, output index: Int, axis: Int = 0, prefix: [Int] = []) throws -> Tensor {
        var dtype = DType.float32
        var dims: [Int] = []
        if index < body.outputs.count, case .tensor(let d, let shape)? = body[value: body.outputs[index]].type {
            dtype = d
            dims = shape?.staticDims ?? []
        }
        let a = min(max(axis, 0), dims.count)
        dims.insert(0, at: a)
        return try SequenceOps.zeros(dtype: dtype, dims: prefix + dims)
    }

    // MARK: Loop

    @Sendable static func loop(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let graph = try body(ctx)
        var maxTrips: Int64? = nil
        if let m = ctx.optionalTensor(0) {
            guard let v = m.integers(), v.count == 1 else { throw OpError.invalid("M must be a single integer, got \(m.dtype)\(Shape(m.dims))") }
            maxTrips = Int64(v[0])
        }
        var cond = true
        if let c = ctx.optionalTensor(1) {
            guard c.dtype == .bool, c.elementCount == 1 else { throw OpError.invalid("cond must be a single bool, got \(c.dtype)\(Shape(c.dims))") }
            cond = c.elements(Bool.self)[0]
        }
        var carried: [RuntimeValue] = []
        for i in 2..<max(2, ctx.inputCount) {
            guard let v = ctx.inputs[i] else { throw OpError.invalid("loop-carried input \(i) is absent") }
            carried.append(v)
        }
        let n = carried.count
        guard graph.inputs.count == n + 2 else {
            throw OpError.invalid("body has \(graph.inputs.count) inputs, expected \(n + 2) (iteration, condition, \(n) carried)")
        }
        guard graph.outputs.count >= n + 1 else {
            throw OpError.invalid("body has \(graph.outputs.count) outputs, expected at least \(n + 1)")
        }
        let k = graph.outputs.count - 1 - n
        var scans: [[Tensor]] = Array(repeating: [], count: k)
        var iteration: Int64 = 0
        while cond, maxTrips.map({ iteration < $0 }) ?? true {
            let outs = try ctx.runSubgraph("body", 0, [.tensor(.scalar(iteration)), .tensor(.scalar(cond))] + carried)
            guard outs.count == graph.outputs.count else { throw OpError.invalid("body returned \(outs.count) outputs") }
            guard let c = outs[0].tensor, c.dtype == .bool, c.elementCount == 1 else {
                throw OpError.invalid("body condition output must be a single bool, got \(outs[0].typeDescription)")
            }
            cond = c.elements(Bool.self)[0]
            carried = Array(outs[1..<(1 + n)])
            for j in 0..<k {
                guard let t = outs[1 + n + j].tensor else { throw OpError.invalid("scan output \(j) is \(outs[1 + n + j].typeDescription), expected a tensor") }
                if let first = scans[j].first, first.dims != t.dims || first.dtype != t.dtype {
                    throw OpError.invalid("scan output \(j) changed from \(first.dtype)\(Shape(first.dims)) to \(t.dtype)\(Shape(t.dims)) at iteration \(iteration)")
                }
                scans[j].append(t)
            }
            iteration += 1
        }
        var results = carried
        for j in 0..<k {
            if scans[j].isEmpty {
                results.append(.tensor(try emptyScanOutput(graph, output: 1 + n + j)))
            } else {
                results.append(.tensor(try SequenceOps.stack(scans[j], axis: 0)))
            }
        }
        return results
    }

    // MARK: Scan

    /// Scan 9+: no batch axis; per-input scan axes and directions.
    static func scan9(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let graph = try body(ctx)
        guard let m = ctx.int("num_scan_inputs"), m >= 1, m <= ctx.inputCount else {
            throw OpError.invalid("num_scan_inputs must be in 1...\(ctx.inputCount), got \(ctx.int("num_scan_inputs").map(String.init) ?? "none")")
        }
        let n = ctx.inputCount - m
        let states: [RuntimeValue] = try (0..<n).map { i in
            guard let v = ctx.inputs[i] else { throw OpError.invalid("state input \(i) is absent") }
            return v
        }
        let scanInputs = try (0..<m).map { try ctx.tensor(n + $0) }
        let inAxes = ctx.ints("scan_input_axes") ?? Array(repeating: 0, count: m)
        let inDirs = ctx.ints("scan_input_directions") ?? Array(repeating: 0, count: m)
        guard inAxes.count == m, inDirs.count == m else {
            throw OpError.invalid("scan_input_axes/directions need \(m) entries, got \(inAxes.count)/\(inDirs.count)")
        }
        guard graph.outputs.count >= n, graph.inputs.count == n + m else {
            throw OpError.invalid("body has \(graph.inputs.count) inputs and \(graph.outputs.count) outputs for \(n) states and \(m) scan inputs")
        }
        let k = graph.outputs.count - n
        let outAxes = ctx.ints("scan_output_axes") ?? Array(repeating: 0, count: k)
        let outDirs = ctx.ints("scan_output_directions") ?? Array(repeating: 0, count: k)
        guard outAxes.count == k, outDirs.count == k else {
            throw OpError.invalid("scan_output_axes/directions need \(k) entries, got \(outAxes.count)/\(outDirs.count)")
        }
        var axes: [Int] = []
        var length = -1
        for (i, t) in scanInputs.enumerated() {
            let a = try SequenceOps.normalizedAxis(inAxes[i], rank: t.dims.count, name: "scan_input_axes[\(i)]")
            axes.append(a)
            if length < 0 { length = t.dims[a] }
            guard t.dims[a] == length else {
                throw OpError.invalid("scan input \(i) has \(t.dims[a]) steps along axis \(a), scan input 0 has \(length)")
            }
        }
        var state = states
        var scans: [[Tensor]] = Array(repeating: [], count: k)
        for step in 0..<length {
            var feeds = state
            for (i, t) in scanInputs.enumerated() {
                let at = inDirs[i] == 1 ? length - 1 - step : step
                var s = try SequenceOps.slice(t, axis: axes[i], start: at, length: 1)
                s.dims.remove(at: axes[i])
                feeds.append(.tensor(s))
            }
            let outs = try ctx.runSubgraph("body", 0, feeds)
            guard outs.count == n + k else { throw OpError.invalid("body returned \(outs.count) outputs, expected \(n + k)") }
            state = Array(outs[0..<n])
            for j in 0..<k {
                guard let t = outs[n + j].tensor else { throw OpError.invalid("scan output \(j) is \(outs[n + j].typeDescription)") }
                scans[j].append(t)
            }
        }
        var results = state
        for j in 0..<k {
            guard let first = scans[j].first else {
                let decl = graph.outputs.count > n + j ? graph[value: graph.outputs[n + j]].type?.tensorShape?.rank ?? 0 : 0
                let a = outAxes[j] < 0 ? outAxes[j] + decl + 1 : outAxes[j]
                results.append(.tensor(try emptyScanOutput(graph, output: n + j, axis: a)))
                continue
            }
            let axis = try SequenceOps.normalizedAxis(outAxes[j], rank: first.dims.count + 1, name: "scan_output_axes[\(j)]")
            let ordered = outDirs[j] == 1 ? Array(scans[j].reversed()) : scans[j]
            results.append(.tensor(try SequenceOps.stack(ordered, axis: axis)))
        }
        return results
    }

    /// Scan 8: a batch axis 0 on every input and output, the scan axis 1, optional per-batch
    /// `sequence_lens` (scan outputs past a batch entry's length are zero).
    static func scan8(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let graph = try body(ctx)
        guard let m = ctx.int("num_scan_inputs"), m >= 1, m < ctx.inputCount else {
            throw OpError.invalid("num_scan_inputs must be in 1..<\(ctx.inputCount), got \(ctx.int("num_scan_inputs").map(String.init) ?? "none")")
        }
        let n = ctx.inputCount - 1 - m
        let states = try (0..<n).map { try ctx.tensor(1 + $0) }
        let scanInputs = try (0..<m).map { try ctx.tensor(1 + n + $0) }
        let dirs = ctx.ints("directions") ?? Array(repeating: 0, count: m)
        guard dirs.count == m else { throw OpError.invalid("directions needs \(m) entries, got \(dirs.count)") }
        guard graph.inputs.count == n + m, graph.outputs.count >= n else {
            throw OpError.invalid("body has \(graph.inputs.count) inputs and \(graph.outputs.count) outputs for \(n) states and \(m) scan inputs")
        }
        let k = graph.outputs.count - n
        guard let batch = (states.first ?? scanInputs.first)?.dims.first else { throw OpError.invalid("inputs need a batch axis") }
        for t in states + scanInputs where t.dims.first != batch {
            throw OpError.invalid("every input needs batch size \(batch), got \(t.dims)")
        }
        for t in scanInputs where t.dims.count < 2 {
            throw OpError.invalid("scan inputs need [batch, sequence, ...], got \(t.dims)")
        }
        let maxLength = scanInputs[0].dims[1]
        for t in scanInputs where t.dims[1] != maxLength {
            throw OpError.invalid("scan inputs disagree on the sequence length: \(scanInputs[0].dims) and \(t.dims)")
        }
        if batch == 0 {
            var results = states.map { RuntimeValue.tensor($0) }
            for j in 0..<k {
                let empty = try emptyScanOutput(graph, output: n + j)
                results.append(.tensor(try SequenceOps.zeros(dtype: empty.dtype, dims: [0, maxLength] + empty.dims.dropFirst())))
            }
            return results
        }
        var lengths = Array(repeating: maxLength, count: batch)
        if let sl = ctx.optionalTensor(0) {
            guard let v = sl.integers(), v.count == batch, v.allSatisfy({ $0 >= 0 && $0 <= maxLength }) else {
                throw OpError.invalid("sequence_lens must hold \(batch) lengths in 0...\(maxLength)")
            }
            lengths = v
        }
        var finalStates: [[Tensor]] = Array(repeating: [], count: n)
        var scanOutputs: [[Tensor]] = Array(repeating: [], count: k)
        for b in 0..<batch {
            var state: [RuntimeValue] = try states.map { t in
                var s = try SequenceOps.slice(t, axis: 0, start: b, length: 1)
                s.dims.removeFirst()
                return .tensor(s)
            }
            let rows = try scanInputs.map { t -> Tensor in
                var s = try SequenceOps.slice(t, axis: 0, start: b, length: 1)
                s.dims.removeFirst()
                return s
            }
            var steps: [[Tensor]] = Array(repeating: [], count: k)
            let len = lengths[b]
            for step in 0..<len {
                var feeds = state
                for (i, row) in rows.enumerated() {
                    let at = dirs[i] == 1 ? len - 1 - step : step
                    var s = try SequenceOps.slice(row, axis: 0, start: at, length: 1)
                    s.dims.removeFirst()
                    feeds.append(.tensor(s))
                }
                let outs = try ctx.runSubgraph("body", 0, feeds)
                guard outs.count == n + k else { throw OpError.invalid("body returned \(outs.count) outputs, expected \(n + k)") }
                state = Array(outs[0..<n])
                for j in 0..<k {
                    guard let t = outs[n + j].tensor else { throw OpError.invalid("scan output \(j) is \(outs[n + j].typeDescription)") }
                    steps[j].append(t)
                }
            }
            for i in 0..<n {
                guard let t = state[i].tensor else { throw OpError.invalid("state \(i) is \(state[i].typeDescription)") }
                finalStates[i].append(t)
            }
            for j in 0..<k {
                guard let first = steps[j].first else {
                    scanOutputs[j].append(try emptyScanOutput(graph, output: n + j))
                    continue
                }
                var padded = steps[j]
                if len < maxLength {
                    let z = try SequenceOps.zeros(dtype: first.dtype, dims: first.dims)
                    padded += Array(repeating: z, count: maxLength - len)
                }
                scanOutputs[j].append(try SequenceOps.stack(padded, axis: 0))
            }
        }
        var results: [RuntimeValue] = []
        for i in 0..<n { results.append(.tensor(try SequenceOps.stack(finalStates[i], axis: 0))) }
        for j in 0..<k {
            // Batch entries of length 0 got [0, ...] placeholders: pad them to the others' shape.
            let full = scanOutputs[j].first(where: { $0.dims.first == maxLength }) ?? scanOutputs[j][0]
            let parts = try scanOutputs[j].map { t in t.dims == full.dims ? t : try SequenceOps.zeros(dtype: full.dtype, dims: full.dims) }
            results.append(.tensor(try SequenceOps.stack(parts, axis: 0)))
        }
        return results
    }
}
