import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("fuse-convtranspose-batchnorm and fuse-convtranspose-add")
struct FuseConvTransposeTests {
    /// x[1,4,3,3] -> ConvTranspose(W[4,3,2,2], group 2: 6 output channels, stride 2,
    /// output_padding 1, bias) -> BatchNormalization -> Relu -> y.
    static func convTransposeBN(secondReader: Bool = false) -> Model {
        var b = GraphBuilder("deconv_bn")
        let x = b.input("x", [1, 4, 3, 3])
        let w = b.random("w", [4, 3, 2, 2], seed: 5), bias = b.random("b", [6], seed: 6)
        let t = b.node("ConvTranspose", "up", [x, w, bias], "t",
                       [Attribute("group", .int(2)), Attribute("strides", .ints([2, 2])), Attribute("output_padding", .ints([1, 1]))])
        let n = b.node("BatchNormalization", "bn", [t] + b.batchNorm("bn", channels: 6), "n", [Attribute("epsilon", .float(1e-3))])
        let y = b.node("Relu", "relu", [n], "y")
        return b.model(secondReader ? [y, t] : [y])
    }

    @Test func batchNormFoldsPerGroupOutputChannel() throws {
        let before = Self.convTransposeBN()
        let (after, rewrites, _) = try applying("fuse-convtranspose-batchnorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["ConvTranspose", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph deconv_bn(%x: float32[1,4,3,3]) -> (%y)
              %w = initializer float32[4,3,2,2]
              %b = initializer float32[6]
              %bn_scale = initializer float32[6]
              %bn_shift = initializer float32[6]
              %bn_mean = initializer float32[6]
              %bn_var = initializer float32[6]
              %t = ConvTranspose(%x, %w, %b) {group=2, strides=[2,2], output_padding=[1,1]} <- up,bn
              %y = Relu(%t) <- relu

            """)
        try expectSameOutputs(before, after)
    }

    @Test func batchNormDoesNotFoldWhenTheOutputHasAnotherReader() throws {
        let (after, rewrites, context) = try applying("fuse-convtranspose-batchnorm", to: Self.convTransposeBN(secondReader: true))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["ConvTranspose", "BatchNormalization", "Relu"])
        #expect(context.notes.contains { $0.contains("bn") && $0.contains("another reader") })
    }

    /// x[1,4,3,3] -> ConvTranspose (no bias, 6 channels) -> Add(addend) -> y.
    static func convTransposeAdd(addend: [Float], dims: [Int]) -> Model {
        var b = GraphBuilder("deconv_add")
        let x = b.input("x", [1, 4, 3, 3])
        let w = b.random("w", [4, 3, 2, 2], seed: 7)
        let t = b.node("ConvTranspose", "up", [x, w], "t", [Attribute("group", .int(2)), Attribute("strides", .ints([2, 2]))])
        let y = b.node("Add", "add", [t, b.floats("c", addend, dims)], "y")
        return b.model([y])
    }

    @Test func aPerChannelAddBecomesTheBias() throws {
        let before = Self.convTransposeAdd(addend: [0.5, -1, 2, 0.25, 0, 3], dims: [1, 6, 1, 1])
        let (after, rewrites, _) = try applying("fuse-convtranspose-add", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["ConvTranspose"])
        #expect(Printer.print(after.graph) == """
            graph deconv_add(%x: float32[1,4,3,3]) -> (%y)
              %w = initializer float32[4,3,2,2]
              %c = initializer float32[1,6,1,1]
              %up_bias = initializer float32[6]
              %y = ConvTranspose(%x, %w, %up_bias) {group=2, strides=[2,2]} <- up,add

            """)
        try expectSameOutputs(before, after)
    }

    @Test func aSpatialAddendIsNotABias() throws {
        let spatial = (0..<36).map { Float($0) * 0.1 }
        let (after, rewrites, context) = try applying("fuse-convtranspose-add", to: Self.convTransposeAdd(addend: spatial, dims: [1, 1, 6, 6]))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["ConvTranspose", "Add"])
        #expect(context.notes.contains { $0.contains("add") && $0.contains("per-channel") })
    }
}
