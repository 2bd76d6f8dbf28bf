import ModelIR
import ModelOps

/// Why a model cannot be run. One line each, naming the node or input.
public enum RuntimeError: Error, CustomStringConvertible, Sendable {
    /// No kernel for the op (or not at this opset).
    case unknownOp(op: String, domain: String, opset: Int, node: String)
    case missingInput(name: String)
    case unknownInput(name: String)
    /// An input whose dtype or shape disagrees with the model's declaration.
    case inputMismatch(name: String, expected: String, actual: String)
    /// A kernel failed.
    case kernel(node: String, op: String, error: String)
    /// A value a node needs was never computed (an absent output read later).
    case missingValue(name: String, node: String)

    public var description: String {
        switch self {
        case .unknownOp(let op, let domain, let opset, let node):
            let d = domain.isEmpty ? "ai.onnx" : domain
            return "node '\(node)': operator \(d)::\(op) at opset \(opset) is not supported"
        case .missingInput(let n): return "input '\(n)' is missing"
        case .unknownInput(let n): return "'\(n)' is not an input of the model"
        case .inputMismatch(let n, let e, let a): return "input '\(n)': expected \(e), got \(a)"
        case .kernel(let node, let op, let e): return "node '\(node)' (\(op)): \(e)"
        case .missingValue(let name, let node): return "node '\(node)': input '\(name)' was not computed"
        }
    }
}
