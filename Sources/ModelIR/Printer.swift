/// The compact text form of the IR: one line per node, used by golden tests,
/// `modelconv inspect --ir`, pass docs and error messages.
///
/// ```
/// graph main(%x: float32[1,3,8,8]) -> (%y)
///   %w = initializer float32[4,3,3,3]
///   %y = Conv(%x, %w) {pads=[1,1,1,1]} <- conv1
/// ```
/// Absent optional inputs print as `_`; subgraphs print indented under their node; node
/// annotations (not ONNX attributes) print in brackets, sorted: `[fused_activation=Relu]`.
/// Values print by name; a name that is not a plain identifier is quoted.
public enum Printer {
    /// The whole graph, subgraphs included. `maxElements` limits how many elements of
    /// small constant tensors are shown inline (0: none).
    public static func print(_ graph: Graph, maxElements: Int = 0) -> String {
        var out = ""
        emit(graph, indent: "", label: "graph " + ident(graph.name.isEmpty ? "main" : graph.name), into: &out)
        return out
    }

    /// One node as a single line (no subgraph bodies), for error messages.
    public static func line(_ id: NodeID, in graph: Graph) -> String {
        nodeLine(graph[node: id], in: graph)
    }

    static func emit(_ g: Graph, indent: String, label: String, into out: inout String) {
        let ins = g.inputs.filter { g[value: $0].initializer == nil }.map { id -> String in
            let v = g[value: id]
            return "%" + ident(v.name) + (v.type.map { ": \($0)" } ?? "")
        }
        let outs = g.outputs.map { "%" + ident(g[value: $0].name) }
        out += "\(indent)\(label)(\(ins.joined(separator: ", "))) -> (\(outs.joined(separator: ", ")))\n"
        let inner = indent + "  "
        for id in g.initializers {
            let v = g[value: id]
            guard let t = v.initializer else { continue }
            out += "\(inner)%\(ident(v.name)) = initializer \(t.dtype)\(Shape(t.dims))\n"
        }
        for (_, node) in g.liveNodes {
            out += inner + nodeLine(node, in: g) + "\n"
            for attr in node.attributes {
                for (k, sub) in attr.subgraphs.enumerated() {
                    let name = attr.subgraphs.count > 1 ? "\(attr.name)[\(k)]" : attr.name
                    emit(sub, indent: inner + "  ", label: name, into: &out)
                }
            }
        }
    }

    static func nodeLine(_ node: Node, in g: Graph) -> String {
        let outs = node.outputs.map { $0.map { "%" + ident(g[value: $0].name) } ?? "_" }
        let ins = node.inputs.map { $0.map { "%" + ident(g[value: $0].name) } ?? "_" }
        let op = node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain).\(node.opType)"
        var s = outs.isEmpty ? "" : outs.joined(separator: ", ") + " = "
        s += "\(op)(\(ins.joined(separator: ", ")))"
        let attrs = node.attributes.map { "\($0.name)=\(format($0.value))" }
        if !attrs.isEmpty { s += " {" + attrs.joined(separator: ", ") + "}" }
        if !node.annotations.isEmpty {
            s += " [" + node.annotations.sorted { $0.key < $1.key }.map { "\(ident($0.key))=\(ident($0.value))" }.joined(separator: ", ") + "]"
        }
        if !node.provenance.isEmpty { s += " <- " + node.provenance.map(ident).joined(separator: ",") }
        return s
    }

    static func format(_ v: AttributeValue) -> String {
        func str(_ b: [UInt8]) -> String { quote(String(decoding: b, as: UTF8.self)) }
        func tensor(_ t: Tensor) -> String { "tensor<\(t.dtype)\(Shape(t.dims))>" }
        switch v {
        case .float(let f): return formatFloat(f)
        case .int(let i): return String(i)
        case .string(let b): return str(b)
        case .tensor(let t): return tensor(t)
        case .graph(let g): return "graph<\(g.nodeCount) nodes>"
        case .sparseTensor(let s): return "sparse<\(s.values.dtype)\(Shape(s.dims))>"
        case .type(let t): return "type<\(t)>"
        case .floats(let fs): return "[" + fs.map(formatFloat).joined(separator: ",") + "]"
        case .ints(let xs): return "[" + xs.map(String.init).joined(separator: ",") + "]"
        case .strings(let ss): return "[" + ss.map(str).joined(separator: ",") + "]"
        case .tensors(let ts): return "[" + ts.map(tensor).joined(separator: ",") + "]"
        case .graphs(let gs): return "[" + gs.map { "graph<\($0.nodeCount) nodes>" }.joined(separator: ",") + "]"
        case .sparseTensors(let ss): return "[" + ss.map { "sparse<\($0.values.dtype)\(Shape($0.dims))>" }.joined(separator: ",") + "]"
        case .types(let ts): return "[" + ts.map { "type<\($0)>" }.joined(separator: ",") + "]"
        }
    }

    /// Shortest round-tripping decimal form (Swift's float description), `1` for 1.0.
    static func formatFloat(_ f: Float) -> String {
        if f.isFinite, f == f.rounded(), abs(f) < 1e15 { return String(Int64(f)) }
        return f.description
    }

    /// `name` as is when it is a plain identifier (letters, digits, `_ . / : -`), else quoted.
    static func ident(_ name: String) -> String {
        if !name.isEmpty, name.utf8.allSatisfy({ c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                || c == 95 || c == 46 || c == 47 || c == 58 || c == 45
        }) { return name }
        return quote(name)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if ch.value < 32 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}
