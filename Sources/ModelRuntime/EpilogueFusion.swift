import ModelIR
import ModelOps

/// What the interpreter computes inside a convolution's epilogue, as onnxruntime's Conv
/// fusions do: a residual `Add(Conv(x), r)` and then `Relu` or `Clip` with constant bounds,
/// when each intermediate has no other reader and is not a graph output.
///
/// ```
/// graph:   %c = Conv(%x, %w, %b)       plan:  Conv(%x, %w, %b, %r) [fused_add, fused_activation=Relu]
///          %s = Add(%c, %r)                   Add  -> passes %c through
///          %y = Relu(%s)                      Relu -> passes %s through
/// ```
/// The Conv step runs a copy of its node carrying the annotations (and the residual as a
/// fourth input); the Add and activation steps become aliases of their input. The residual
/// must be available when the Conv runs (computed earlier in the schedule) and is not a
/// constant (a constant operand is a bias, for the `fuse-conv-add` pass).
///
/// After that, a chain of elementwise nodes with float32 scalar constants, each the only
/// reader of the value before it: `Add`, `Sub`, `Mul`, `Div` (either operand the constant),
/// `Relu`, `Clip` with constant bounds, and the hard-swish an opset below 14 spells out,
/// `Div(Mul(c, Clip(Add(c, 3), 0, 6)), 6)` (any constants; `Mul` instead of `Div`), where
/// `c` has exactly those two readers. PP-OCR's backbone follows each Conv with
/// `Mul(s) Add(b)`, that hard-swish and `Mul(s2) Add(b2)`: eight passes over the output
/// become steps of the Conv's epilogue (`fused_epilogue_ops`, an `EpilogueProgram`), one
/// float operation per step and element in the nodes' order, so the result is bit for bit
/// the one the nodes give.
///
/// The fusion is decided again at run time, per value: a Conv step's output counts as fused
/// when the kernel did apply the epilogue (float32 output; with a residual, a float32 one of
/// exactly the output's dims: `fusedResidualFits`), and an alias step passes its input
/// through only when that input counts as fused; otherwise the step runs its own kernel.
/// Runs that keep every intermediate use the unfused nodes, so each value is the one the
/// graph defines.
enum EpilogueFusion {
    struct Plan {
        /// Conv steps to run with an annotated copy of their node.
        var fusedNodes: [Int: Node] = [:]
        /// Steps whose output may carry a fused epilogue (the Conv at the head of a chain).
        var heads: Set<Int> = []
        /// Alias steps and the input each passes through.
        var aliases: [Int: Int] = [:]
    }

