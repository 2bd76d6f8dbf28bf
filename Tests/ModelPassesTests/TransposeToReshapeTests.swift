import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("transpose-to-reshape")
struct TransposeToReshapeTests {
    /// x -> Transpose(perm) -> Relu -> y.
    static func transpose(_ dims: [Int], perm: [Int64]) -> Model {
        var b = GraphBuilder("transpose")
        let x = b.input("x", dims)
        let t = b.node("Transpose", "tr", [x], "t", [Attribute("perm", .ints(perm))])
        let y = b.node("Relu", "relu", [t], "y")
        return b.model([y])
    }

    @Test func aTransposeMovingOnlyOnesBecomesAReshape() throws {
        // Swin's window partition when the map is one window: [1,1,7,1,7,C], swap dims 2 and 3.
        let before = Self.transpose([1, 1, 3, 1, 3, 4], perm: [0, 1, 3, 2, 4, 5])
        let (after, rewrites, _) = try applying("transpose-to-reshape", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Reshape", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph transpose(%x: float32[1,1,3,1,3,4]) -> (%y)
              %t_shape = initializer int64[6]
              %t_reshaped = Reshape(%x, %t_shape) <- tr
              %y = Relu(%t_reshaped) <- relu

            """)
        // The target shape is the Transpose's output shape, computed here from the perm.
        let dims = [1, 1, 3, 1, 3, 4], perm = [0, 1, 3, 2, 4, 5]
        let shape = after.graph.constant(after.graph.liveNodes[0].node.inputs[1])
        #expect(shape?.integers() == perm.map { dims[$0] })
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func theDefaultPermReversesAVectorWithOnes() throws {
        // No perm attribute: reverse. [1,5] -> [5,1] moves only the 1.
        var b = GraphBuilder("reverse")
        let x = b.input("x", [1, 5])
        let t = b.node("Transpose", "tr", [x], "t")
        let y = b.node("Relu", "relu", [t], "y")
        let before = b.model([y])
        let (after, rewrites, _) = try applying("transpose-to-reshape", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Reshape", "Relu"])
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func doesNotFireWhenDimsLargerThanOneSwap() throws {
        // [1,2,3,1] perm [0,2,1,3] swaps 2 and 3: a real transpose.
        let before = Self.transpose([1, 2, 3, 1], perm: [0, 2, 1, 3])
        let (after, rewrites, context) = try applying("transpose-to-reshape", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Transpose", "Relu"])
        #expect(context.notes.contains { $0.contains("reorders dims larger than 1") })
    }

    @Test func doesNotFireOnADynamicShape() throws {
        var b = GraphBuilder("dynamic")
        let x = b.input("x", shape: Shape([.symbolic("n"), .known(1), .known(4)]))
        let t = b.node("Transpose", "tr", [x], "t", [Attribute("perm", .ints([1, 0, 2]))])
        let y = b.node("Relu", "relu", [t], "y")
        let (after, rewrites, context) = try applying("transpose-to-reshape", to: b.model([y]))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Transpose", "Relu"])
        #expect(context.notes.contains { $0.contains("not static") })
    }

    @Test func withMergeReshapesAPartitionChainBecomesOneReshape() throws {
        // Reshape -> Transpose(only 1-dims move) -> Reshape: one Reshape after both passes.
        var b = GraphBuilder("partition")
        let x = b.input("x", [1, 3, 3, 4])
        let r = b.node("Reshape", "r1", [x, b.ints("s1", [1, 1, 3, 1, 3, 4])], "r")
        let t = b.node("Transpose", "tr", [r], "t", [Attribute("perm", .ints([0, 1, 3, 2, 4, 5]))])
        let f = b.node("Reshape", "r2", [t, b.ints("s2", [-1, 9, 4])], "f")
        let y = b.node("Relu", "relu", [f], "y")
        let before = b.model([y])
        var m = before
        var context = PassContext()
        var manager = PassManager()
        manager.verifyEach = true
        _ = try manager.run(try PassManager.resolve(["infer-shapes", "transpose-to-reshape", "merge-reshapes"]),
                            on: &m, context: &context)
        #expect(opTypes(m) == ["Reshape", "Relu"])
        #expect(m.graph.liveNodes[0].node.provenance.sorted() == ["r1", "r2", "tr"])
        try expectSameOutputs(before, m, rtol: 0, atol: 0)
    }
}
