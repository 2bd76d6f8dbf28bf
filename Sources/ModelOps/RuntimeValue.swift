import ModelIR

/// A value flowing through the interpreter: a tensor, a sequence of tensors, or an
/// empty optional.
public enum RuntimeValue: Sendable {
    case tensor(Tensor)
    case sequence([Tensor])
    /// An optional without a value (ONNX `Optional()` with no input).
    case none

    public var tensor: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    /// A short description of the type for messages: `float32[1,3]`, `seq(2)`, `none`.
    public var typeDescription: String {
        switch self {
        case .tensor(let t): return "\(t.dtype)\(Shape(t.dims))"
        case .sequence(let s): return "seq(\(s.count))"
        case .none: return "none"
        }
    }
}
