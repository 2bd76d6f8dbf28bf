import ModelIR

/// The signature of a kernel: compute a node's outputs (one per node output; an absent
/// output may get any value, it is dropped).
public typealias Kernel = @Sendable (KernelContext) throws -> [RuntimeValue]

/// One operator as the interpreter and constant folding know it.
public struct OpSchema: Sendable {
    /// "" for the default ONNX domain.
    public let domain: String
    public let opType: String
    /// The opset versions at which ONNX changed this operator and that the kernel handles
    /// (ONNX's `since_version`s, ascending). A node whose opset is older than the first is
    /// not supported; the kernel branches on `KernelContext.opset` where versions differ.
    public let versions: [Int]
    public let kernel: Kernel

    public init(_ opType: String, domain: String = "", versions: [Int], kernel: @escaping Kernel) {
        self.opType = opType
        self.domain = domain
        self.versions = versions
        self.kernel = kernel
    }

    /// Whether the kernel handles this operator at `opset`.
    public func supports(opset: Int) -> Bool { opset >= (versions.first ?? 1) }
}
