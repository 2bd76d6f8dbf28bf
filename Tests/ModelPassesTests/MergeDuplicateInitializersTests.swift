import Testing
import ModelIR
import ModelOps
import ModelPasses
import _ModelTestSupport

@Suite("merge-duplicate-initializers")
struct MergeDuplicateInitializersTests {
    /// x[n] -> Add(a) -> Add(b) -> y, with a and b float32[n].
    static func twoAdds(_ a: [Float], _ b: [Float]) -> Model {
        var builder = GraphBuilder("dups")
        let x = builder.input("x", [a.count])
        let s = builder.node("Add", "add_a", [x, builder.floats("a", a, [a.count])], "s")
        let y = builder.node("Add", "add_b", [s, builder.floats("b", b, [b.count])], "y")
        return builder.model([y])
    }

    @Test func equalInitializersBecomeTheFirst() throws {
        // 3000 floats (12000 bytes): more than the two 4 KiB samples the key hashes.
        let w = TestModels.randomFloats([3000], seed: 7, name: "w").elements(Float.self)
        let before = Self.twoAdds(w, w)
        let (after, rewrites, _) = try applying("merge-duplicate-initializers", to: before)
        #expect(rewrites == 1)
        let g = after.graph
        #expect(g.initializers.map { g[value: $0].name } == ["a"])
        #expect(g.liveNodes.allSatisfy { g[value: $0.node.inputs[1]!].name == "a" })
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func doesNotMergeTensorsThatDifferOnlyBetweenTheSampledEnds() throws {
        // Same dtype, dims, first and last 4 KiB: only element 1500 (byte 6000) differs.
        let w = TestModels.randomFloats([3000], seed: 7, name: "w").elements(Float.self)
        var v = w
        v[1500] += 1
        let before = Self.twoAdds(w, v)
        let (after, rewrites, _) = try applying("merge-duplicate-initializers", to: before)
        #expect(rewrites == 0)
        #expect(after.graph.initializers.count == 2)
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }
}
