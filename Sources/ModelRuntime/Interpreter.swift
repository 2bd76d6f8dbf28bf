import Dispatch
import ModelIR
import ModelOps
#if canImport(Glibc)
import Glibc
#endif

/// Options for one run.
public struct RunOptions: Sendable {
    /// Threads kernels may use; default: every core.
    public var threads: Int = Interpreter.coreCount
    /// Keep every intermediate value (for `--outputs all` and per-layer parity).
    public var keepIntermediates = false
    /// Time each op type and track peak tensor memory.
    public var collectStats = false
    /// Record the dtype and dims of every tensor the main graph computes (`RunResult.types`)
    /// without keeping the tensors: each is still freed after its last use, so memory stays
    /// that of a normal run. Mapped weights are read once in such a dry run, so their pages
    /// are given back after their last use too (`Tensor.releaseResidentPages`). For shape
    /// inference.
    public var recordTypes = false

    public init() {}
}

/// A value the run computed, with the node that produced it.
public struct ComputedValue: Sendable {
    public let name: String
    /// The producing node's name ("" for graph inputs and initializers).
    public let node: String
    /// The producing node's provenance (source node names).
    public let provenance: [String]
    public let value: RuntimeValue
}

/// The type of one value the run computed (with `RunOptions.recordTypes`).
public struct ComputedType: Sendable, Equatable {
    /// The value's name in the main graph.
    public let name: String
    public let dtype: DType
    public let dims: [Int]

    public init(name: String, dtype: DType, dims: [Int]) {
        self.name = name
        self.dtype = dtype
        self.dims = dims
    }
}

/// Per-run statistics (with `RunOptions.collectStats`).
public struct RunStats: Sendable {
    /// Seconds and calls per op type.
    public var timeByOp: [String: (seconds: Double, calls: Int)] = [:]
    /// The most bytes of computed tensors alive at once (weights not counted).
    public var peakActivationBytes = 0
}

/// What one run returns.
public struct RunResult: Sendable {
    /// The graph outputs, in the model's order.
    public var outputs: [(name: String, value: RuntimeValue)]
    /// Every value computed, in execution order (only with `keepIntermediates`).
    public var intermediates: [ComputedValue]
    /// The dtype and dims of every tensor the main graph computed, in execution order (only
    /// with `recordTypes`).
    public var types: [ComputedType]
    public var stats: RunStats
}

/// The reference interpreter: runs a model's graph node by node in its topological order,
/// each node through its op's kernel from `OpRegistry`, freeing each intermediate after its
/// last use. Weights are used in place (mapped initializers are not copied).
public final class Interpreter: @unchecked Sendable {
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public let model: Model
    let plan: GraphPlan

    /// Prepares `model`: resolves every node's kernel (subgraphs included). Throws
    /// `RuntimeError.unknownOp` naming the first node whose op is not supported.
    public init(model: Model) throws(RuntimeError) {
        self.model = model
        GEMM.load()
        var graph = model.graph
        graph.sortTopologically()
        var opsets: [String: Int] = [:]
        for o in model.opsetImports { opsets[o.domain == "ai.onnx" ? "" : o.domain] = Int(o.version) }
        plan = try GraphPlan(graph, opsets: opsets)
    }

    /// Runs the model on `inputs` (by graph input name). Inputs with initializers may be
    /// omitted (their initializer is the default). Throws naming the input or node at fault.
    public func run(_ inputs: [String: RuntimeValue], options: RunOptions = RunOptions()) throws(RuntimeError) -> RunResult {
        var state = RunState(options: options)
        let outputs = try plan.execute(inputs: inputs, outer: nil, state: &state, checkInputs: true)
        return RunResult(outputs: zip(plan.graph.outputs, outputs).map { (plan.graph[value: $0].name, $1) },
                         intermediates: state.intermediates, types: state.types, stats: state.stats)
    }
}

/// Mutable state of one run, shared by the main graph and its subgraphs.
struct RunState {
    let options: RunOptions
    var intermediates: [ComputedValue] = []
    var types: [ComputedType] = []
    var stats = RunStats()
    var liveBytes = 0
}

/// Values visible to a (sub)graph: its own slots, then its enclosing graphs' by name.
final class Scope {
    let plan: GraphPlan
    var slots: [RuntimeValue?]
    let outer: Scope?

    init(plan: GraphPlan, outer: Scope?) {
        self.plan = plan
        self.slots = [RuntimeValue?](repeating: nil, count: plan.graph.values.count)
        self.outer = outer
    }

    func lookup(_ name: String) -> RuntimeValue? {
        if let id = plan.graph.valueID(named: name), let v = slots[Int(id.index)] { return v }
        return outer?.lookup(name)
    }
}

