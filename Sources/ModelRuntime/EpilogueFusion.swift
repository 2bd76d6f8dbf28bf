import ModelIR
import ModelOps

/// Activations the interpreter computes inside the producing convolution, as onnxruntime's
/// Conv+activation fusion does: `Relu(Conv(x))` and `Clip(Conv(x), lo, hi)` with constant
/// bounds, when the Conv output has no other reader and is not a graph output.
///
/// The plan gives the Conv step a copy of its node annotated `fused_activation` (the Conv
/// kernels clamp float32 results in their epilogue) and marks the activation step as an
/// alias: it passes its input through when that input is a float32 tensor (float16 and
/// float64 convolutions do not clamp, and then the activation runs). Runs that keep every
/// intermediate use the unfused nodes, so each value is the one the graph defines.
enum EpilogueFusion {
    /// For each step index, the fused Conv node to run instead of the original; and the
    /// indices of the activation steps that become aliases.
    static func plan(_ graph: Graph, steps: [GraphPlan.Step], opsets: [String: Int]) -> (fused: [Int: Node], aliases: Set<Int>) {
        var position: [NodeID: Int] = [:]
        for (i, s) in steps.enumerated() { position[s.nodeID] = i }
        let outputs = Set(graph.outputs)
        var fused: [Int: Node] = [:], aliases = Set<Int>()
        for (i, step) in steps.enumerated() {
            let act = step.node
            guard act.domain == "" || act.domain == "ai.onnx", act.opType == "Relu" || act.opType == "Clip",
                  let c = act.inputs.first ?? nil, !outputs.contains(c) else { continue }
            let value = graph[value: c]
            guard value.uses.count == 1, let producer = value.producer, let j = position[producer] else { continue }
            let conv = steps[j].node
            guard conv.opType == "Conv", conv.domain == "" || conv.domain == "ai.onnx", conv.outputs.first == c,
                  fused[j] == nil else { continue }
            var annotated = conv
            if act.opType == "Relu" {
                annotated.annotations["fused_activation"] = "Relu"
            } else {
                guard let (lo, hi) = clipBounds(act, opset: step.opset, graph: graph, steps: steps, position: position),
                      lo <= hi else { continue }
                annotated.annotations["fused_activation"] = "Clip"
                annotated.annotations["fused_activation_min"] = lo.description
                annotated.annotations["fused_activation_max"] = hi.description
            }
            // A Conv the `fuse-activation` pass annotated already: the same clamp, or leave it.
            if let existing = conv.annotations["fused_activation"] {
                let bounds = { (n: Node) in ["_min", "_max"].map { n.annotations["fused_activation" + $0].flatMap(Float.init) } }
                guard existing == annotated.annotations["fused_activation"], bounds(conv) == bounds(annotated) else { continue }
                aliases.insert(i)
                continue
            }
            fused[j] = annotated
            aliases.insert(i)
        }
        return (fused, aliases)
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
            let v = graph[value: id]
            var tensor = v.initializer
            if tensor == nil, let p = v.producer, let s = position[p], steps[s].node.opType == "Constant",
               case .tensor(let t)? = steps[s].node.attributes[named: "value"] {
                tensor = t
            }
            guard let t = tensor, t.dtype == .float32, t.elementCount == 1 else { return nil }
            return t.withElements(Float.self) { $0[0] }
        }
        guard let lo = bound(1, -.infinity), let hi = bound(2, .infinity) else { return nil }
        return (lo, hi)
    }
}
