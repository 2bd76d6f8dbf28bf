import ModelIR

/// Read-only questions passes ask of a graph.
extension Graph {
    /// The constant tensor behind `id`: an initializer that is not an overridable graph input.
    public func constant(_ id: ValueID?) -> Tensor? {
        guard let id else { return nil }
        let v = self[value: id]
        guard !v.isGraphInput else { return nil }
        return v.initializer
    }

    /// The node producing `id`, if any.
    public func producer(of id: ValueID?) -> (id: NodeID, node: Node)? {
        guard let id, let p = self[value: id].producer else { return nil }
        return (p, self[node: p])
    }

    /// Whether `id` is read by exactly one node input and is not a graph output.
    public func hasSingleUse(_ id: ValueID) -> Bool {
        self[value: id].uses.count == 1 && !outputs.contains(id)
    }

    /// Whether `id` is a graph output.
    public func isGraphOutput(_ id: ValueID) -> Bool { outputs.contains(id) }

    /// The names values of this graph are read by from inside subgraphs (outer references).
    public var namesReadBySubgraphs: Set<String> {
        var names = Set<String>()
        func collect(_ g: Graph) {
            for v in g.values where v.isOuterReference { names.insert(v.name) }
            for (_, n) in g.liveNodes { for sub in n.subgraphs { collect(sub) } }
        }
        for (_, n) in liveNodes { for sub in n.subgraphs { collect(sub) } }
        return names
    }
}

extension Node {
    /// Whether the node's op is in the default ONNX domain and named `op`.
    public func isOp(_ op: String) -> Bool { opType == op && (domain.isEmpty || domain == "ai.onnx") }
}
