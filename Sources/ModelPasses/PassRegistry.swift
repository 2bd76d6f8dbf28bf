/// Every pass, an explicit list. A test walks it: each pass has tests, and each pipeline
/// names only registered passes.
public enum PassRegistry {
    public static let all: [any GraphPass] = [
        InferShapes(),
        FoldConstants(),
        EliminateIdentity(),
        EliminateNoop(),
        EliminateDeadCode(),
        FuseConvBatchNorm(),
        FuseConvAdd(),
        FuseConvMul(),
        FuseMatMulAdd(),
        MergeDuplicateInitializers(),
        EliminateCommonSubexpressions(),
        MergeTransposes(),
        FuseHardSwish(),
        FuseGelu(),
        FuseLayerNorm(),
        FuseActivation(),
        FusePadConv(),
        MergeReshapes(),
        TransposeToReshape(),
        MergeSlices(),
        FuseConvTransposeAdd(),
        FuseConvTransposeBatchNorm(),
        FuseGemmBatchNorm(),
        ConvertLayoutNHWC(),
    ]

    public static func pass(named name: String) -> (any GraphPass)? {
        all.first { $0.name == name }
    }
}
