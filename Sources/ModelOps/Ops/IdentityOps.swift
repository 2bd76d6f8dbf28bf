import ModelIR

/// Identity and the ops that are identities at inference (Optional and its accessors live
/// with the sequence ops in SequenceOps):
/// - Identity passes any value through (tensor, sequence, optional) without copying.
/// - Dropout (opset 1-22) returns its input; its optional mask is all true (bool from
///   opset 10, ones of the input's type before). Training mode (opset 12's `training_mode`
///   input set to true) keeps element i when the i-th draw of NumPy's legacy
///   `RandomState(seed).uniform(0, 1)` is >= ratio and scales kept elements by
///   1 / (1 - ratio): the draws the ONNX backend tests were made with (seed attribute,
///   default 0).
enum IdentityOps {
    static let schemas: [OpSchema] = [
        OpSchema("Identity", versions: [1, 13, 14, 16, 19, 21, 23, 24, 25]) { ctx in
            guard let v = ctx.inputs.first ?? nil else { throw OpError.invalid("input 0 is required but absent") }
            return [v]
        },
        OpSchema("Dropout", versions: [1, 6, 7, 10, 12, 13, 22]) { ctx in
            let x = try ctx.tensor(0)
            if ctx.opset >= 12, let training = ctx.optionalTensor(2) {
                guard training.dtype == .bool, training.elementCount == 1 else {
                    throw OpError.invalid("input 2 (training_mode) must be a bool scalar, got \(training.dtype)\(training.dims)")
                }
                let ratio = try ctx.optionalTensor(1).map { try Movement.doubles($0, "input 1 (ratio)") } ?? [0.5]
                guard ratio.count == 1, ratio[0] >= 0, ratio[0] < 1 else {
                    throw OpError.invalid("input 1 (ratio) must be one value in [0, 1), got \(ratio)")
                }
                if training.elements(Bool.self)[0] && ratio[0] != 0 {
                    return try trainingDropout(x, ratio: ratio[0], seed: ctx.int("seed") ?? 0)
                }
            }
            guard ctx.wantsOutput(1) else { return [.tensor(x)] }
            let ones = try Movement.scalar(1, dtype: ctx.opset >= 10 ? .bool : x.dtype)
            let mask = try Movement.map([ones], dtype: ones.dtype, dims: x.dims, ConstantOps.FillMover())
            return [.tensor(x), .tensor(mask)]
        },
    ]

    static func trainingDropout(_ x: Tensor, ratio: Double, seed: Int) throws -> [RuntimeValue] {
        let n = x.elementCount ?? 0
        var rng = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed))
        let keep = (0..<n).map { _ in rng.nextDouble() >= ratio }
        guard let y = try x.dtype.visitFloat(ScaleVisitor(x: x, keep: keep, scale: 1 / (1 - ratio))) else {
            throw OpError.invalid("input 0 must be floating point, got \(x.dtype)")
        }
        return [.tensor(y), .tensor(Tensor.of(keep, dims: x.dims))]
    }

    /// keep[i] ? x[i] * scale : 0, computed in Float (Double for float64) and rounded once.
    struct ScaleVisitor: FloatVisitor {
        let x: Tensor
        let keep: [Bool]
        let scale: Double
        func visit<T: FloatElement>(_: T.Type) throws -> Tensor {
            Tensor.make(T.self, dims: x.dims) { out in
                x.withElements(T.self) { v in
                    for i in 0..<out.count where keep[i] {
                        out[i] = T.self == Double.self ? T.from(v[i].asDouble * scale) : T.from(Double(v[i].asFloat * Float(scale)))
                    }
                }
            }
        }
    }

    /// MT19937 seeded like NumPy's legacy `RandomState(seed)`, with its 53-bit `random_sample`.
    struct MersenneTwister {
        var state = [UInt32](repeating: 0, count: 624)
        var index = 624

        init(seed: UInt32) {
            state[0] = seed
            for i in 1..<624 { state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i) }
        }

        mutating func next() -> UInt32 {
            if index >= 624 {
                for i in 0..<624 {
                    let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
                    state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
                }
                index = 0
            }
            var y = state[index]
            index += 1
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C_5680
            y ^= (y << 15) & 0xEFC6_0000
            y ^= y >> 18
            return y
        }

        /// A double in [0, 1) from two draws, as NumPy's `random_sample`.
        mutating func nextDouble() -> Double {
            let a = Double(next() >> 5), b = Double(next() >> 6)
            return (a * 67_108_864 + b) / 9_007_199_254_740_992
        }
    }
}
