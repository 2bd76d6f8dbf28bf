import ModelIR
import ModelOps

/// An inference BatchNormalization as a per-channel affine map `y = x * scale + shift`, with
/// `scale = gamma / sqrt(var + epsilon)` and `shift = beta - mean * scale`, in double precision
/// (folding into float32 weights rounds once, at the end).
struct BatchNormParameters {
    var scale: [Double]
    var shift: [Double]
    /// The BN's mean, kept apart so a bias folds as `(b - mean) * scale + beta` (the order
    /// fuse-conv-batchnorm uses).
    var mean: [Double]
    var beta: [Double]

    /// The parameters of `bn` for `channels` channels, or a reason why they cannot be folded.
    static func of(_ bn: Node, in g: Graph, channels: Int) -> Result<BatchNormParameters, Reason> {
        guard bn.isOp("BatchNormalization"), bn.inputs.count == 5 else { return .failure(Reason("is not an inference BatchNormalization")) }
        if bn.outputs.dropFirst().contains(where: { $0 != nil }) { return .failure(Reason("computes training statistics")) }
        if case .int(let t)? = bn.attributes[named: "training_mode"], t != 0 { return .failure(Reason("training_mode is set")) }
        let params = bn.inputs[1...4].map { g.constant($0) }
        guard params.allSatisfy({ $0?.dtype == .float32 && $0?.elementCount == channels }) else {
            return .failure(Reason("scale, bias, mean and var are not float32 constants of \(channels) channels"))
        }
        let gamma = params[0]!.elements(Float.self), beta = params[1]!.elements(Float.self)
        let mean = params[2]!.elements(Float.self), variance = params[3]!.elements(Float.self)
        let epsilon = Double({ if case .float(let e)? = bn.attributes[named: "epsilon"] { return e }; return 1e-5 }())
        var p = BatchNormParameters(scale: [], shift: [], mean: mean.map(Double.init), beta: beta.map(Double.init))
        p.scale = [Double](repeating: 0, count: channels)
        p.shift = p.scale
        for c in 0..<channels {
            let s: Double = Double(gamma[c]) / (Double(variance[c]) + epsilon).squareRoot()
            p.scale[c] = s
            p.shift[c] = p.beta[c] - p.mean[c] * s
        }
        return .success(p)
    }

    /// The folded bias `(b - mean) * scale + beta` for an existing bias b (zeros when absent).
    func foldedBias(_ b: [Float]?) -> [Float] {
        var out = [Float](repeating: 0, count: scale.count)
        for c in 0..<scale.count {
            let bias: Double = b.map { Double($0[c]) } ?? 0
            let centered: Double = bias - mean[c]
            out[c] = Float(centered * scale[c] + beta[c])
        }
        return out
    }

    struct Reason: Error { let text: String; init(_ t: String) { text = t } }
}
