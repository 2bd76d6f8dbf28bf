import Testing
import ModelIR
import ModelPasses

@Suite("fuse-conv-batchnorm")
struct FuseConvBatchNormTests {
    @Test func fusesIntoTheConv() throws {
        let before = PassModels.convBN()
        let (after, rewrites, _) = try applying("fuse-conv-batchnorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Conv", "Relu"])
        // W and b are rewritten in place (this Conv is their only reader); the BN parameters
        // stay until eliminate-dead-code.
        #expect(Printer.print(after.graph) == """
            graph conv_bn(%x: float32[1,3,6,6]) -> (%y)
              %w = initializer float32[4,3,3,3]
              %b = initializer float32[4]
              %scale = initializer float32[4]
              %shift = initializer float32[4]
              %mean = initializer float32[4]
              %var = initializer float32[4]
              %c = Conv(%x, %w, %b) {kernel_shape=[3,3], pads=[1,1,1,1]} <- conv1,bn1
              %y = Relu(%c) <- relu1

            """)
        try expectSameOutputs(before, after)
    }

    @Test func doesNotFireWhenTheConvOutputHasAnotherReader() throws {
        let before = PassModels.convBN(secondReader: true)
        let (after, rewrites, context) = try applying("fuse-conv-batchnorm", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Conv", "BatchNormalization", "Relu"])
        #expect(context.notes.contains { $0.contains("bn1") && $0.contains("another reader") })
    }
}
