/// Every pass, an explicit list. A test walks it: each pass has tests, and each pipeline
/// names only registered passes.
public enum PassRegistry {
    public static let all: [any GraphPass] = [
        FoldConstants(),
        EliminateIdentity(),
        EliminateNoop(),
        EliminateDeadCode(),
        FuseConvBatchNorm(),
    ]

    public static func pass(named name: String) -> (any GraphPass)? {
        all.first { $0.name == name }
    }
}
