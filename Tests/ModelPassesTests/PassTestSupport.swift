import Testing
import ModelIR
import ModelOps
import ModelPasses
import ModelRuntime
import _ModelTestSupport

/// Runs one pass on a copy of `model`.
func applying(_ passName: String, to model: Model, options: PassOptions = PassOptions()) throws -> (Model, Int, PassContext) {
    var m = model
    var context = PassContext(options: options)
    let passes = try PassManager.resolve([passName])
    var manager = PassManager()
    manager.verifyEach = true
    let records = try manager.run(passes, on: &m, context: &context)
    return (m, records[0].rewrites, context)
}

/// Op types of the live nodes, in order.
func opTypes(_ m: Model) -> [String] { m.graph.liveNodes.map(\.node.opType) }

/// Runs both models on the same seeded inputs and checks every output agrees within
/// `rtol`/`atol` (|a - b| <= atol + rtol * |b|, b from `before`).
func expectSameOutputs(_ before: Model, _ after: Model, rtol: Float = 1e-5, atol: Float = 1e-6,
                       shapes: [String: [Int]] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let inputs = try RandomInputs.make(for: before, shapes: shapes, seed: 42)
    var options = RunOptions()
    options.threads = 1
    let a = try Interpreter(model: before).run(inputs, options: options)
    let b = try Interpreter(model: after).run(inputs, options: options)
    #expect(a.outputs.map(\.name) == b.outputs.map(\.name), sourceLocation: sourceLocation)
    for ((name, va), (_, vb)) in zip(a.outputs, b.outputs) {
        guard let ta = va.tensor, let tb = vb.tensor else { continue }
        #expect(ta.dims == tb.dims, "output \(name) dims", sourceLocation: sourceLocation)
        let xa = ta.elements(Float.self), xb = tb.elements(Float.self)
        var worst: Float = 0
        for i in 0..<min(xa.count, xb.count) { worst = max(worst, abs(xb[i] - xa[i]) - (atol + rtol * abs(xa[i]))) }
        #expect(worst <= 0, "output \(name) differs beyond rtol \(rtol), atol \(atol) (excess \(worst))",
                sourceLocation: sourceLocation)
    }
}

/// Builders for the small graphs the pass tests rewrite.
enum PassModels {
    static func model(_ g: Graph, opset: Int64 = 17) -> Model {
        Model(graph: g, irVersion: 8, opsetImports: [OpsetImport(domain: "", version: opset)], producerName: "tests")
    }

    static func floats(_ values: [Float], _ dims: [Int], name: String) -> Tensor { Tensor.of(values, dims: dims, name: name) }

    /// x[1,3,6,6] -> Conv(4x3x3x3, bias) -> BatchNormalization -> Relu -> y; with
    /// `secondReader`, the Conv output is also a graph output.
    static func convBN(secondReader: Bool = false) -> Model {
        var g = Graph(name: "conv_bn")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([1, 3, 6, 6]))); g.appendInput(x)
        func initializer(_ name: String, _ t: Tensor) -> ValueID { let v = g.addValue(named: name); g.setInitializer(t, of: v); return v }
        let w = initializer("w", TestModels.randomFloats([4, 3, 3, 3], seed: 1, name: "w"))
        let b = initializer("b", TestModels.randomFloats([4], seed: 2, name: "b"))
        let scale = initializer("scale", floats([1.5, 0.5, 2, 1], [4], name: "scale"))
        let shift = initializer("shift", floats([0.1, -0.2, 0.3, 0], [4], name: "shift"))
        let mean = initializer("mean", floats([0.05, -0.1, 0.2, 0.3], [4], name: "mean"))
        let variance = initializer("var", floats([0.9, 1.2, 0.5, 2], [4], name: "var"))
        let c = g.addValue(named: "c"), n = g.addValue(named: "n"), y = g.addValue(named: "y")
        g.appendNode("Conv", name: "conv1", inputs: [x, w, b], outputs: [c],
                     attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))])
        g.appendNode("BatchNormalization", name: "bn1", inputs: [c, scale, shift, mean, variance], outputs: [n],
                     attributes: [Attribute("epsilon", .float(1e-3))])
        g.appendNode("Relu", name: "relu1", inputs: [n], outputs: [y])
        g.setOutputs(secondReader ? [y, c] : [y])
        return model(g)
    }
}
