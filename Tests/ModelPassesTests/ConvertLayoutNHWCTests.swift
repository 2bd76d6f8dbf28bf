import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("convert-layout-nhwc")
struct ConvertLayoutNHWCTests {
    /// x[1,3,6,6] -> Conv -> Relu -> Mul(k[4,6,1]) -> Add(bias[4,1,1]) -> Concat(axis 1) -> Conv -> y.
    static func convBlock() throws -> Model {
        var b = GraphBuilder("block")
        let x = b.input("x", [1, 3, 6, 6])
        let c = b.node("Conv", "conv1", [x, b.random("w1", [4, 3, 3, 3], seed: 21)], "c",
                       [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))])
        let r = b.node("Relu", "relu", [c], "r")
        let m = b.node("Mul", "scale", [r, b.random("k", [4, 6, 1], seed: 22)], "m")
        let a = b.node("Add", "shift", [m, b.floats("bias", [0.5, -0.5, 1, -1], [4, 1, 1])], "a")
        let cat = b.node("Concat", "cat", [a, r], "cat", [Attribute("axis", .int(1))])
        let y = b.node("Conv", "conv2", [cat, b.random("w2", [2, 8, 1, 1], seed: 23)], "y",
                       [Attribute("kernel_shape", .ints([1, 1]))])
        return try applying("infer-shapes", to: b.model([y])).0
    }

    @Test func layoutAgnosticOpsRunChannelsLast() throws {
        let before = try Self.convBlock()
        let (after, rewrites, context) = try applying("convert-layout-nhwc", to: before)
        #expect(rewrites == 4)
        #expect(opTypes(after) == ["Conv", "Transpose", "Relu", "Mul", "Add", "Concat", "Transpose", "Conv"])
        #expect(Printer.print(after.graph) == """
            graph block(%x: float32[1,3,6,6]) -> (%y)
              %w1 = initializer float32[4,3,3,3]
              %k = initializer float32[6,1,4]
              %bias = initializer float32[4]
              %w2 = initializer float32[2,8,1,1]
              %c = Conv(%x, %w1) {kernel_shape=[3,3], pads=[1,1,1,1]} <- conv1
              %c_nhwc = Transpose(%c) {perm=[0,2,3,1]} <- conv1
              %r_nhwc = Relu(%c_nhwc) <- relu
              %m_nhwc = Mul(%r_nhwc, %k) <- scale
              %a_nhwc = Add(%m_nhwc, %bias) <- shift
              %cat_nhwc = Concat(%a_nhwc, %r_nhwc) {axis=3} <- cat
              %cat = Transpose(%cat_nhwc) {perm=[0,3,1,2]} <- cat
              %y = Conv(%cat, %w2) {kernel_shape=[1,1]} <- conv2

            """)
        #expect(after.graph[value: after.graph.valueID(named: "cat_nhwc")!].type?.description == "float32[1,6,6,8]")
        // Transposes only: the numbers are the same bits.
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
        #expect(context.remarks.contains { $0.contains("2 Transpose node(s) remain") })
        #expect(context.notes.contains { $0.contains("before Conv 'conv2': ONNX Conv reads NCHW") })
        #expect(context.notes.contains { $0.contains("after Conv 'conv1': ONNX Conv writes NCHW") })
    }

    /// x -> Conv -> Pad -> Slice -> ReduceMean -> Softmax -> Resize -> Conv -> y: every op between
    /// the two Convs has its axes, pads, or scales remapped.
    @Test func axisOpsAreRemapped() throws {
        var b = GraphBuilder("axes")
        let x = b.input("x", [1, 3, 5, 5])
        let c = b.node("Conv", "conv1", [x, b.random("w1", [6, 3, 1, 1], seed: 31)], "c", [Attribute("kernel_shape", .ints([1, 1]))])
        let p = b.node("Pad", "pad", [c, b.ints("pads", [0, 0, 1, 0, 0, 0, 0, 2]), b.floats("pv", [0.25], [])], "p")
        let s = b.node("Slice", "slice", [p, b.ints("starts", [1, 0]), b.ints("ends", [5, 4]), b.ints("saxes", [1, -1])], "s")
        let red = b.node("ReduceMean", "mean", [s], "red", [Attribute("axes", .ints([2]))])
        let sm = b.node("Softmax", "softmax", [red], "sm", [Attribute("axis", .int(1))])
        let rs = b.node("Resize", "up", [sm, nil, b.floats("scales", [1, 1, 1, 2], [4])], "rs", [Attribute("mode", .string(Array("nearest".utf8)))])
        let y = b.node("Conv", "conv2", [rs, b.random("w2", [2, 4, 1, 1], seed: 32)], "y", [Attribute("kernel_shape", .ints([1, 1]))])
        // Opset 17: the newest libonnx's shape inference knows (ReduceMean's axes an attribute).
        let before = try applying("infer-shapes", to: b.model([y], opset: 17)).0
        let (after, rewrites, _) = try applying("convert-layout-nhwc", to: before)
        #expect(rewrites == 5)
        #expect(opTypes(after) == ["Conv", "Transpose", "Pad", "Slice", "ReduceMean", "Softmax", "Resize", "Transpose", "Conv"])
        try expectSameOutputs(before, after, rtol: 0, atol: 0)
    }

    @Test func doesNotFireWithoutNCHWOnlyOps() throws {
        // Nothing here is NCHW-only: the graph's own layout is kept.
        var b = GraphBuilder("plain")
        let x = b.input("x", [1, 4, 3, 3])
        let r = b.node("Relu", "relu", [x], "r")
        let y = b.node("Add", "add", [r, b.floats("k", [1, 2, 3, 4], [4, 1, 1])], "y")
        let before = b.model([y])
        let (after, rewrites, context) = try applying("convert-layout-nhwc", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Relu", "Add"])
        #expect(context.remarks.contains { $0.contains("0 Transpose node(s) remain") })
    }

    @Test func layoutSensitiveReadersKeepNCHW() throws {
        // Conv -> Reshape: a Reshape has no channels-last form; Softmax below opset 13
        // flattens, so it stays too. Neither gets a transpose.
        var b = GraphBuilder("sensitive")
        let x = b.input("x", [1, 3, 4, 4])
        let c = b.node("Conv", "conv", [x, b.random("w", [2, 3, 1, 1], seed: 41)], "c", [Attribute("kernel_shape", .ints([1, 1]))])
        let sm = b.node("Softmax", "softmax", [c], "sm", [Attribute("axis", .int(1))])
        let y = b.node("Reshape", "flat", [sm, b.ints("shape", [1, -1])], "y")
        var before = b.model([y], opset: 12)
        before = try applying("infer-shapes", to: before).0
        let (after, rewrites, _) = try applying("convert-layout-nhwc", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Conv", "Softmax", "Reshape"])
    }
}
