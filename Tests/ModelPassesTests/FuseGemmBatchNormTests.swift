import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("fuse-gemm-batchnorm")
struct FuseGemmBatchNormTests {
    /// a[2,5] -> Gemm(B[3,5] transposed, C[3], alpha 2, beta 0.5) -> BatchNormalization -> y.
    static func gemmBN() -> Model {
        var b = GraphBuilder("gemm_bn")
        let a = b.input("a", [2, 5])
        let w = b.random("w", [3, 5], seed: 11), c = b.random("c", [3], seed: 12)
        let h = b.node("Gemm", "fc", [a, w, c], "h",
                       [Attribute("alpha", .float(2)), Attribute("beta", .float(0.5)), Attribute("transB", .int(1))])
        let y = b.node("BatchNormalization", "bn", [h] + b.batchNorm("bn", channels: 3), "y")
        return b.model([y])
    }

    @Test func foldsIntoGemmWeightsAndBias() throws {
        let before = Self.gemmBN()
        let (after, rewrites, _) = try applying("fuse-gemm-batchnorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Gemm"])
        #expect(Printer.print(after.graph) == """
            graph gemm_bn(%a: float32[2,5]) -> (%y)
              %w = initializer float32[3,5]
              %c = initializer float32[3]
              %bn_scale = initializer float32[3]
              %bn_shift = initializer float32[3]
              %bn_mean = initializer float32[3]
              %bn_var = initializer float32[3]
              %y = Gemm(%a, %w, %c) {alpha=2, transB=1, beta=1} <- fc,bn

            """)
        try expectSameOutputs(before, after)
    }

    /// a[dims] -> MatMul(B[5,3]) -> BatchNormalization -> y.
    static func matMulBN(_ dims: [Int]) -> Model {
        var b = GraphBuilder("matmul_bn")
        let a = b.input("a", dims)
        let h = b.node("MatMul", "fc", [a, b.random("w", [5, 3], seed: 13)], "h")
        let y = b.node("BatchNormalization", "bn", [h] + b.batchNorm("bn", channels: 3), "y")
        return b.model([y])
    }

    @Test func matMulAndBatchNormBecomeOneGemm() throws {
        let before = Self.matMulBN([4, 5])
        let (after, rewrites, _) = try applying("fuse-gemm-batchnorm", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Gemm"])
        #expect(Printer.print(after.graph) == """
            graph matmul_bn(%a: float32[4,5]) -> (%y)
              %w = initializer float32[5,3]
              %bn_scale = initializer float32[3]
              %bn_shift = initializer float32[3]
              %bn_mean = initializer float32[3]
              %bn_var = initializer float32[3]
              %w_bn = initializer float32[5,3]
              %y_bias = initializer float32[3]
              %y = Gemm(%a, %w_bn, %y_bias) <- fc,bn

            """)
        try expectSameOutputs(before, after)
    }

    @Test func doesNotFireWhenTheChannelAxisIsNotTheColumns() throws {
        // a[2,3,5] @ B: BN's axis 1 is a row axis of the 3-D product, not B's columns.
        var b = GraphBuilder("matmul3d_bn")
        let a = b.input("a", [2, 3, 5])
        let h = b.node("MatMul", "fc", [a, b.random("w", [5, 4], seed: 13)], "h")
        let y = b.node("BatchNormalization", "bn", [h] + b.batchNorm("bn", channels: 3), "y")
        let (after, rewrites, context) = try applying("fuse-gemm-batchnorm", to: b.model([y]))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["MatMul", "BatchNormalization"])
        #expect(context.notes.contains { $0.contains("bn") && $0.contains("2-D") })
    }
}