/// A graph prepared for execution: kernels resolved, last uses computed, subgraphs planned.
final class GraphPlan: @unchecked Sendable {
    struct Step {
        let node: Node
        let nodeID: NodeID
        let schema: OpSchema
        let opset: Int
        /// Values whose last use is this step (freed after it).
        var frees: [ValueID]
        /// Initializers whose last use is this step (their pages are given back after it in a
        /// `recordTypes` dry run).
        var lastReads: [ValueID] = []
        /// Plans of the node's subgraph attributes, by attribute name (one per graph).
        var subplans: [String: [GraphPlan]]
        /// The node with a residual Add and/or activation fused into its epilogue
        /// (`EpilogueFusion`), run instead of `node` unless the run keeps intermediates.
        var fusedNode: Node? = nil
        /// Whether the output may carry a fused epilogue (checked after the kernel runs).
        var isFusionHead = false
        /// For an Add or activation computed in a Conv's epilogue: the input passed through
        /// when it carries the epilogue.
        var aliasInput: Int? = nil
    }

    let graph: Graph
    var steps: [Step] = []
    init(_ graph: Graph, opsets: [String: Int]) throws(RuntimeError) {
        self.graph = graph
        var lastUse: [ValueID: Int] = [:]
        for (position, (id, node)) in graph.liveNodes.enumerated() {
            let domain = node.domain == "ai.onnx" ? "" : node.domain
            let opset = opsets[domain] ?? 1
            guard let schema = OpRegistry.schema(domain: domain, opType: node.opType), schema.supports(opset: opset) else {
                throw .unknownOp(op: node.opType, domain: domain, opset: opset, node: node.displayName)
            }
            var subplans: [String: [GraphPlan]] = [:]
            for attr in node.attributes where !attr.subgraphs.isEmpty {
                var plans: [GraphPlan] = []
                for sub in attr.subgraphs {
                    var sorted = sub
                    sorted.sortTopologically()
                    plans.append(try GraphPlan(sorted, opsets: opsets))
                    // Outer values a body reads stay alive until this node has run.
                    for name in sorted.outerReferenceNames {
                        if let v = graph.valueID(named: name) { lastUse[v] = position }
                    }
                }
                subplans[attr.name] = plans
            }
            for case let input? in node.inputs { lastUse[input] = position }
            steps.append(Step(node: node, nodeID: id, schema: schema, opset: opset, frees: [], subplans: subplans))
        }
        let fusion = EpilogueFusion.plan(graph, steps: steps)
        for (i, node) in fusion.fusedNodes { steps[i].fusedNode = node }
        for i in fusion.heads { steps[i].isFusionHead = true }
        for (i, k) in fusion.aliases { steps[i].aliasInput = k }
        let kept = Set(graph.outputs)
        for (value, position) in lastUse where !kept.contains(value) {
            if graph[value: value].initializer == nil {
                steps[position].frees.append(value)
            } else {
                steps[position].lastReads.append(value)
            }
        }
    }