    static func plan(_ graph: Graph, steps: [GraphPlan.Step]) -> Plan {
        var plan = Plan()
        var position: [NodeID: Int] = [:]
        for (i, s) in steps.enumerated() { position[s.nodeID] = i }
        let outputs = Set(graph.outputs)
        /// The Conv step whose epilogue computes a value, and what the chain holds so far.
        var head: [ValueID: Int] = [:]
        var hasAdd = Set<Int>(), hasActivation = Set<Int>()

        func isDefault(_ n: Node) -> Bool { n.domain == "" || n.domain == "ai.onnx" }
        /// A value only the next step of its chain reads.
        func chainable(_ v: ValueID) -> Int? {
            guard !outputs.contains(v), graph[value: v].uses.count == 1 else { return nil }
            return head[v]
        }
        func node(_ j: Int) -> Node { plan.fusedNodes[j] ?? steps[j].node }
        /// The step computing `v` (-1: available before any step; nil: a constant).
        func availableAfter(_ v: ValueID) -> Int? {
            let value = graph[value: v]
            if value.initializer != nil { return nil }
            guard let p = value.producer else { return -1 }
            guard let s = position[p] else { return nil }
            return steps[s].node.opType == "Constant" ? nil : s
        }

        func scalar(_ v: ValueID?, maxRank: Int = .max) -> Float? {
            constantScalar(v, graph: graph, steps: steps, position: position, maxRank: maxRank)
        }
        /// The only step reading `v` (not a graph output), and the input index it reads it at.
        func soleReader(_ v: ValueID) -> (step: Int, input: Int)? {
            let value = graph[value: v]
            guard !outputs.contains(v), value.uses.count == 1, let u = value.uses.first, let s = position[u.node] else { return nil }
            return (s, u.input)
        }
        /// `Add(c, a) -> Clip(lo, hi) -> Mul(c, .) -> Div(., d) | Mul(., m)` from the Add at step
        /// `i`, with c a chain value read only by that Add and Mul: the Conv step, the steps, the
        /// alias steps (each with the input it passes through), and the value it computes.
        func hardSwishChain(at i: Int) -> (conv: Int, steps: [EpilogueStep], aliases: [(Int, Int)], output: ValueID)? {
            let add = steps[i].node
            guard let a0 = add.inputs[0], let a1 = add.inputs[1] else { return nil }
            let (c, k, addend): (ValueID, Int, Float)
            if let v = scalar(a1) { (c, k, addend) = (a0, 0, v) } else if let v = scalar(a0) { (c, k, addend) = (a1, 1, v) } else { return nil }
            guard !outputs.contains(c), let j = head[c], graph[value: c].uses.count == 2, let added = add.outputs.first ?? nil,
                  let (clipStep, clipInput) = soleReader(added), clipInput == 0 else { return nil }
            let clip = steps[clipStep].node
            guard isDefault(clip), clip.opType == "Clip", let clipped = clip.outputs.first ?? nil,
                  let (lo, hi) = clipBounds(clip, opset: steps[clipStep].opset, graph: graph, steps: steps, position: position),
                  lo <= hi, let (mulStep, mulInput) = soleReader(clipped) else { return nil }
            let mul = steps[mulStep].node
            guard isDefault(mul), mul.opType == "Mul", steps[mulStep].opset >= 7, mul.inputs.count == 2,
                  mul.inputs[1 - mulInput] == c, let product = mul.outputs.first ?? nil,
                  let (lastStep, lastInput) = soleReader(product), lastInput == 0 else { return nil }
            let last = steps[lastStep].node
            guard isDefault(last), last.inputs.count == 2, steps[lastStep].opset >= 7, let d = scalar(last.inputs[1]) else { return nil }
            let final: EpilogueStep
            switch last.opType {
            case "Div": final = .div(d)
            case "Mul": final = .mul(d)
            default: return nil
            }
            // Steps run in order: the Conv, then the Add, Clip, Mul and the last op after it.
            guard j < i, i < clipStep, clipStep < mulStep, mulStep < lastStep, let out = last.outputs.first ?? nil else { return nil }
            return (j, [.save, .add(addend), .clip(lo, hi), .mulSaved, final],
                    [(i, k), (clipStep, 0), (mulStep, mulInput), (lastStep, 0)], out)
        }
        /// `Add`/`Sub`/`Mul`/`Div` of a chain value and a scalar constant that leaves the value's
        /// shape alone: the Conv step, the step, and the input the alias passes through.
        func scalarStep(_ n: Node) -> (conv: Int, step: EpilogueStep, input: Int)? {
            guard let a0 = n.inputs[0], let a1 = n.inputs[1] else { return nil }
            if let j = chainable(a0), let k = scalar(a1, maxRank: 3) {
                switch n.opType {
                case "Add": return (j, .add(k), 0)
                case "Sub": return (j, .sub(k), 0)
                case "Mul": return (j, .mul(k), 0)
                case "Div": return (j, .div(k), 0)
                default: return nil
                }
            }
            if let j = chainable(a1), let k = scalar(a0, maxRank: 3) {
                switch n.opType {
                case "Add": return (j, .add(k), 1) // k + x rounds as x + k
                case "Sub": return (j, .subFrom(k), 1)
                case "Mul": return (j, .mul(k), 1)
                case "Div": return (j, .divideInto(k), 1)
                default: return nil
                }
            }
            return nil
        }
        /// Elementwise steps after a Conv's bias, residual and clamp, per Conv step.
        var programs: [Int: [EpilogueStep]] = [:]
        func extend(_ j: Int, _ more: [EpilogueStep], aliases: [(Int, Int)], output: ValueID) {
            programs[j, default: []] += more
            for (step, k) in aliases { plan.aliases[step] = k }
            head[output] = j
        }

        for (i, step) in steps.enumerated() {
            let n = step.node
            guard isDefault(n) else { continue }
            switch n.opType {
            case "Conv":
                if let y = n.outputs.first ?? nil {
                    head[y] = i
                    // A Conv the `fuse-activation` pass annotated already clamps its output.
                    if n.annotations["fused_activation"] != nil { hasActivation.insert(i) }
                }
            case "Add", "Sub", "Mul", "Div":
                // (A `where` after the list would guard only its last pattern.)
                guard step.opset >= 7, n.inputs.count == 2 else { continue }
                if n.opType == "Add", let chain = hardSwishChain(at: i) {
                    extend(chain.conv, chain.steps, aliases: chain.aliases, output: chain.output)
                    continue
                }
                if let out = n.outputs.first ?? nil, let (j, s, k) = scalarStep(n) {
                    extend(j, [s], aliases: [(i, k)], output: out)
                    continue
                }
                guard n.opType == "Add", let a = n.inputs[0], let b = n.inputs[1], a != b, let out = n.outputs.first ?? nil else { continue }
                var best: (k: Int, j: Int, other: ValueID)? = nil
                for (k, c, other) in [(0, a, b), (1, b, a)] {
                    guard let j = chainable(c), node(j).outputs.first == c, !hasAdd.contains(j), !hasActivation.contains(j),
                          programs[j] == nil, let ready = availableAfter(other), ready < j else { continue }
                    if case .tensor(_, let s1?)? = graph[value: c].type, case .tensor(_, let s2?)? = graph[value: other].type,
                       s1 != s2 { continue }
                    if best == nil || j > best!.j { best = (k, j, other) }
                }
                guard let (k, j, other) = best else { continue }
                var conv = node(j)
                conv.setDetachedInput(3, to: other)
                conv.annotations["fused_add"] = "1"
                plan.fusedNodes[j] = conv
                plan.heads.insert(j)
                plan.aliases[i] = k
                hasAdd.insert(j)
                head[out] = j
            case "Relu", "Clip":
                guard let c = n.inputs.first ?? nil, let j = chainable(c), let out = n.outputs.first ?? nil else { continue }
                if programs[j] != nil {
                    // After program steps, the activation is one more step.
                    if n.opType == "Relu" {
                        extend(j, [.relu], aliases: [(i, 0)], output: out)
                    } else if let (lo, hi) = clipBounds(n, opset: step.opset, graph: graph, steps: steps, position: position),
                              lo <= hi {
                        extend(j, [.clip(lo, hi)], aliases: [(i, 0)], output: out)
                    }
                    continue
                }
                var conv = node(j)
                var wanted = ["fused_activation": n.opType]
                if n.opType == "Clip" {
                    guard let (lo, hi) = clipBounds(n, opset: step.opset, graph: graph, steps: steps, position: position),
                          lo <= hi else { continue }
                    wanted["fused_activation_min"] = lo.description
                    wanted["fused_activation_max"] = hi.description
                }
                if hasActivation.contains(j) {
                    // Annotated by the pass: the same clamp (the Conv output's only reader), or leave it.
                    func bounds(_ a: [String: String]) -> [Float?] {
                        ["_min", "_max"].map { a["fused_activation" + $0].flatMap(Float.init) }
                    }
                    guard conv.outputs.first == c, conv.annotations["fused_activation"] == n.opType,
                          bounds(conv.annotations) == bounds(wanted) else { continue }
                } else {
                    for (key, value) in wanted { conv.annotations[key] = value }
                    plan.fusedNodes[j] = conv
                    hasActivation.insert(j)
                }
                plan.heads.insert(j)
                plan.aliases[i] = 0
                head[out] = j
            default:
                continue
            }
        }
        for (j, program) in programs {
            var conv = node(j)
            conv.annotations[EpilogueProgram.annotation] = EpilogueProgram(steps: program).text
            plan.fusedNodes[j] = conv
            plan.heads.insert(j)
        }
        return plan
    }

