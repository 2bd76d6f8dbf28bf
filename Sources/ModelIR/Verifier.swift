/// One problem the verifier found, naming the node (or value) involved.
public struct VerificationProblem: Sendable, CustomStringConvertible, Equatable {
    /// The graph path: "main", or "main/If_3.then_branch" inside subgraphs.
    public var graph: String
    /// The node's name, when the problem is a node's.
    public var node: String?
    public var message: String

    public var description: String {
        if let node { return "\(graph): node '\(node)': \(message)" }
        return "\(graph): \(message)"
    }
}

/// The IR verifier: checks the invariants every pass must keep.
///
/// - the node order is topological and the graph acyclic;
/// - every node input and graph output is defined in this graph or, for subgraphs, in an
///   enclosing graph's scope;
/// - value names are unique, use-lists agree with node inputs;
/// - initializers agree with their declared types.
public enum Verifier {
    /// Subgraphs nested deeper than this are reported (the importer refuses them earlier).
    public static let maxSubgraphDepth = 64

    /// All problems of `graph` and its subgraphs, in graph order; empty when valid.
    public static func verify(_ graph: Graph) -> [VerificationProblem] {
        var problems: [VerificationProblem] = []
        verify(graph, path: graph.name.isEmpty ? "main" : graph.name, outerScope: [], depth: 0,
               into: &problems)
        return problems
    }

    /// Throws `VerificationFailure` with every problem when `graph` is not valid.
    public static func check(_ graph: Graph) throws(VerificationFailure) {
        let problems = verify(graph)
        if !problems.isEmpty { throw VerificationFailure(problems: problems) }
    }

    static func verify(_ g: Graph, path: String, outerScope: Set<String>, depth: Int,
                       into problems: inout [VerificationProblem]) {
        func report(_ node: String?, _ message: String) {
            problems.append(VerificationProblem(graph: path, node: node, message: message))
        }
        guard depth <= maxSubgraphDepth else {
            report(nil, "subgraphs nested deeper than \(maxSubgraphDepth)")
            return
        }
        // Names are unique by construction of the index; check the index agrees.
        var seen: [String: ValueID] = [:]
        for (i, v) in g.values.enumerated() where !v.name.isEmpty {
            if let other = seen[v.name], other != ValueID(i) {
                report(nil, "value name '\(v.name)' is defined twice")
            }
            seen[v.name] = ValueID(i)
        }
        // Order: every live node exactly once; inputs produced earlier; acyclic.
        var live = Set<NodeID>()
        for (i, n) in g.nodes.enumerated() where n != nil { live.insert(NodeID(i)) }
        if Set(g.order) != live || g.order.count != live.count {
            report(nil, "node order does not list every live node exactly once")
        }
        var copy = g
        let cycle = copy.sortTopologically()
        if !cycle.isEmpty {
            let names = cycle.prefix(4).map { "'\(g[node: $0].name)'" }.joined(separator: ", ")
            report(g[node: cycle[0]].name, "is on a cycle (nodes \(names)\(cycle.count > 4 ? ", ..." : ""))")
        }
        let position = Dictionary(uniqueKeysWithValues: g.order.enumerated().map { ($1, $0) })
        let scope = outerScope.union(g.values.lazy.filter { !$0.isOuterReference }.map(\.name))
        for (pos, id) in g.order.enumerated() {
            let node = g[node: id]
            for (i, input) in node.inputs.enumerated() {
                guard let input else { continue }
                let v = g[value: input]
                if !v.uses.contains(Use(node: id, input: i)) {
                    report(node.name, "use-list of '\(v.name)' misses input \(i)")
                }
                if v.isOuterReference {
                    if !outerScope.contains(v.name) {
                        report(node.name, "input '\(v.name)' is not defined")
                    }
                } else if let p = v.producer, cycle.isEmpty, let pp = position[p], pp >= pos {
                    report(node.name, "input '\(v.name)' is used before its producer '\(g[node: p].name)'")
                }
            }
            for case let out? in node.outputs where g[value: out].producer != id {
                report(node.name, "output '\(g[value: out].name)' names another producer")
            }
            for attr in node.attributes {
                for (k, sub) in attr.subgraphs.enumerated() {
                    let subPath = "\(path)/\(node.name).\(attr.name)" + (attr.subgraphs.count > 1 ? "[\(k)]" : "")
                    verify(sub, path: subPath, outerScope: scope, depth: depth + 1, into: &problems)
                }
            }
        }
        for out in g.outputs {
            let v = g[value: out]
            if v.isOuterReference && !outerScope.contains(v.name) {
                report(nil, "graph output '\(v.name)' is not defined")
            }
        }
        for id in g.initializers {
            let v = g[value: id]
            guard let t = v.initializer else { continue }
            if case .tensor(let dtype, let shape)? = v.type {
                if dtype != t.dtype {
                    report(nil, "initializer '\(v.name)' holds \(t.dtype) but is declared \(dtype)")
                }
                if let dims = shape?.staticDims, dims != t.dims {
                    report(nil, "initializer '\(v.name)' has dims \(t.dims) but is declared \(dims)")
                }
            }
        }
    }
}

/// The verifier's findings, thrown by `Verifier.check`.
public struct VerificationFailure: Error, CustomStringConvertible {
    public let problems: [VerificationProblem]
    public init(problems: [VerificationProblem]) { self.problems = problems }
    public var description: String {
        problems.count == 1 ? problems[0].description
            : "\(problems[0]) (and \(problems.count - 1) more problems)"
    }
}