    func execute(inputs: [String: RuntimeValue], outer: Scope?, state: inout RunState,
                 checkInputs: Bool) throws(RuntimeError) -> [RuntimeValue] {
        let scope = Scope(plan: self, outer: outer)
        for id in graph.initializers {
            if let t = graph[value: id].initializer { scope.slots[Int(id.index)] = .tensor(t) }
        }
        var known = Set<String>()
        for id in graph.inputs {
            let v = graph[value: id]
            known.insert(v.name)
            if let given = inputs[v.name] {
                if checkInputs { try Self.check(given, against: v) }
                scope.slots[Int(id.index)] = given
            } else if v.initializer == nil {
                throw .missingInput(name: v.name)
            }
        }
        if checkInputs, let extra = inputs.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unknownInput(name: extra)
        }
        let clock = ContinuousClock()
        let fuse = !state.options.keepIntermediates
        var fusedValues = Set<ValueID>()  // values that carry a fused epilogue in this run
        for step in steps {
            let node = fuse ? step.fusedNode ?? step.node : step.node
            var args: [RuntimeValue?] = []
            args.reserveCapacity(node.inputs.count)
            for input in node.inputs {
                guard let input else { args.append(nil); continue }
                if let v = scope.slots[Int(input.index)] {
                    args.append(v)
                } else if graph[value: input].isOuterReference, let v = outer?.lookup(graph[value: input].name) {
                    args.append(v)
                } else {
                    throw .missingValue(name: graph[value: input].name, node: node.displayName)
                }
            }
            let options = state.options
            let context: KernelContext
            var box: StateBox? = nil
            if step.subplans.isEmpty {
                context = KernelContext(node: node, opset: step.opset, inputs: args, threads: options.threads)
            } else {
                // Subgraph runs share the run's state through this box.
                let shared = StateBox(state)
                box = shared
                context = KernelContext(node: node, opset: step.opset, inputs: args, threads: options.threads) {
                    name, index, subInputs in
                    guard let plans = step.subplans[name], index < plans.count else {
                        throw OpError.invalid("no subgraph attribute '\(name)'")
                    }
                    let plan = plans[index]
                    var bound: [String: RuntimeValue] = [:]
                    for (k, id) in plan.graph.inputs.enumerated() where k < subInputs.count {
                        bound[plan.graph[value: id].name] = subInputs[k]
                    }
                    return try plan.execute(inputs: bound, outer: scope, state: &shared.state, checkInputs: false)
                }
            }
            let start = options.collectStats ? clock.now : nil
            let results: [RuntimeValue]
            do {
                if fuse, let k = step.aliasInput, let v = node.inputs[k], fusedValues.contains(v), let x = args[k] {
                    results = [x]
                    if let out = node.outputs.first ?? nil { fusedValues.insert(out) }
                } else {
                    results = try step.schema.kernel(context)
                    if fuse, step.isFusionHead, let out = node.outputs.first ?? nil, let y = results.first,
                       EpilogueFusion.applied(node, args: args, output: y) {
                        fusedValues.insert(out)
                    }
                }
            } catch let e as RuntimeError {
                throw e
            } catch {
                throw .kernel(node: node.displayName, op: node.opType, error: "\(error)")
            }
            if let box {
                state = box.state
                box.state = RunState(options: options)  // drop the box's copy: appends stay O(1)
            }
            if let start {
                let d = clock.now - start
                let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                state.stats.timeByOp[node.opType, default: (0, 0)].seconds += seconds
                state.stats.timeByOp[node.opType, default: (0, 0)].calls += 1
            }
            for (k, out) in node.outputs.enumerated() {
                guard let out else { continue }
                guard k < results.count else {
                    throw .kernel(node: node.displayName, op: node.opType, error: "kernel returned \(results.count) outputs, output \(k) is needed")
                }
                scope.slots[Int(out.index)] = results[k]
                if options.collectStats { state.liveBytes += Self.bytes(results[k]) }
                if options.keepIntermediates {
                    state.intermediates.append(ComputedValue(name: graph[value: out].name, node: node.displayName,
                                                             provenance: node.provenance, value: results[k]))
                }
                if options.recordTypes, outer == nil, let t = results[k].tensor {
                    state.types.append(ComputedType(name: graph[value: out].name, dtype: t.dtype, dims: t.dims))
                }
            }
            if options.recordTypes, outer == nil {  // not in bodies: a Loop reads its weights again
                for id in step.lastReads { graph[value: id].initializer?.releaseResidentPages() }
            }
            if options.collectStats { state.stats.peakActivationBytes = max(state.stats.peakActivationBytes, state.liveBytes) }
            for id in step.frees {
                if options.collectStats, let v = scope.slots[Int(id.index)], graph[value: id].producer != nil {
                    state.liveBytes -= Self.bytes(v)
                }
                scope.slots[Int(id.index)] = nil
            }
        }
        var outputs: [RuntimeValue] = []
        for id in graph.outputs {
            let v = graph[value: id]
            guard let value = scope.slots[Int(id.index)] ?? outer?.lookup(v.name) else {
                throw .missingValue(name: v.name, node: "graph output")
            }
            outputs.append(value)
        }
        return outputs
    }

    static func bytes(_ v: RuntimeValue) -> Int {
        switch v {
        case .tensor(let t): return t.isMapped ? 0 : t.byteCount
        case .sequence(let ts): return ts.reduce(0) { $0 + $1.byteCount }
        case .none: return 0
        }
    }

    /// Checks a given input against the graph's declaration: dtype, rank, known dims.
    static func check(_ given: RuntimeValue, against v: Value) throws(RuntimeError) {
        guard case .tensor(let dtype, let shape)? = v.type, let t = given.tensor else { return }
        let expected = "\(dtype)\(shape.map(\.description) ?? "[*]")"
        let actual = "\(t.dtype)\(Shape(t.dims))"
        guard t.dtype == dtype else { throw .inputMismatch(name: v.name, expected: expected, actual: actual) }
        guard let shape else { return }
        guard shape.rank == t.dims.count else { throw .inputMismatch(name: v.name, expected: expected, actual: actual) }
        for (d, n) in zip(shape.dims, t.dims) {
            if let k = d.value, k != n { throw .inputMismatch(name: v.name, expected: expected, actual: actual) }
        }
    }
}

/// Lets the subgraph closure update the run's state.
final class StateBox {
    var state: RunState
    init(_ state: RunState) { self.state = state }
}
