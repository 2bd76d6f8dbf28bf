import Testing
import ModelIR
import ModelOps
import ModelPasses
import _ModelTestSupport

@Suite("clean-up passes")
struct CleanupPassTests {
    /// x -> Identity -> Relu -> Dropout -> y (graph output).
    static func identities() -> Model {
        var g = Graph(name: "ids")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([2, 3]))); g.appendInput(x)
        let a = g.addValue(named: "a"), r = g.addValue(named: "r"), y = g.addValue(named: "y")
        g.appendNode("Identity", name: "id1", inputs: [x], outputs: [a])
        g.appendNode("Relu", name: "relu", inputs: [a], outputs: [r])
        g.appendNode("Dropout", name: "drop", inputs: [r], outputs: [y])
        g.setOutputs([y])
        return PassModels.model(g)
    }

    @Test func identityAndDropoutAreRemovedAndTheOutputKeepsItsName() throws {
        let before = Self.identities()
        let (after, rewrites, _) = try applying("eliminate-identity", to: before)
        #expect(rewrites == 2)
        #expect(opTypes(after) == ["Relu"])
        #expect(Printer.print(after.graph) == """
            graph ids(%x: float32[2,3]) -> (%y)
              %y = Relu(%x) <- relu

            """)
        try expectSameOutputs(before, after)
    }

    @Test func identityFromInputToOutputStays() throws {
        var g = Graph(name: "pass")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([2]))); g.appendInput(x)
        let y = g.addValue(named: "y")
        g.appendNode("Identity", name: "id", inputs: [x], outputs: [y])
        g.setOutputs([y])
        let (after, rewrites, _) = try applying("eliminate-identity", to: PassModels.model(g))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Identity"])
    }

    /// x[1,4,2,2] * scale -> y, with a scale of ones or a real per-channel scale.
    static func scaled(by values: [Float]) -> Model {
        var g = Graph(name: "mul")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([1, 4, 2, 2]))); g.appendInput(x)
        let s = g.addValue(named: "s")
        g.setInitializer(Tensor.of(values, dims: [1, values.count, 1, 1], name: "s"), of: s)
        let m = g.addValue(named: "m"), y = g.addValue(named: "y")
        g.appendNode("Mul", name: "scale", inputs: [x, s], outputs: [m])
        g.appendNode("Relu", name: "relu", inputs: [m], outputs: [y])
        g.setOutputs([y])
        return PassModels.model(g)
    }

    @Test func mulByOneIsRemoved() throws {
        let before = Self.scaled(by: [1, 1, 1, 1])
        let (after, rewrites, _) = try applying("eliminate-noop", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Relu"])
        try expectSameOutputs(before, after)
    }

    @Test func mulByAPerChannelScaleStays() throws {
        let (after, rewrites, _) = try applying("eliminate-noop", to: Self.scaled(by: [1, 2, 1, 1]))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Mul", "Relu"])
    }

    /// Constant -> Concat -> Reshape(x): the shape arithmetic folds to one initializer.
    static func shapeArithmetic(big: Bool = false) -> Model {
        var g = Graph(name: "fold")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([2, 6]))); g.appendInput(x)
        let a = g.addValue(named: "a"), b = g.addValue(named: "b"), s = g.addValue(named: "s"), y = g.addValue(named: "y")
        g.appendNode("Constant", name: "c1", inputs: [], outputs: [a], attributes: [Attribute("value", .tensor(Tensor.of([Int64(3)])))])
        g.appendNode("Constant", name: "c2", inputs: [], outputs: [b], attributes: [Attribute("value", .tensor(Tensor.of([Int64(4)])))])
        g.appendNode("Concat", name: "cat", inputs: [a, b], outputs: [s], attributes: [Attribute("axis", .int(0))])
        g.appendNode("Reshape", name: "reshape", inputs: [x, s], outputs: [y])
        var outputs = [y]
        if big {
            // ConstantOfShape of 2M floats (8 MB) from an 8-byte shape: must not be folded.
            let shape = g.addValue(named: "bigshape"), z = g.addValue(named: "zeros")
            g.setInitializer(Tensor.of([Int64(2_000_000)], name: "bigshape"), of: shape)
            g.appendNode("ConstantOfShape", name: "zeros", inputs: [shape], outputs: [z])
            outputs.append(z)
        }
        g.setOutputs(outputs)
        return PassModels.model(g)
    }

    @Test func constantShapeArithmeticFolds() throws {
        let before = Self.shapeArithmetic()
        let (after, rewrites, _) = try applying("fold-constants", to: before)
        #expect(rewrites == 3)
        #expect(opTypes(after) == ["Reshape"])
        let s = after.graph.constant(after.graph.valueID(named: "s"))
        #expect(s?.elements(Int64.self) == [3, 4])
        #expect(after.graph.initializers.count == 1, "the Constant values folded into s are gone")
        try expectSameOutputs(before, after)
    }

    @Test func foldingNeverBloatsTheModel() throws {
        let (after, _, context) = try applying("fold-constants", to: Self.shapeArithmetic(big: true))
        #expect(opTypes(after) == ["Reshape", "ConstantOfShape"])
        #expect(context.notes.contains { $0.contains("zeros") && $0.contains("fold limit") })
    }

    @Test func deadNodesAndInitializersAreRemoved() throws {
        var m = Self.scaled(by: [1, 2, 3, 4])
        let x = m.graph.valueID(named: "x")!
        let unused = m.graph.addValue(named: "unused")
        m.graph.appendNode("Sigmoid", name: "dead", inputs: [x], outputs: [unused])
        let w = m.graph.addValue(named: "w_unused")
        m.graph.setInitializer(TestModels.randomFloats([8], seed: 1, name: "w_unused"), of: w)
        let (after, rewrites, _) = try applying("eliminate-dead-code", to: m)
        #expect(rewrites == 2)
        #expect(opTypes(after) == ["Mul", "Relu"])
        #expect(after.graph.initializers.map { after.graph[value: $0].name } == ["s"])
    }
}
