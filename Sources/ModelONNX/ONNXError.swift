/// Why a model could not be read or written. Every case names the file, tensor or node a
/// person needs to find the problem; `description` is the one line the CLI prints.
public enum ONNXError: Error, CustomStringConvertible, Sendable {
    /// The file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// The bytes are not a well-formed ModelProto.
    case malformed(file: String, reason: String)
    /// A tensor's contents do not agree with its type and dims.
    case invalidTensor(file: String, tensor: String, reason: String)
    /// External data that is missing, short, or outside the model's folder.
    case externalData(file: String, tensor: String, location: String, reason: String)
    /// A node that cannot be imported (a function-call cycle, bad attribute...).
    case invalidNode(file: String, node: String, reason: String)
    /// Subgraphs (If/Loop/Scan bodies) nested past the cap.
    case nestingTooDeep(file: String, node: String, limit: Int)
    /// The graph is not valid SSA (a name defined twice, a value used but never defined...).
    case invalidGraph(file: String, reason: String)
    /// The output could not be written.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read: \(r)"
        case .malformed(let f, let r): return "\(f): not a valid ONNX model: \(r)"
        case .invalidTensor(let f, let t, let r): return "\(f): tensor '\(t)': \(r)"
        case .externalData(let f, let t, let l, let r):
            return "\(f): tensor '\(t)': external data '\(l)': \(r)"
        case .invalidNode(let f, let n, let r): return "\(f): node '\(n)': \(r)"
        case .nestingTooDeep(let f, let n, let limit):
            return "\(f): node '\(n)': subgraphs nested deeper than \(limit) levels"
        case .invalidGraph(let f, let r): return "\(f): \(r)"
        case .writeFailed(let f, let r): return "\(f): cannot write: \(r)"
        }
    }
}
