import ModelIR
import ModelOps
import _ModelTestSupport

/// A small graph under construction for pass tests: inputs, seeded or given initializers,
/// nodes appended in order.
struct GraphBuilder {
    var g: Graph

    init(_ name: String) { g = Graph(name: name) }

    /// A float32 graph input (dims may be symbolic through `shape`).
    mutating func input(_ name: String, _ dims: [Int], dtype: DType = .float32) -> ValueID {
        let v = g.addValue(named: name, type: .tensor(dtype, Shape(dims)))
        g.appendInput(v)
        return v
    }

    mutating func input(_ name: String, shape: Shape) -> ValueID {
        let v = g.addValue(named: name, type: .tensor(.float32, shape))
        g.appendInput(v)
        return v
    }

    mutating func constant(_ name: String, _ t: Tensor) -> ValueID {
        let v = g.addValue(named: name)
        var t = t
        t.name = name
        g.setInitializer(t, of: v)
        return v
    }

    /// A seeded random float32 initializer.
    mutating func random(_ name: String, _ dims: [Int], seed: UInt64) -> ValueID {
        constant(name, TestModels.randomFloats(dims, seed: seed, name: name))
    }

    mutating func floats(_ name: String, _ values: [Float], _ dims: [Int]) -> ValueID {
        constant(name, Tensor.of(values, dims: dims, name: name))
    }

    mutating func ints(_ name: String, _ values: [Int64]) -> ValueID {
        constant(name, Tensor.of(values, name: name))
    }

    /// Appends `op` writing one new value named `out`.
    @discardableResult
    mutating func node(_ op: String, _ name: String, _ inputs: [ValueID?], _ out: String,
                       _ attributes: [Attribute] = []) -> ValueID {
        let y = g.addValue(named: out)
        g.appendNode(op, name: name, inputs: inputs, outputs: [y], attributes: attributes)
        return y
    }

    /// The model with `outputs` as graph outputs (opset 17 unless told).
    mutating func model(_ outputs: [ValueID], opset: Int64 = 17) -> Model {
        g.setOutputs(outputs)
        return PassModels.model(g, opset: opset)
    }

    /// An inference BatchNormalization's four parameter initializers for `c` channels.
    mutating func batchNorm(_ prefix: String, channels c: Int) -> [ValueID] {
        let scale = (0..<c).map { 0.5 + Float($0) * 0.25 }, shift = (0..<c).map { 0.1 * Float($0) - 0.2 }
        let mean = (0..<c).map { 0.05 * Float($0) - 0.1 }, variance = (0..<c).map { 0.6 + 0.3 * Float($0) }
        return [floats(prefix + "_scale", scale, [c]), floats(prefix + "_shift", shift, [c]),
                floats(prefix + "_mean", mean, [c]), floats(prefix + "_var", variance, [c])]
    }
}
