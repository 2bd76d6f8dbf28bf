import ModelIR
import ModelOps

/// `eliminate-noop`: ops that return their input unchanged become that input:
/// Cast to the input's own type, Reshape/Expand to the input's own static shape, Pad of
/// zeros, Transpose by the identity permutation, Slice over the full range, Mul/Div by a
/// constant 1 and Add/Sub of a constant 0 that do not broadcast the input to a larger shape.
///
/// ```
/// before:  %y = Mul(%x, %one) <- scale      (%one = initializer float32[1] = 1)
///          %z = Relu(%y) <- relu
/// after:   %z = Relu(%x) <- relu
/// ```
public struct EliminateNoop: GraphPass {
    public let name = "eliminate-noop"
    public let summary = "op(x) that returns x unchanged -> x"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let node = g[node: id]
            guard node.domain.isEmpty || node.domain == "ai.onnx", var x = node.inputs.first ?? nil,
                  let y = node.outputs.first ?? nil, node.outputs.count == 1 else { return false }
            var candidate = node
            // Add and Mul commute: `Add(0, x)` (exporters put a zero bias first) is `Add(x, 0)`.
            if (node.opType == "Add" || node.opType == "Mul"), node.inputs.count == 2, let other = node.inputs[1],
               g.constant(x) != nil, g.constant(other) == nil {
                x = other
                candidate.swapFirstTwoInputs()
            }
            guard isNoop(candidate, x, g) else { return false }
            guard context.isReplaceable(y, in: g), context.isReplaceable(x, in: g) else { return false }
            return g.bypass(y, with: x)
        }

        func isNoop(_ node: Node, _ x: ValueID, _ g: Graph) -> Bool {
            let type = g[value: x].type
            let dims = type?.tensorShape?.staticDims ?? g.constant(x)?.dims
            let dtype = type?.tensorDType ?? g.constant(x)?.dtype
            func constantInput(_ i: Int) -> Tensor? { i < node.inputs.count ? g.constant(node.inputs[i]) : nil }
            switch node.opType {
            case "Cast":
                guard case .int(let to)? = node.attributes[named: "to"], let dtype else { return false }
                return Int32(to) == dtype.rawValue
            case "Reshape":
                guard let dims, let shape = constantInput(1)?.integers(), !shape.contains(0), !shape.contains(-1) else { return false }
                return shape == dims
            case "Expand":
                guard let dims, let shape = constantInput(1)?.integers(), shape.count <= dims.count else { return false }
                // Broadcasting `dims` with `shape` gives `dims` when every shape dim is 1 or equal.
                return zip(dims.suffix(shape.count), shape).allSatisfy { $1 == 1 || $0 == $1 }
            case "Pad":
                if let pads = constantInput(1)?.integers() { return pads.allSatisfy { $0 == 0 } }
                if case .ints(let pads)? = node.attributes[named: "pads"] { return pads.allSatisfy { $0 == 0 } }
                return false
            case "Transpose":
                guard case .ints(let perm)? = node.attributes[named: "perm"] else { return false }
                return perm.enumerated().allSatisfy { Int64($0.offset) == $0.element }
            case "Slice":
                guard node.opType == "Slice", let starts = constantInput(1)?.integers(),
                      let ends = constantInput(2)?.integers(), let dims else { return false }
                let axes = constantInput(3)?.integers() ?? Array(0..<starts.count)
                let steps = constantInput(4)?.integers() ?? Array(repeating: 1, count: starts.count)
                for (k, axis) in axes.enumerated() {
                    let a = axis < 0 ? axis + dims.count : axis
                    guard a >= 0, a < dims.count, k < ends.count, k < steps.count else { return false }
                    guard steps[k] == 1, starts[k] == 0 || starts[k] <= -dims[a], ends[k] >= dims[a] else { return false }
                }
                return true
            case "Mul", "Div", "Add", "Sub":
                guard node.inputs.count == 2, let c = constantInput(1), c.dtype == dtype, let dims else { return false }
                let neutral: Double = node.opType == "Mul" || node.opType == "Div" ? 1 : 0
                guard c.dims.count <= dims.count, zip(dims.suffix(c.dims.count), c.dims).allSatisfy({ $1 == 1 || $0 == $1 }) else { return false }
                return allEqual(c, neutral)
            default:
                return false
            }
        }

        func allEqual(_ t: Tensor, _ value: Double) -> Bool {
            switch t.dtype {
            case .float32: return t.elements(Float.self).allSatisfy { Double($0) == value }
            case .float64: return t.elements(Double.self).allSatisfy { $0 == value }
            case .float16: return t.elements(Float16.self).allSatisfy { Double($0) == value }
            case .int64: return t.elements(Int64.self).allSatisfy { Double($0) == value }
            case .int32: return t.elements(Int32.self).allSatisfy { Double($0) == value }
            default: return false
            }
        }
    }
}
