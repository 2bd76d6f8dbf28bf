import Testing
import ModelIR
import ModelOps
import ModelPasses
import _ModelTestSupport

@Suite("fuse-layernorm")
struct FuseLayerNormTests {
    /// What follows the normalization.
    enum Affine { case none, scale, scaleAndBias }

    /// in[2,3,8] -> x in [-5, 5) -> the decomposed layer norm over the last axis (axes as an
    /// attribute before opset 18, as an input from 18; the square as Pow(d, 2) or Mul(d, d))
    /// -> Relu -> y.
    static func model(opset: Int64 = 17, affine: Affine = .scaleAndBias, squareByMul: Bool = false,
                      axis: Int64 = -1, gammaDims: [Int] = [8], subReadTwice: Bool = false) -> Model {
        var b = PatternGraphBuilder("layernorm")
        let type = ValueType.tensor(.float32, Shape([2, 3, 8]))
        let x = b.spread(b.input("in", [2, 3, 8]), [2, 3, 8])
        func reduceMean(_ name: String, _ v: ValueID) -> ValueID {
            if opset >= 18 {
                return b.node("ReduceMean", name, [v, b.constant(name + "_axes", Tensor.of([axis]))], [Attribute("keepdims", .int(1))])
            }
            return b.node("ReduceMean", name, [v], [Attribute("axes", .ints([axis])), Attribute("keepdims", .int(1))])
        }
        let mean = reduceMean("mean", x)
        let d = b.node("Sub", "sub", [x, mean], type: type)
        let p = squareByMul ? b.node("Mul", "pow", [d, d]) : b.node("Pow", "pow", [d, b.scalar("two", 2)])
        let variance = reduceMean("var", p)
        let sd = b.node("Sqrt", "sqrt", [b.node("Add", "add_eps", [variance, b.scalar("eps", 1e-5)])])
        var y = b.node("Div", "div", [d, sd], type: type)
        if affine != .none {
            let gamma = b.constant("gamma", TestModels.randomFloats(gammaDims, seed: 3, name: "gamma"))
            y = b.node("Mul", "mul", [gamma, y], type: type)
        }
        if affine == .scaleAndBias {
            y = b.node("Add", "add", [y, b.constant("beta", TestModels.randomFloats([8], seed: 4, name: "beta"))])
        }
        let out = b.node("Relu", "y", [y])
        return b.model(outputs: subReadTwice ? [out, d] : [out], opset: opset)
    }

    @Test func fusesTheChainWithScaleAndBias() throws {
        let before = Self.model()
        let (after, rewrites, _) = try applying("fuse-layernorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "LayerNormalization", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph layernorm(%in: float32[2,3,8]) -> (%y)
              %ten = initializer float32[]
              %five = initializer float32[]
              %two = initializer float32[]
              %eps = initializer float32[]
              %gamma = initializer float32[8]
              %beta = initializer float32[8]
              %widen = Mul(%in, %ten) <- widen
              %x = Sub(%widen, %five) <- x
              %add_layernormalization = LayerNormalization(%x, %gamma, %beta) {axis=-1, epsilon=1e-05} <- mean,sub,pow,var,add_eps,sqrt,div,mul,add
              %y = Relu(%add_layernormalization) <- y

            """)
        try expectSameOutputs(before, after)
    }

    @Test func fusesWithoutScaleAndBiasAddingAScaleOfOnes() throws {
        let before = Self.model(affine: .none, squareByMul: true)
        let (after, rewrites, _) = try applying("fuse-layernorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "LayerNormalization", "Relu"])
        let ln = after.graph.liveNodes.first { $0.node.opType == "LayerNormalization" }!.node
        #expect(ln.inputs.count == 2)
        let scale = after.graph.constant(ln.inputs[1])
        #expect(scale?.dims == [8])
        #expect(scale?.elements(Float.self) == [Float](repeating: 1, count: 8))
        try expectSameOutputs(before, after)
    }

    @Test(arguments: [Int64(17), 18])
    func fusesWithAxesAsAttributeOrInput(_ opset: Int64) throws {
        for axis in [Int64(-1), 2] {
            let before = Self.model(opset: opset, affine: .scale, axis: axis)
            let (after, rewrites, _) = try applying("fuse-layernorm", to: before)
            #expect(rewrites == 1)
            #expect(opTypes(after) == ["Mul", "Sub", "LayerNormalization", "Relu"])
            try expectSameOutputs(before, after)
        }
    }

    @Test func aScaleOfShape1x1xCIsStoredAsC() throws {
        let before = Self.model(affine: .scale, gammaDims: [1, 1, 8])
        let (after, rewrites, _) = try applying("fuse-layernorm", to: before)
        #expect(rewrites == 1)
        let ln = after.graph.liveNodes.first { $0.node.opType == "LayerNormalization" }!.node
        #expect(after.graph.constant(ln.inputs[1])?.dims == [8])
        try expectSameOutputs(before, after)
    }

    @Test func doesNotFireBelowOpset17() throws {
        let (after, rewrites, context) = try applying("fuse-layernorm", to: Self.model(opset: 16))
        #expect(rewrites == 0)
        #expect(!opTypes(after).contains("LayerNormalization"))
        #expect(context.notes.contains { $0.contains("opset 16") })
    }

    @Test func doesNotFireOverAnotherAxisOrWhenTheCenteredValueHasAnotherReader() throws {
        let (a, rewritesA, _) = try applying("fuse-layernorm", to: Self.model(axis: 1))
        #expect(rewritesA == 0)
        #expect(!opTypes(a).contains("LayerNormalization"))
        let (b, rewritesB, context) = try applying("fuse-layernorm", to: Self.model(subReadTwice: true))
        #expect(rewritesB == 0)
        #expect(!opTypes(b).contains("LayerNormalization"))
        #expect(context.notes.contains { $0.contains("'sub' is a graph output") })
    }

    @Test func stopsBeforeAScaleThatIsNotAlongTheLastAxis() throws {
        // gamma [3,8] varies along axis 1 too: LayerNormalization's Scale cannot hold it.
        let before = Self.model(affine: .scale, gammaDims: [3, 8])
        let (after, rewrites, _) = try applying("fuse-layernorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "LayerNormalization", "Mul", "Relu"])
        try expectSameOutputs(before, after)
    }
}
