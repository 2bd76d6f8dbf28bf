/// What `modelconv inspect` reports about a model: interface, provenance, size and cost.
public struct ModelSummary: Codable, Sendable, Equatable {
    public struct Port: Codable, Sendable, Equatable {
        public var name: String
        /// `float32`, or the printed form of a non-tensor type (`seq<float32[*]>`).
        public var type: String
        /// Dims as printed: numbers, symbols, or `?`; nil when the rank is unknown.
        public var shape: [String]?
    }
    public struct Opset: Codable, Sendable, Equatable {
        public var domain: String
        public var version: Int64
    }
    public struct OpCount: Codable, Sendable, Equatable {
        public var op: String
        public var count: Int
    }
    public struct MACCount: Codable, Sendable, Equatable {
        public var op: String
        public var macs: Int
    }

    public var irVersion: Int64
    public var opsets: [Opset]
    public var producer: String
    public var inputs: [Port]
    public var outputs: [Port]
    /// Live nodes of the main graph.
    public var nodes: Int
    /// Live nodes including every subgraph.
    public var nodesWithSubgraphs: Int
    /// Node count per op type (subgraphs included), most frequent first.
    public var ops: [OpCount]
    /// Elements and bytes of the main graph's initializers.
    public var parameters: Int
    public var parameterBytes: Int
    /// Multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul whose shapes are known,
    /// counting symbolic dims (a batch size) as 1.
    public var macs: Int
    public var macsByOp: [MACCount]
    /// Conv/ConvTranspose/Gemm/MatMul nodes whose MACs could not be counted (shapes unknown).
    public var macsUnknownNodes: Int

    /// Summarizes `model`. MACs use the value types present (run shape inference first to
    /// have them for every intermediate).
    public init(_ model: Model) {
        let g = model.graph
        irVersion = model.irVersion
        opsets = model.opsetImports.map { Opset(domain: $0.domain, version: $0.version) }
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        func port(_ id: ValueID) -> Port {
            let v = g[value: id]
            switch v.type {
            case .tensor(let d, let s)?:
                return Port(name: v.name, type: d.description, shape: s.map { $0.dims.map(\.description) })
            case let t?:
                return Port(name: v.name, type: t.description, shape: nil)
            case nil:
                return Port(name: v.name, type: "unknown", shape: nil)
            }
        }
        inputs = g.inputs.filter { g[value: $0].initializer == nil }.map(port)
        outputs = g.outputs.map(port)
        nodes = g.nodeCount
        nodesWithSubgraphs = g.totalNodeCount
        var histogram: [String: Int] = [:]
        func count(_ graph: Graph) {
            for (_, n) in graph.liveNodes {
                let key = n.domain.isEmpty || n.domain == "ai.onnx" ? n.opType : "\(n.domain).\(n.opType)"
                histogram[key, default: 0] += 1
                for sub in n.subgraphs { count(sub) }
            }
        }
        count(g)
        ops = histogram.map { OpCount(op: $0.key, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.op < $1.op }
        var params = 0, bytes = 0
        for id in g.initializers {
            guard let t = g[value: id].initializer else { continue }
            params += t.elementCount ?? 0
            bytes += t.byteCount
        }
        parameters = params
        parameterBytes = bytes
        var byOp: [String: Int] = [:]
        var unknown = 0
        for (_, n) in g.liveNodes where n.domain.isEmpty || n.domain == "ai.onnx" {
            guard ["Conv", "ConvTranspose", "Gemm", "MatMul"].contains(n.opType) else { continue }
            if let m = ModelSummary.macs(of: n, in: g) {
                byOp[n.opType, default: 0] += m
            } else {
                unknown += 1
            }
        }
        macsByOp = byOp.map { MACCount(op: $0.key, macs: $0.value) }.sorted { $0.op < $1.op }
        macs = byOp.values.reduce(0, +)
        macsUnknownNodes = unknown
    }

    /// Dims of a value from its initializer or declared type; a symbolic dim (a batch
    /// size `N`) counts as 1, an unknown one makes the result nil.
    static func dims(_ id: ValueID?, in g: Graph) -> [Int]? {
        guard let id else { return nil }
        let v = g[value: id]
        if let t = v.initializer { return t.dims }
        guard let shape = v.type?.tensorShape else { return nil }
        var out: [Int] = []
        for d in shape.dims {
            switch d {
            case .known(let n) where n >= 0: out.append(n)
            case .known: out.append(1)  // -1: a dynamic dim, counted like a symbol
            case .symbolic: out.append(1)
            case .unknown: return nil
            }
        }
        return out
    }

    /// Multiply-accumulates of one Conv, ConvTranspose, Gemm or MatMul node; nil when the
    /// shapes it needs are not known.
    public static func macs(of n: Node, in g: Graph) -> Int? {
        func product(_ xs: [Int]) -> Int? { Shape.elementCount(of: xs) }
        func mul(_ a: Int?, _ b: Int?) -> Int? {
            guard let a, let b else { return nil }
            let (p, o) = a.multipliedReportingOverflow(by: b)
            return o ? nil : p
        }
        let input = n.inputs.first.flatMap { $0 }
        let weight = n.inputs.count > 1 ? n.inputs[1] : nil
        let output = n.outputs.first.flatMap { $0 }
        switch n.opType {
        case "Conv":
            guard let w = dims(weight, in: g), w.count >= 2, let y = dims(output, in: g) else { return nil }
            return mul(product(y), product(Array(w.dropFirst())))  // (C/group) * kernel per output
        case "ConvTranspose":
            guard let w = dims(weight, in: g), w.count >= 2, let x = dims(input, in: g) else { return nil }
            return mul(product(x), product(Array(w.dropFirst())))  // (M/group) * kernel per input
        case "Gemm":
            guard let a = dims(input, in: g), a.count == 2, let y = dims(output, in: g) else { return nil }
            var transA = false
            if case .int(let t)? = n.attributes[named: "transA"] { transA = t != 0 }
            return mul(product(y), transA ? a[0] : a[1])
        case "MatMul":
            guard let a = dims(input, in: g), let k = a.last, let y = dims(output, in: g) else { return nil }
            return mul(product(y), k)
        default:
            return nil
        }
    }
}
