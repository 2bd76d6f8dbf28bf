import ModelIR

/// Node provenance survives a trip through an ONNX file in one `metadata_props` entry,
/// `modelconv.provenance`: one line per main-graph node whose provenance is not just its own
/// name, `node<TAB>source<TAB>source...`, with `\`, tab and newline escaped as `\\`, `\t`,
/// `\n`. Runtimes ignore it; the importer reads it back and removes it from the metadata.
enum ProvenanceMetadata {
    static let key = "modelconv.provenance"

    /// The entry for `graph`, or nil when every node's provenance is its own name.
    static func encode(_ graph: Graph) -> String? {
        var lines: [String] = []
        for (_, node) in graph.liveNodes where !node.name.isEmpty && node.provenance != [node.name] {
            lines.append(([node.name] + node.provenance).map(escape).joined(separator: "\t"))
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// Node name -> provenance, from an entry written by `encode`.
    static func decode(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { unescape(String($0)) }
            if fields.count >= 2 { out[fields[0]] = Array(fields.dropFirst()) }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        var out = ""
        var escaping = false
        for c in s {
            if escaping {
                switch c {
                case "t": out.append("\t")
                case "n": out.append("\n")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
