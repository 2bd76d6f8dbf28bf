import ModelIR

/// Activation functions: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid,
/// HardSwish, Tanh, Softplus, Softsign, Gelu, Swish, Mish, ThresholdedRelu, Shrink, Clip.
/// Float attributes (alpha, beta...) are float32 values, converted to the tensor's type as
/// NumPy does with a Python scalar. 16-bit floats compute in Float, rounded once.
enum ActivationOps {
    static let schemas: [OpSchema] = [
        OpSchema("Relu", versions: [1, 6, 13, 14]) { ctx in
            [.tensor(try mapNumeric(try ctx.tensor(0), ReluFunction(), threads: ctx.threads))]
        },
        OpSchema("LeakyRelu", versions: [1, 6, 16]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), LeakyReluFunction(alpha: ctx.float("alpha", default: 0.01)), threads: ctx.threads))]
        },
        OpSchema("PRelu", versions: [1, 6, 7, 9, 16]) { ctx in
            [.tensor(try prelu(try ctx.tensor(0), try ctx.tensor(1), threads: ctx.threads))]
        },
        OpSchema("Elu", versions: [1, 6, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), EluFunction(alpha: ctx.float("alpha", default: 1)), threads: ctx.threads))]
        },
        OpSchema("Selu", versions: [1, 6, 22]) { ctx in
            let f = SeluFunction(alpha: ctx.float("alpha", default: 1.67326319217681884765625),
                                 gamma: ctx.float("gamma", default: 1.05070102214813232421875))
            return [.tensor(try mapFloat(try ctx.tensor(0), f, threads: ctx.threads))]
        },
        OpSchema("Celu", versions: [12, 28]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), CeluFunction(alpha: ctx.float("alpha", default: 1)), threads: ctx.threads))]
        },
        OpSchema("Sigmoid", versions: [1, 6, 13]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), SigmoidFunction(), threads: ctx.threads))]
        },
        OpSchema("HardSigmoid", versions: [1, 6, 22]) { ctx in
            let f = HardSigmoidFunction(alpha: ctx.float("alpha", default: 0.2), beta: ctx.float("beta", default: 0.5))
            return [.tensor(try mapFloat(try ctx.tensor(0), f, threads: ctx.threads))]
        },
        OpSchema("HardSwish", versions: [14, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), HardSwishFunction(), threads: ctx.threads))]
        },
        OpSchema("Tanh", versions: [1, 6, 13]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), TanhFunction(), threads: ctx.threads))]
        },
        OpSchema("Softplus", versions: [1, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), SoftplusFunction(), threads: ctx.threads))]
        },
        OpSchema("Softsign", versions: [1, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), SoftsignFunction(), threads: ctx.threads))]
        },
        OpSchema("Gelu", versions: [20]) { ctx in
            let x = try ctx.tensor(0)
            switch ctx.string("approximate", default: "none") {
            case "none": return [.tensor(try mapFloat(x, GeluFunction(), threads: ctx.threads))]
            case "tanh": return [.tensor(try mapFloat(x, GeluTanhFunction(), threads: ctx.threads))]
            case let other: throw OpError.invalid("attribute 'approximate' is '\(other)'; expected none or tanh")
            }
        },
        OpSchema("Swish", versions: [24]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), SwishFunction(alpha: ctx.float("alpha", default: 1)), threads: ctx.threads))]
        },
        OpSchema("Mish", versions: [18, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), MishFunction(), threads: ctx.threads))]
        },
        OpSchema("ThresholdedRelu", versions: [10, 22]) { ctx in
            [.tensor(try mapFloat(try ctx.tensor(0), ThresholdedReluFunction(alpha: ctx.float("alpha", default: 1)), threads: ctx.threads))]
        },
        OpSchema("Shrink", versions: [9]) { ctx in
            let f = ShrinkFunction(lambd: Double(ctx.float("lambd", default: 0.5)), bias: Double(ctx.float("bias", default: 0)))
            return [.tensor(try mapNumeric(try ctx.tensor(0), f, threads: ctx.threads))]
        },
        OpSchema("Clip", versions: [1, 6, 11, 12, 13]) { ctx in
            let x = try ctx.tensor(0)
            if ctx.opset < 11 {
                let f = ClipFunction(low: Double(ctx.float("min", default: -Float.greatestFiniteMagnitude)),
                                     high: Double(ctx.float("max", default: Float.greatestFiniteMagnitude)))
                return [.tensor(try mapNumeric(x, f, threads: ctx.threads))]
            }
            return [.tensor(try clip(x, ctx.optionalTensor(1), ctx.optionalTensor(2), threads: ctx.threads))]
        },
    ]

    /// Clip with bound tensors (opset 11+): each bound a scalar (or one-element tensor) of
    /// X's type; an absent bound does not clip. `min > max` gives `max` (NumPy's `clip`).
    static func clip(_ x: Tensor, _ low: Tensor?, _ high: Tensor?, threads: Int) throws -> Tensor {
        func bound(_ t: Tensor?, _ name: String) throws -> Double? {
            guard let t else { return nil }
            guard t.dtype == x.dtype else { throw OpError.invalid("input '\(name)' is \(t.dtype); X is \(x.dtype)") }
            guard t.elementCount == 1 else {
                throw OpError.invalid("input '\(name)' must be a scalar, got shape \(Shape(t.dims))")
            }
            return try CastOps.cast(t, to: .float64, saturate: true, threads: 1).elements(Double.self)[0]
        }
        let low = try bound(low, "min"), high = try bound(high, "max")
        if x.dtype.isFloatingPoint {
            return try mapFloat(x, ClipFunction(low: low ?? -.infinity, high: high ?? .infinity), threads: threads)
        }
        // Integer bounds are exact in Int64 (through Double only for |v| < 2^53; wider
        // bounds come from the tensor directly).
        guard let out = try x.dtype.visitInteger(IntegerClipVisitor(x: x, low: low, high: high, threads: threads)) else {
            throw OpError.unsupported("input X is \(x.dtype); expected a numeric type")
        }
        return out
    }

    struct IntegerClipVisitor: IntegerVisitor {
        let x: Tensor
        let low: Double?, high: Double?
        let threads: Int
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let lo = low.map { T(clamping: Int64(exactly: $0.rounded()) ?? ($0 < 0 ? .min : .max)) } ?? T.min
            let hi = high.map { T(clamping: Int64(exactly: $0.rounded()) ?? ($0 < 0 ? .min : .max)) } ?? T.max
            return mapElements(x, T.self, T.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = Swift.min(Swift.max(s[i], lo), hi) }
            }
        }
    }

    /// PRelu: `x < 0 ? slope * x : x`, slope broadcast to X (unidirectionally). A 1-D slope
    /// that does not broadcast but whose length matches exactly one dim of X applies along
    /// that dim (the channel slope of opset 1-6 models; `onnx.reference` does the same).
    static func prelu(_ x: Tensor, _ slope: Tensor, threads: Int) throws -> Tensor {
        guard x.dtype == slope.dtype else { throw OpError.invalid("input 'slope' is \(slope.dtype); X is \(x.dtype)") }
        var s = slope
        if !Broadcast.broadcasts(slope.dims, to: x.dims) {
            let matches = x.dims.indices.filter { x.dims[$0] == slope.dims.first }
            guard slope.dims.count == 1, matches.count == 1 else {
                throw OpError.invalid("input 'slope' \(Shape(slope.dims)) does not broadcast to X \(Shape(x.dims))")
            }
            s = slope.reshaped(slope.dims + [Int](repeating: 1, count: x.dims.count - 1 - matches[0]))
        }
        let out = try binaryNumeric(x, s, PReluFunction(), threads: threads)
        return out.dims == x.dims ? out : try BinaryOps.expand(out, to: x.dims, threads: threads)
    }
}

