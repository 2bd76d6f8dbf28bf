import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("merge-reshapes")
struct MergeReshapesTests {
    /// x[2,3,4] -> Reshape([6,4]) -> Reshape(s2) -> Relu -> y.
    static func reshapeTwice(_ s2: [Int64], input: Shape = Shape([2, 3, 4])) -> Model {
        var b = GraphBuilder("reshapes")
        let x = b.input("x", shape: input)
        let a = b.node("Reshape", "r1", [x, b.ints("s1", [-1, 4])], "a")
        let t = b.node("Reshape", "r2", [a, b.ints("s2", s2)], "t")
        let y = b.node("Relu", "relu", [t], "y")
        return b.model([y])
    }

    @Test func twoReshapesBecomeOne() throws {
        let before = Self.reshapeTwice([4, -1])
        let (after, rewrites, _) = try applying("merge-reshapes", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Reshape", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph reshapes(%x: float32[2,3,4]) -> (%y)
              %s1 = initializer int64[2]
              %s2 = initializer int64[2]
              %t = Reshape(%x, %s2) <- r2,r1
              %y = Relu(%t) <- relu

            """)
        try expectSameOutputs(before, after)
    }

    @Test func aZeroCopyingTheIntermediateDimIsResolved() throws {
        // s2 = [0, 2, 2]: dim 0 is the intermediate's 6, not x's 2.
        let before = Self.reshapeTwice([0, 2, 2])
        let (after, rewrites, _) = try applying("merge-reshapes", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Reshape", "Relu"])
        let shape = after.graph.constant(after.graph.liveNodes[0].node.inputs[1])
        #expect(shape?.integers() == [6, 2, 2])
        try expectSameOutputs(before, after)
    }

    @Test func unsqueezeThenFlattenBecomesOneReshape() throws {
        var b = GraphBuilder("chain")
        let x = b.input("x", [2, 6])
        let u = b.node("Unsqueeze", "u", [x, b.ints("axes", [0])], "u")
        let f = b.node("Flatten", "f", [u], "f", [Attribute("axis", .int(1))])
        let y = b.node("Relu", "relu", [f], "y")
        let before = b.model([y])
        let (after, rewrites, _) = try applying("merge-reshapes", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Reshape", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph chain(%x: float32[2,6]) -> (%y)
              %axes = initializer int64[1]
              %f_shape = initializer int64[2]
              %f_reshaped = Reshape(%x, %f_shape) <- f,u
              %y = Relu(%f_reshaped) <- relu

            """)
        try expectSameOutputs(before, after)
    }

    @Test func squeezeOfUnsqueezeOnTheSameAxesIsTheInput() throws {
        var b = GraphBuilder("roundtrip")
        let x = b.input("x", shape: Shape([.symbolic("n"), .known(5)]))
        let axes = b.ints("axes", [-2])
        let u = b.node("Unsqueeze", "u", [x, axes], "u")
        let s = b.node("Squeeze", "s", [u, axes], "s")
        let y = b.node("Relu", "relu", [s], "y")
        let before = b.model([y])
        let (after, rewrites, _) = try applying("merge-reshapes", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Relu"])
        try expectSameOutputs(before, after, shapes: ["x": [3, 5]])
    }

    @Test func doesNotFireWhenAZeroCopiesAnUnknownDim() throws {
        // x[n,4] -> Reshape([-1,4]) -> Reshape([0,2,2]): the 0 copies the intermediate's
        // unknown first dim, which a single Reshape of x cannot express.
        let before = Self.reshapeTwice([0, 2, 2], input: Shape([.symbolic("n"), .known(4)]))
        let (after, rewrites, context) = try applying("merge-reshapes", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Reshape", "Reshape", "Relu"])
        #expect(context.notes.contains { $0.contains("r2") && $0.contains("unknown") })
    }

    @Test func differentAxesDoNotCancel() throws {
        var b = GraphBuilder("axes")
        let x = b.input("x", shape: Shape([.symbolic("n"), .known(1), .known(5)]))
        let u = b.node("Unsqueeze", "u", [x, b.ints("a0", [0])], "u")
        let s = b.node("Squeeze", "s", [u, b.ints("a2", [2])], "s")
        let y = b.node("Relu", "relu", [s], "y")
        let (after, rewrites, _) = try applying("merge-reshapes", to: b.model([y]))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Unsqueeze", "Squeeze", "Relu"])
    }
}