    /// Whether a head step's output carries the fused epilogue: the kernels apply it to
    /// float32 outputs, with a residual only when it is float32 of the output's dims.
    static func applied(_ node: Node, args: [RuntimeValue?], output: RuntimeValue) -> Bool {
        guard let y = output.tensor, y.dtype == .float32 else { return false }
        guard node.annotations["fused_add"] != nil else { return true }
        guard args.count > 3, let r = args[3]?.tensor else { return false }
        return fusedResidualFits(r, outputDims: y.dims)
    }

    /// Clip's bounds when they are constants: attributes before opset 11, then optional
    /// inputs that are float32 scalar initializers or Constant outputs (absent: unbounded).
    static func clipBounds(_ clip: Node, opset: Int, graph: Graph, steps: [GraphPlan.Step],
                           position: [NodeID: Int]) -> (Float, Float)? {
        if opset < 11 {
            func attr(_ name: String, _ fallback: Float) -> Float {
                if case .float(let v)? = clip.attributes[named: name] { return v }
                return fallback
            }
            return (attr("min", -.greatestFiniteMagnitude), attr("max", .greatestFiniteMagnitude))
        }
        // A bound's value: the fallback when the input is absent, nil when it is not constant.
        func bound(_ k: Int, _ fallback: Float) -> Float? {
            guard k < clip.inputs.count, let id = clip.inputs[k] else { return fallback }
            return constantScalar(id, graph: graph, steps: steps, position: position)
        }
        guard let lo = bound(1, -.infinity), let hi = bound(2, .infinity) else { return nil }
        return (lo, hi)
    }

    /// A float32 scalar constant's value: an initializer or a Constant node's output.
    /// `maxRank` bounds its rank (a scalar that broadcasts a lower-rank value up is no step).
    static func constantScalar(_ v: ValueID?, graph: Graph, steps: [GraphPlan.Step], position: [NodeID: Int],
                               maxRank: Int = .max) -> Float? {
        guard let v else { return nil }
        let value = graph[value: v]
        var tensor = value.initializer
        if tensor == nil, let p = value.producer, let s = position[p], steps[s].node.opType == "Constant",
           case .tensor(let t)? = steps[s].node.attributes[named: "value"] {
            tensor = t
        }
        guard let t = tensor, t.dtype == .float32, t.elementCount == 1, t.dims.count <= maxRank else { return nil }
        return t.withElements(Float.self) { $0[0] }
    }
}
