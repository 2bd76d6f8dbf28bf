/// One entry of a model's `opset_import`.
public struct OpsetImport: Hashable, Sendable {
    /// "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    public var version: Int64

    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A model: the main graph plus what ONNX's `ModelProto` says around it.
public struct Model: Sendable {
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    /// `metadata_props`, in source order.
    public var metadata: [(key: String, value: String)]
    public var graph: Graph

    public init(graph: Graph, irVersion: Int64 = 8, opsetImports: [OpsetImport] = [],
                producerName: String = "", producerVersion: String = "", domain: String = "",
                modelVersion: Int64 = 0, docString: String = "",
                metadata: [(key: String, value: String)] = []) {
        self.graph = graph
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.metadata = metadata
    }

    /// The imported version of `domain` ("" and "ai.onnx" are the same domain).
    public func opsetVersion(_ domain: String) -> Int64? {
        let d = domain == "ai.onnx" ? "" : domain
        return opsetImports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == d }?.version
    }
}
