import Testing
import ModelIR
import ModelOps
import ModelPasses
import ModelONNX
import _ModelTestSupport

@Suite("fuse-activation")
struct FuseActivationTests {
    /// x[1,3,6,6] -> Conv(4x3x3x3, bias) -> activation -> y, or x[2,5] -> Gemm -> activation.
    /// With `secondReader`, the Conv/Gemm output is also a graph output.
    static func model(_ activation: String, gemm: Bool = false, clipMax: Float = 6, secondReader: Bool = false) -> Model {
        var b = PatternGraphBuilder("act")
        let x = b.input("x", gemm ? [2, 5] : [1, 3, 6, 6])
        let c: ValueID
        if gemm {
            let w = b.constant("w", TestModels.randomFloats([5, 4], seed: 1, name: "w"))
            c = b.node("Gemm", "fc", [x, w, b.constant("b", TestModels.randomFloats([4], seed: 2, name: "b"))])
        } else {
            let w = b.constant("w", TestModels.randomFloats([4, 3, 3, 3], seed: 1, name: "w"))
            c = b.node("Conv", "conv", [x, w, b.constant("b", TestModels.randomFloats([4], seed: 2, name: "b"))],
                       [Attribute("kernel_shape", .ints([3, 3]))])
        }
        let y: ValueID
        switch activation {
        case "Clip": y = b.node("Clip", "act", [c, b.scalar("zero", 0), b.scalar("six", clipMax)])
        case "LeakyRelu": y = b.node("LeakyRelu", "act", [c], [Attribute("alpha", .float(0.1))])
        default: y = b.node(activation, "act", [c])
        }
        return b.model(outputs: secondReader ? [y, c] : [y], opset: 17)
    }

    @Test func annotatesTheConvAndKeepsTheActivation() throws {
        let before = Self.model("Clip")
        let (after, rewrites, _) = try applying("fuse-activation", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Conv", "Clip"])
        #expect(Printer.print(after.graph) == """
            graph act(%x: float32[1,3,6,6]) -> (%act)
              %w = initializer float32[4,3,3,3]
              %b = initializer float32[4]
              %zero = initializer float32[]
              %six = initializer float32[]
              %conv = Conv(%x, %w, %b) {kernel_shape=[3,3]} [fused_activation=Clip, fused_activation_max=6, fused_activation_min=0] <- conv
              %act = Clip(%conv, %zero, %six) <- act

            """)
        try expectSameOutputs(before, after)
    }

    @Test(arguments: ["Relu", "LeakyRelu", "Sigmoid", "HardSwish"], [false, true])
    func annotatesEachActivation(_ activation: String, gemm: Bool) throws {
        let before = Self.model(activation, gemm: gemm)
        let (after, rewrites, _) = try applying("fuse-activation", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == [gemm ? "Gemm" : "Conv", activation])
        let producer = after.graph.liveNodes[0].node
        var expected = ["fused_activation": activation]
        if activation == "LeakyRelu" { expected["fused_activation_alpha"] = "0.1" }
        #expect(producer.annotations == expected)
        try expectSameOutputs(before, after)
    }

    @Test func theONNXExportIsUnchanged() throws {
        // Annotations are not ONNX: the exported model of the annotated graph is the one of the
        // graph before, byte for byte.
        let before = Self.model("Relu")
        let (after, _, _) = try applying("fuse-activation", to: before)
        #expect(after.graph.liveNodes[0].node.annotations["fused_activation"] == "Relu")
        #expect(ONNXExporter.serialize(after) == ONNXExporter.serialize(before))
    }

    @Test func doesNotFireWhenTheConvOutputHasAnotherReaderOrTheClipIsNotRelu6() throws {
        let (a, rewritesA, context) = try applying("fuse-activation", to: Self.model("Relu", secondReader: true))
        #expect(rewritesA == 0)
        #expect(a.graph.liveNodes.allSatisfy { $0.node.annotations.isEmpty })
        #expect(context.notes.contains { $0.contains("another reader") })
        let (b, rewritesB, _) = try applying("fuse-activation", to: Self.model("Clip", clipMax: 4))
        #expect(rewritesB == 0)
        #expect(b.graph.liveNodes.allSatisfy { $0.node.annotations.isEmpty })
    }
}
