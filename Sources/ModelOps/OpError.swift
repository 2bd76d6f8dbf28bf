import ModelIR

/// Why a kernel could not compute a node. The interpreter adds the node's name and op.
public enum OpError: Error, CustomStringConvertible, Sendable {
    /// The node is well-formed but asks for something this kernel does not do (a dtype,
    /// an attribute value, a mode).
    case unsupported(String)
    /// The node or its inputs break the operator's contract (a missing required input,
    /// shapes that do not broadcast, an index out of range).
    case invalid(String)

    public var description: String {
        switch self {
        case .unsupported(let s): return "unsupported: \(s)"
        case .invalid(let s): return s
        }
    }
}
