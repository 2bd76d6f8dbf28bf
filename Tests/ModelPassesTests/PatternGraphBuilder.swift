import ModelIR
import ModelOps
import ModelPasses

/// Builds the small graphs the activation-pattern tests rewrite: every node's one output is
/// named after the node, so printed IR reads `%add = Add(%x, %three) <- add`.
struct PatternGraphBuilder {
    var g: Graph

    init(_ name: String) { g = Graph(name: name) }

    /// A float32 graph input.
    mutating func input(_ name: String, _ dims: [Int]) -> ValueID {
        let v = g.addValue(named: name, type: .tensor(.float32, Shape(dims)))
        g.appendInput(v)
        return v
    }

    /// An initializer.
    mutating func constant(_ name: String, _ t: Tensor) -> ValueID {
        let v = g.addValue(named: name)
        var t = t
        t.name = name
        g.setInitializer(t, of: v)
        return v
    }

    /// A 0-d float32 initializer.
    mutating func scalar(_ name: String, _ value: Float) -> ValueID { constant(name, Tensor.scalar(value)) }

    /// A node with one output named `name`, typed `type` when given.
    mutating func node(_ op: String, _ name: String, _ inputs: [ValueID?], _ attributes: [Attribute] = [],
                       type: ValueType? = nil) -> ValueID {
        let out = g.addValue(named: name, type: type)
        g.appendNode(op, name: name, inputs: inputs, outputs: [out], attributes: attributes)
        return out
    }

    /// `x = input * 10 - 5` (values in [-5, 5): the random inputs are in [0, 1)), typed `dims`.
    mutating func spread(_ input: ValueID, _ dims: [Int]) -> ValueID {
        let ten = scalar("ten", 10), five = scalar("five", 5)
        let t = node("Mul", "widen", [input, ten], type: .tensor(.float32, Shape(dims)))
        return node("Sub", "x", [t, five], type: .tensor(.float32, Shape(dims)))
    }

    func model(outputs: [ValueID], opset: Int64) -> Model {
        var g = self.g
        g.setOutputs(outputs)
        return PassModels.model(g, opset: opset)
    }
}
