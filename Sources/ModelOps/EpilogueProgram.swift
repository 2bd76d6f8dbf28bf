import CKernels
import ModelIR

/// One elementwise step a convolution applies to its output after bias, residual and clamp:
/// a node the interpreter folded into the Conv's epilogue (`EpilogueFusion`).
public enum EpilogueStep: Equatable, Sendable {
    /// `x + k`, `x - k`, `k - x`, `x * k`, `x / k`, `k / x`.
    case add(Float), sub(Float), subFrom(Float), mul(Float), div(Float), divideInto(Float)
    /// Clamped to [lo, hi] (NaN kept), as `Clip` with constant bounds.
    case clip(Float, Float)
    case relu
    /// Remember the current value, and later multiply by it (the hard-swish of opsets below 14
    /// spelled out reads the Conv output twice: `c * clip(c + 3, 0, 6) / 6`).
    case save, mulSaved

    var code: Int32 {
        switch self {
        case .add: Int32(MC_EPILOGUE_ADD)
        case .sub: Int32(MC_EPILOGUE_SUB)
        case .subFrom: Int32(MC_EPILOGUE_SUB_FROM)
        case .mul: Int32(MC_EPILOGUE_MUL)
        case .div: Int32(MC_EPILOGUE_DIV)
        case .divideInto: Int32(MC_EPILOGUE_DIVIDE_INTO)
        case .clip: Int32(MC_EPILOGUE_CLIP)
        case .relu: Int32(MC_EPILOGUE_RELU)
        case .save: Int32(MC_EPILOGUE_SAVE)
        case .mulSaved: Int32(MC_EPILOGUE_MUL_SAVED)
        }
    }

    var params: (Float, Float) {
        switch self {
        case .add(let k), .sub(let k), .subFrom(let k), .mul(let k), .div(let k), .divideInto(let k): (k, 0)
        case .clip(let lo, let hi): (lo, hi)
        case .relu, .save, .mulSaved: (0, 0)
        }
    }

    private static let names = ["add", "sub", "sub_from", "mul", "div", "divide_into", "clip", "relu", "save", "mul_saved"]

    /// `mul 0.5`, `clip 0.0 6.0`, `save`: the annotation form (floats print so that they read
    /// back to the same value).
    public var text: String {
        let name = Self.names[Int(code)]
        switch self {
        case .clip(let lo, let hi): return "\(name) \(lo) \(hi)"
        case .relu, .save, .mulSaved: return name
        default: return "\(name) \(params.0)"
        }
    }

    public init?(text: Substring) {
        let parts = text.split(separator: " ")
        guard let name = parts.first else { return nil }
        let values = parts.dropFirst().compactMap { Float(String($0)) }
        guard values.count == parts.count - 1 else { return nil }
        switch (name, values.count) {
        case ("add", 1): self = .add(values[0])
        case ("sub", 1): self = .sub(values[0])
        case ("sub_from", 1): self = .subFrom(values[0])
        case ("mul", 1): self = .mul(values[0])
        case ("div", 1): self = .div(values[0])
        case ("divide_into", 1): self = .divideInto(values[0])
        case ("clip", 2): self = .clip(values[0], values[1])
        case ("relu", 0): self = .relu
        case ("save", 0): self = .save
        case ("mul_saved", 0): self = .mulSaved
        default: return nil
        }
    }
}

/// The elementwise steps a Conv node's `fused_epilogue_ops` annotation lists (`;`-separated
/// `EpilogueStep` texts), run by `mc_epilogue_program_f32` one float operation per step and
/// element in the nodes' order, so each element is rounded as the nodes round it.
public struct EpilogueProgram: Sendable {
    public static let annotation = "fused_epilogue_ops"
    public let steps: [EpilogueStep]
    private let codes: [Int32]
    private let params: [Float]

    public init(steps: [EpilogueStep]) {
        self.steps = steps
        codes = steps.map(\.code)
        params = steps.flatMap { [$0.params.0, $0.params.1] }
    }

    /// The node's program; nil when it has none (or one that does not parse).
    public init?(_ node: Node) {
        guard let text = node.annotations[Self.annotation] else { return nil }
        var steps: [EpilogueStep] = []
        for part in text.split(separator: ";") {
            guard let step = EpilogueStep(text: part) else { return nil }
            steps.append(step)
        }
        guard !steps.isEmpty else { return nil }
        self.init(steps: steps)
    }

    public var text: String { steps.map(\.text).joined(separator: ";") }

    /// Runs the steps over `rows` rows of `cols` floats at `y`, row stride `ld`.
    func apply(_ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        mc_epilogue_program_f32(y, Int32(rows), Int32(cols), ld, codes, params, Int32(codes.count))
    }

    func apply(_ y: UnsafeMutablePointer<Float>, count: Int) {
        var done = 0
        while done < count {
            let n = min(count - done, Int(Int32.max))
            apply(y + done, rows: 1, cols: n, ld: n)
            done += n
        }
    }
}
