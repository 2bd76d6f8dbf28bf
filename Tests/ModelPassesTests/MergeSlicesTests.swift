import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("merge-slices")
struct MergeSlicesTests {
    /// Swin's patch merging: x[1,4,6,3] -> x[:, i::2, j::2] for (i, j) in (0,0),(1,0),(0,1),(1,1),
    /// exported as a Slice over axis 1 read by two Slices over axis 2; the four go into a Concat.
    static func patchMerging(outerAxis: Int64 = 2, extraReader: Bool = false) -> Model {
        var b = GraphBuilder("patches")
        let x = b.input("x", [1, 4, 6, 3])
        let big = b.ints("big", [Int64.max]), two = b.ints("two", [2])
        let c0 = b.ints("c0", [0]), c1 = b.ints("c1", [1])
        let ax1 = b.ints("ax1", [1]), axOuter = b.ints("ax_outer", [outerAxis])
        let even = b.node("Slice", "rows_even", [x, c0, big, ax1, two], "even")
        let odd = b.node("Slice", "rows_odd", [x, c1, big, ax1, two], "odd")
        var parts: [ValueID] = []
        for (rows, rowName) in [(even, "e"), (odd, "o")] {
            for (start, colName) in [(c0, "0"), (c1, "1")] {
                parts.append(b.node("Slice", "cols_\(rowName)\(colName)", [rows, start, big, axOuter, two], "p_\(rowName)\(colName)"))
            }
        }
        var outputs = [b.node("Concat", "cat", parts, "y", [Attribute("axis", .int(-1))])]
        if extraReader { outputs.append(b.node("Relu", "relu", [even], "r")) }
        return b.model(outputs)
    }

    @Test func slicesOverDisjointAxesBecomeOne() throws {
        let before = Self.patchMerging()
        let (after, rewrites, _) = try applying("merge-slices", to: before)
        #expect(rewrites == 4)
        #expect(opTypes(after) == ["Slice", "Slice", "Slice", "Slice", "Concat"])
        for (_, node) in after.graph.liveNodes where node.opType == "Slice" {
            #expect(after.graph[value: node.inputs[0]!].name == "x")
            #expect(after.graph.constant(node.inputs[3])?.integers() == [1, 2])
            #expect(after.graph.constant(node.inputs[4])?.integers() == [2, 2])
        }
        // Initializers whose last reader moved are rewritten in place (c0, ax_outer); shared ones get a copy.
        #expect(Printer.print(after.graph) == """
            graph patches(%x: float32[1,4,6,3]) -> (%y)
              %big = initializer int64[1]
              %two = initializer int64[1]
              %c0 = initializer int64[2]
              %c1 = initializer int64[1]
              %ax1 = initializer int64[1]
              %ax_outer = initializer int64[2]
              %c0_merged = initializer int64[2]
              %big_merged = initializer int64[2]
              %ax_outer_merged = initializer int64[2]
              %two_merged = initializer int64[2]
              %c1_merged = initializer int64[2]
              %big_merged_1 = initializer int64[2]
              %ax_outer_merged_1 = initializer int64[2]
              %two_merged_1 = initializer int64[2]
              %big_merged_2 = initializer int64[2]
              %ax_outer_merged_2 = initializer int64[2]
              %two_merged_2 = initializer int64[2]
              %c1_merged_1 = initializer int64[2]
              %big_merged_3 = initializer int64[2]
              %two_merged_3 = initializer int64[2]
              %p_e0 = Slice(%x, %c0_merged, %big_merged, %ax_outer_merged, %two_merged) <- cols_e0,rows_even
              %p_e1 = Slice(%x, %c1_merged, %big_merged_1, %ax_outer_merged_1, %two_merged_1) <- cols_e1,rows_even
              %p_o0 = Slice(%x, %c0, %big_merged_2, %ax_outer_merged_2, %two_merged_2) <- cols_o0,rows_odd
              %p_o1 = Slice(%x, %c1_merged_1, %big_merged_3, %ax_outer, %two_merged_3) <- cols_o1,rows_odd
              %y = Concat(%p_e0, %p_e1, %p_o0, %p_o1) {axis=-1} <- cat

            """)
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func negativeAxesAreNormalizedByTheRank() throws {
        // Axis -2 of a rank-4 tensor is axis 2: disjoint from axis 1.
        let before = Self.patchMerging(outerAxis: -2)
        let (after, rewrites, _) = try applying("merge-slices", to: before)
        #expect(rewrites == 4)
        #expect(opTypes(after) == ["Slice", "Slice", "Slice", "Slice", "Concat"])
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func doesNotFireOnTheSameAxis() throws {
        let before = Self.patchMerging(outerAxis: 1)
        let (after, rewrites, context) = try applying("merge-slices", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == opTypes(before))
        #expect(context.notes.contains { $0.contains("both Slices cut axis [1]") })
    }

    @Test func doesNotFireWhenTheInnerSliceHasAnotherReader() throws {
        // rows_even also feeds a Relu: merging would keep it and slice x twice.
        let before = Self.patchMerging(extraReader: true)
        let (after, rewrites, context) = try applying("merge-slices", to: before)
        #expect(rewrites == 2)  // only the two Slices reading rows_odd merge
        #expect(opTypes(after).filter { $0 == "Slice" }.count == 5)
        #expect(context.notes.contains { $0.contains("does not merge") })
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }
}