// MARK: - The functions

struct ReluFunction: NumericFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x < 0 ? 0 : x }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T { x < 0 ? 0 : x }
}
struct LeakyReluFunction: FloatFunction {
    let alpha: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x < 0 ? x * T(alpha) : x }
}
struct PReluFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a < 0 ? a * b : a }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a < 0 ? a &* b : a }
}
struct EluFunction: FloatFunction {
    let alpha: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x > 0 ? x : T(alpha) * T.mathExpm1(x) }
}
struct SeluFunction: FloatFunction {
    let alpha: Float, gamma: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        (x > 0 ? x : T(alpha) * T.mathExpm1(x)) * T(gamma)
    }
}
struct CeluFunction: FloatFunction {
    let alpha: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        let a = T(alpha)
        return Swift.max(0, x) + Swift.min(0, a * T.mathExpm1(x / a))
    }
}
struct SigmoidFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        let e = T.mathExp(-x.magnitude)
        let s = 1 / (1 + e)
        return x >= 0 ? s : e * s
    }
}
struct HardSigmoidFunction: FloatFunction {
    let alpha: Float, beta: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        Swift.max(0, Swift.min(1, T(alpha) * x + T(beta)))
    }
}
/// `x * max(0, min(1, x / 6 + 1/2))`.
struct HardSwishFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        x * Swift.max(0, Swift.min(1, x * T(Float(1.0 / 6.0)) + T(0.5)))
    }
}
struct TanhFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathTanh(x) }
}
/// `log(1 + exp(x))`, without overflow: `max(x, 0) + log1p(exp(-|x|))`.
struct SoftplusFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        Swift.max(x, 0) + T.mathLog1p(T.mathExp(-x.magnitude))
    }
}
struct SoftsignFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x / (1 + x.magnitude) }
}
/// `x/2 * (1 + erf(x / sqrt(2)))`.
struct GeluFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        T(0.5) * x * (1 + T.mathErf(x * T(0.70710678118654752440)))
    }
}
/// `x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`.
struct GeluTanhFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        T(0.5) * x * (1 + T.mathTanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)))
    }
}
/// `x * sigmoid(alpha * x)`.
struct SwishFunction: FloatFunction {
    let alpha: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x * SigmoidFunction()(T(alpha) * x) }
}
/// `x * tanh(softplus(x))`.
struct MishFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x * T.mathTanh(SoftplusFunction()(x)) }
}
struct ThresholdedReluFunction: FloatFunction {
    let alpha: Float
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x > T(alpha) ? x : 0 }
}
/// `x < -lambd ? x + bias : x > lambd ? x - bias : 0`; integers compare and add in Double
/// and convert back like NumPy's `astype`.
struct ShrinkFunction: NumericFunction {
    let lambd: Double, bias: Double
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        let l = T(Float(lambd)), b = T(Float(bias))
        return x < -l ? x + b : x > l ? x - b : 0
    }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T {
        let v = Double(x)
        let r = v < -lambd ? v + bias : v > lambd ? v - bias : 0
        return T.from(r)
    }
}
/// `min(max(x, low), high)`, NaN propagating. Integer bounds are rounded to the type.
struct ClipFunction: NumericFunction {
    let low: Double, high: Double
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T {
        let lo = T(low), hi = T(high)
        let y = x < lo ? lo : x
        return y > hi ? hi : y
    }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T {
        let lo = T(clamping: Int64(exactly: low.rounded()) ?? (low < 0 ? .min : .max))
        let hi = T(clamping: Int64(exactly: high.rounded()) ?? (high < 0 ? .min : .max))
        return Swift.min(Swift.max(x, lo), hi)
    }
}
