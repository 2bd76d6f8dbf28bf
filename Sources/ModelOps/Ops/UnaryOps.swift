#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelIR

/// Elementwise math of one tensor: Abs, Neg, Floor, Ceil, Round (half to even), Sqrt,
/// Reciprocal, Exp, Log, the trigonometric and hyperbolic functions and their inverses,
/// Sign, Erf, Not, IsNaN, IsInf, BitwiseNot. Float kernels run for float32, float64,
/// float16 and bfloat16 (16-bit types computed in Float and rounded once, like NumPy);
/// Abs, Neg and Sign also for every integer type (wrapping like NumPy: `Abs(-128 as Int8)`
/// is -128).
enum UnaryOps {
    static let schemas: [OpSchema] = [
        numeric("Abs", [1, 6, 13], AbsFunction()),
        numeric("Neg", [1, 6, 13], NegFunction()),
        numeric("Sign", [9, 13], SignFunction()),
        float("Floor", [1, 6, 13], FloorFunction()),
        float("Ceil", [1, 6, 13], CeilFunction()),
        float("Round", [11, 22], RoundFunction()),
        float("Sqrt", [1, 6, 13], SqrtFunction()),
        float("Reciprocal", [1, 6, 13], ReciprocalFunction()),
        float("Exp", [1, 6, 13], ExpFunction()),
        float("Log", [1, 6, 13], LogFunction()),
        float("Sin", [7, 22], SinFunction()),
        float("Cos", [7, 22], CosFunction()),
        float("Tan", [7, 22], TanFunction()),
        float("Asin", [7, 22], AsinFunction()),
        float("Acos", [7, 22], AcosFunction()),
        float("Atan", [7, 22], AtanFunction()),
        float("Sinh", [9, 22], SinhFunction()),
        float("Cosh", [9, 22], CoshFunction()),
        float("Asinh", [9, 22], AsinhFunction()),
        float("Acosh", [9, 22], AcoshFunction()),
        float("Atanh", [9, 22], AtanhFunction()),
        float("Erf", [9, 13], ErfFunction()),
        OpSchema("Not", versions: [1]) { ctx in
            let x = try ctx.tensor(0)
            try expect(x, [.bool], "X")
            return [.tensor(mapElements(x, Bool.self, Bool.self, threads: ctx.threads) { s, d, n in
                for i in 0..<n { d[i] = !s[i] }
            })]
        },
        OpSchema("BitwiseNot", versions: [18]) { ctx in
            let x = try ctx.tensor(0)
            guard let y = try x.dtype.visitInteger(BitwiseNotVisitor(x: x, threads: ctx.threads)) else {
                throw OpError.unsupported("input X is \(x.dtype); BitwiseNot takes integer types")
            }
            return [.tensor(y)]
        },
        OpSchema("IsNaN", versions: [9, 13, 20]) { ctx in
            let x = try ctx.tensor(0)
            return [.tensor(try classify(x, threads: ctx.threads) { $0.isNaN })]
        },
        OpSchema("IsInf", versions: [10, 20]) { ctx in
            let x = try ctx.tensor(0)
            let negative = ctx.int("detect_negative", default: 1) != 0
            let positive = ctx.int("detect_positive", default: 1) != 0
            return [.tensor(try classify(x, threads: ctx.threads) {
                $0.isInfinite && ($0 < 0 ? negative : positive)
            })]
        },
    ]

    static func float<F: FloatFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in [.tensor(try mapFloat(try ctx.tensor(0), f, threads: ctx.threads))] }
    }

    static func numeric<F: NumericFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in [.tensor(try mapNumeric(try ctx.tensor(0), f, threads: ctx.threads))] }
    }

    /// A bool tensor of `predicate` over a float tensor's elements (as Double; exact).
    static func classify(_ x: Tensor, threads: Int, _ predicate: @escaping (Double) -> Bool) throws -> Tensor {
        switch x.dtype {
        case .float32:
            return mapElements(x, Float.self, Bool.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = predicate(Double(s[i])) }
            }
        case .float64:
            return mapElements(x, Double.self, Bool.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = predicate(s[i]) }
            }
        case .float16:
            return mapElements(x, Float16.self, Bool.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = predicate(Double(s[i])) }
            }
        case .bfloat16:
            return mapElements(x, BFloat16Bits.self, Bool.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = predicate(Double(s[i].float)) }
            }
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let format = Float8Format(x.dtype)!
            return mapElements(x, UInt8Bits.self, Bool.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = predicate(Double(format.decode(s[i].bits))) }
            }
        default:
            throw OpError.unsupported("input X is \(x.dtype); expected a floating-point type")
        }
    }

    struct BitwiseNotVisitor: IntegerVisitor {
        let x: Tensor
        let threads: Int
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            mapElements(x, T.self, T.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = ~s[i] }
            }
        }
    }
}

// MARK: - Elementwise machinery shared by the unary, activation and binary families

/// Floating-point types with the C math library's functions (Float and Double; 16-bit
/// floats are computed in Float).
protocol MathFloat: FloatElement {
    static func mathExp(_ x: Self) -> Self
    static func mathExpm1(_ x: Self) -> Self
    static func mathLog(_ x: Self) -> Self
    static func mathLog1p(_ x: Self) -> Self
    static func mathSin(_ x: Self) -> Self
    static func mathCos(_ x: Self) -> Self
    static func mathTan(_ x: Self) -> Self
    static func mathAsin(_ x: Self) -> Self
    static func mathAcos(_ x: Self) -> Self
    static func mathAtan(_ x: Self) -> Self
    static func mathSinh(_ x: Self) -> Self
    static func mathCosh(_ x: Self) -> Self
    static func mathTanh(_ x: Self) -> Self
    static func mathAsinh(_ x: Self) -> Self
    static func mathAcosh(_ x: Self) -> Self
    static func mathAtanh(_ x: Self) -> Self
    static func mathErf(_ x: Self) -> Self
    static func mathPow(_ x: Self, _ y: Self) -> Self
    /// C `fmod`: the remainder with the sign of `x`.
    static func mathFmod(_ x: Self, _ y: Self) -> Self
}

extension Float: MathFloat {
    @inline(__always) static func mathExp(_ x: Float) -> Float { fastExp(x) }
    @inline(__always) static func mathExpm1(_ x: Float) -> Float { expm1f(x) }
    @inline(__always) static func mathLog(_ x: Float) -> Float { logf(x) }
    @inline(__always) static func mathLog1p(_ x: Float) -> Float { log1pf(x) }
    @inline(__always) static func mathSin(_ x: Float) -> Float { sinf(x) }
    @inline(__always) static func mathCos(_ x: Float) -> Float { cosf(x) }
    @inline(__always) static func mathTan(_ x: Float) -> Float { tanf(x) }
    @inline(__always) static func mathAsin(_ x: Float) -> Float { asinf(x) }
    @inline(__always) static func mathAcos(_ x: Float) -> Float { acosf(x) }
    @inline(__always) static func mathAtan(_ x: Float) -> Float { atanf(x) }
    @inline(__always) static func mathSinh(_ x: Float) -> Float { sinhf(x) }
    @inline(__always) static func mathCosh(_ x: Float) -> Float { coshf(x) }
    @inline(__always) static func mathTanh(_ x: Float) -> Float { fastTanh(x) }
    @inline(__always) static func mathAsinh(_ x: Float) -> Float { asinhf(x) }
    @inline(__always) static func mathAcosh(_ x: Float) -> Float { acoshf(x) }
    @inline(__always) static func mathAtanh(_ x: Float) -> Float { atanhf(x) }
    @inline(__always) static func mathErf(_ x: Float) -> Float { erff(x) }
    @inline(__always) static func mathPow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inline(__always) static func mathFmod(_ x: Float, _ y: Float) -> Float { fmodf(x, y) }
}

/// e^x for Float in straight-line code that loops vectorize: Cephes' expf (range reduction
/// by ln 2 in two parts, a degree-6 polynomial), within 2 ulp of the correctly rounded result
/// over the whole range, including subnormal results, overflow to inf and NaN.
@inline(__always) func fastExp(_ x: Float) -> Float {
    let xc = Swift.min(Swift.max(x, -104), 89)
    // n = round(x / ln 2) by the 1.5 * 2^23 trick: the integer sits in t's low mantissa bits.
    let t = xc * 1.44269504088896341 + 12_582_912
    let nf = t - 12_582_912
    let n = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
    let r = xc - nf * 0.693359375 + nf * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    // 2^n in two factors so that n down to -150 and up to 128 stay representable.
    let n1 = n &>> 1, n2 = n &- (n &>> 1)
    let s1 = Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) &<< 23))
    let s2 = Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) &<< 23))
    return y * s1 * s2
}

/// tanh for Float in straight-line code: Eigen's rational approximation (numerator of
/// degree 13, denominator 6) on [-7.9053, 7.9053], x itself below 0.0004 in magnitude;
/// within 3 ulp (relative 4e-7) of tanh.
@inline(__always) func fastTanh(_ x: Float) -> Float {
    let c = Swift.min(Swift.max(x, -7.90531110763549805), 7.90531110763549805)
    let x2 = c * c
    var p: Float = -2.76076847742355e-16
    p = p * x2 + 2.00018790482477e-13
    p = p * x2 + -8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = p * x2 + 4.89352455891786e-03
    p = p * c
    var q: Float = 1.19825839466702e-06
    q = q * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    return x.magnitude < 0.0004 ? x : p / q
}

// File-scope wrappers: inside `extension Double` an unqualified `exp(x)` would find the static member.
@inline(__always) private func c_exp(_ x: Double) -> Double { exp(x) }
@inline(__always) private func c_expm1(_ x: Double) -> Double { expm1(x) }
@inline(__always) private func c_log(_ x: Double) -> Double { log(x) }
@inline(__always) private func c_log1p(_ x: Double) -> Double { log1p(x) }
@inline(__always) private func c_sin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func c_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) private func c_tan(_ x: Double) -> Double { tan(x) }
@inline(__always) private func c_asin(_ x: Double) -> Double { asin(x) }
@inline(__always) private func c_acos(_ x: Double) -> Double { acos(x) }
@inline(__always) private func c_atan(_ x: Double) -> Double { atan(x) }
@inline(__always) private func c_sinh(_ x: Double) -> Double { sinh(x) }
@inline(__always) private func c_cosh(_ x: Double) -> Double { cosh(x) }
@inline(__always) private func c_tanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) private func c_asinh(_ x: Double) -> Double { asinh(x) }
@inline(__always) private func c_acosh(_ x: Double) -> Double { acosh(x) }
@inline(__always) private func c_atanh(_ x: Double) -> Double { atanh(x) }
@inline(__always) private func c_erf(_ x: Double) -> Double { erf(x) }
@inline(__always) private func c_pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@inline(__always) private func c_fmod(_ x: Double, _ y: Double) -> Double { fmod(x, y) }

extension Double: MathFloat {
    @inline(__always) static func mathExp(_ x: Double) -> Double { c_exp(x) }
    @inline(__always) static func mathExpm1(_ x: Double) -> Double { c_expm1(x) }
    @inline(__always) static func mathLog(_ x: Double) -> Double { c_log(x) }
    @inline(__always) static func mathLog1p(_ x: Double) -> Double { c_log1p(x) }
    @inline(__always) static func mathSin(_ x: Double) -> Double { c_sin(x) }
    @inline(__always) static func mathCos(_ x: Double) -> Double { c_cos(x) }
    @inline(__always) static func mathTan(_ x: Double) -> Double { c_tan(x) }
    @inline(__always) static func mathAsin(_ x: Double) -> Double { c_asin(x) }
    @inline(__always) static func mathAcos(_ x: Double) -> Double { c_acos(x) }
    @inline(__always) static func mathAtan(_ x: Double) -> Double { c_atan(x) }
    @inline(__always) static func mathSinh(_ x: Double) -> Double { c_sinh(x) }
    @inline(__always) static func mathCosh(_ x: Double) -> Double { c_cosh(x) }
    @inline(__always) static func mathTanh(_ x: Double) -> Double { c_tanh(x) }
    @inline(__always) static func mathAsinh(_ x: Double) -> Double { c_asinh(x) }
    @inline(__always) static func mathAcosh(_ x: Double) -> Double { c_acosh(x) }
    @inline(__always) static func mathAtanh(_ x: Double) -> Double { c_atanh(x) }
    @inline(__always) static func mathErf(_ x: Double) -> Double { c_erf(x) }
    @inline(__always) static func mathPow(_ x: Double, _ y: Double) -> Double { c_pow(x, y) }
    @inline(__always) static func mathFmod(_ x: Double, _ y: Double) -> Double { c_fmod(x, y) }
}

/// An elementwise function of floats, written once for Float and Double. A type rather
/// than a closure so that `mapFloat` specializes and inlines it.
protocol FloatFunction: Sendable {
    func callAsFunction<T: MathFloat>(_ x: T) -> T
}

/// A `FloatFunction` that also has an integer form (Abs, Neg, Sign, Relu, Clip...).
protocol NumericFunction: FloatFunction {
    func integer<T: IntegerElement>(_ x: T) -> T
}

/// A floating-point element type and the type it computes in (Float for 16-bit floats).
protocol FloatStorage: TensorElement {
    associatedtype Compute: MathFloat
    var compute: Compute { get }
    /// The element nearest to `value` (round to nearest even).
    init(compute value: Compute)
    /// Whether the element is narrower than its compute type (16-bit floats).
    static var isNarrow: Bool { get }
}
extension FloatStorage {
    static var isNarrow: Bool { MemoryLayout<Self>.size < MemoryLayout<Compute>.size }
    /// `value` rounded to this element type and back (NumPy's per-operation rounding of
    /// 16-bit intermediates).
    @inline(__always) static func rounded(_ value: Compute) -> Compute { Self(compute: value).compute }
}
extension Float: FloatStorage {
    @inline(__always) var compute: Float { self }
    @inline(__always) init(compute value: Float) { self = value }
}
extension Double: FloatStorage {
    @inline(__always) var compute: Double { self }
    @inline(__always) init(compute value: Double) { self = value }
}
extension Float16: FloatStorage {
    @inline(__always) var compute: Float { Float(self) }
    @inline(__always) init(compute value: Float) { self.init(value) }
}
extension BFloat16Bits: FloatStorage {
    @inline(__always) var compute: Float { float }
    @inline(__always) init(compute value: Float) { self.init(value) }
}

/// A bfloat16 element as its 16 bits (ONNX's layout: the high half of a float32).
struct BFloat16Bits: TensorElement {
    var bits: UInt16
    static var dtype: DType { .bfloat16 }
    static var zero: BFloat16Bits { BFloat16Bits(bits: 0) }

    @inline(__always) init(bits: UInt16) { self.bits = bits }
    /// The bfloat16 nearest to `value` (round to nearest even; NaN stays NaN).
    @inline(__always) init(_ value: Float) {
        let b = value.bitPattern
        if value.isNaN {
            bits = UInt16(truncatingIfNeeded: b >> 16) | 0x0040
        } else {
            bits = UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
        }
    }
    @inline(__always) var float: Float { Float(bitPattern: UInt32(bits) << 16) }
}

/// One byte of a type Swift has no arithmetic for (float8), read as its bits.
struct UInt8Bits: TensorElement {
    var bits: UInt8
    static var dtype: DType { .uint8 }
    static var zero: UInt8Bits { UInt8Bits(bits: 0) }
}

/// Checks `t.dtype` against `allowed`; throws naming the input.
func expect(_ t: Tensor, _ allowed: [DType], _ input: String) throws {
    guard allowed.contains(t.dtype) else {
        throw OpError.unsupported("input \(input) is \(t.dtype); expected \(allowed.map(\.description).joined(separator: "/"))")
    }
}

/// Calls `body` with `t`'s elements viewed as `T`, which must have the element width of
/// `t.dtype` (for reading bfloat16/float8 as bits). Unaligned mapped storage is copied.
@inline(__always)
func withElementBits<T, R>(_ t: Tensor, _: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
    precondition((t.dtype.bitWidth ?? 0) == MemoryLayout<T>.size * 8, "tensor '\(t.name)' is \(t.dtype), read as \(T.self)")
    return try t.withUnsafeBytes { raw in
        let count = raw.count / MemoryLayout<T>.stride
        if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<T>.alignment != 0 {
            let copy = [UInt8](raw)
            return try copy.withUnsafeBytes { c in
                try body(UnsafeBufferPointer(start: c.baseAddress?.assumingMemoryBound(to: T.self), count: count))
            }
        }
        return try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: count))
    }
}

/// Maps `t`'s elements (read as `A`, which must have `t`'s element width) to a new tensor
/// of `R` elements with `t`'s dims: `body(src, dst, n)` converts one chunk, in parallel over
/// `threads` when the tensor is large. `R.dtype` names the result's dtype (for the bit
/// types UInt8Bits/BFloat16Bits pass `dtype:`).
@inline(__always)
func mapElements<A, R: TensorElement>(_ t: Tensor, _: A.Type, _: R.Type, dtype: DType? = nil, threads: Int,
                                      _ body: (UnsafePointer<A>, UnsafeMutablePointer<R>, Int) -> Void) -> Tensor {
    withElementBits(t, A.self) { src in
        rawTensor(R.self, dtype: dtype ?? R.dtype, dims: t.dims) { dst in
            guard let s = src.baseAddress, let d = dst.baseAddress else { return }
            // Storage shorter than the dims (never from a validated tensor): zeros past its end.
            let n = min(dst.count, src.count)
            if n < dst.count { UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(dst)[(n * MemoryLayout<R>.stride)...]).initializeMemory(as: UInt8.self, repeating: 0) }
            parallelFor(n, threads: parallelForThreads(elements: n, threads: threads)) { r in
                body(s + r.lowerBound, d + r.lowerBound, r.count)
            }
        }
    }
}

/// `f` over a float tensor (float32, float64; float16 and bfloat16 through Float).
@inline(__always)
func mapFloat<F: FloatFunction>(_ t: Tensor, _ f: F, threads: Int) throws -> Tensor {
    switch t.dtype {
    case .float32:
        return mapElements(t, Float.self, Float.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = f(s[i]) }
        }
    case .float64:
        return mapElements(t, Double.self, Double.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = f(s[i]) }
        }
    case .float16:
        return mapElements(t, Float16.self, Float16.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = Float16(f(Float(s[i]))) }
        }
    case .bfloat16:
        return mapElements(t, BFloat16Bits.self, BFloat16Bits.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = BFloat16Bits(f(s[i].float)) }
        }
    default:
        throw OpError.unsupported("input is \(t.dtype); expected float16/float32/float64/bfloat16")
    }
}

/// `f` over a numeric tensor: floats as `mapFloat`, integers through `f.integer`.
@inline(__always)
func mapNumeric<F: NumericFunction>(_ t: Tensor, _ f: F, threads: Int) throws -> Tensor {
    if t.dtype.isFloatingPoint { return try mapFloat(t, f, threads: threads) }
    guard let out = try t.dtype.visitInteger(IntegerMapVisitor(t: t, f: f, threads: threads)) else {
        throw OpError.unsupported("input is \(t.dtype); expected a numeric type")
    }
    return out
}

struct IntegerMapVisitor<F: NumericFunction>: IntegerVisitor {
    let t: Tensor
    let f: F
    let threads: Int
    @inline(__always)
    func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
        mapElements(t, T.self, T.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = f.integer(s[i]) }
        }
    }
}

// MARK: - The functions

struct AbsFunction: NumericFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.magnitude }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T { x < 0 ? 0 &- x : x }
}
struct NegFunction: NumericFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { -x }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T { 0 &- x }
}
struct SignFunction: NumericFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x > 0 ? 1 : x < 0 ? -1 : x.isNaN ? x : 0 }
    @inline(__always) func integer<T: IntegerElement>(_ x: T) -> T { x > 0 ? 1 : x < 0 ? 0 &- 1 : 0 }
}
struct FloorFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.rounded(.down) }
}
struct CeilFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.rounded(.up) }
}
struct RoundFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.rounded(.toNearestOrEven) }
}
struct SqrtFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.squareRoot() }
}
struct ReciprocalFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { 1 / x }
}
struct ExpFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathExp(x) }
}
struct LogFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathLog(x) }
}
struct SinFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathSin(x) }
}
struct CosFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathCos(x) }
}
struct TanFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathTan(x) }
}
struct AsinFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAsin(x) }
}
struct AcosFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAcos(x) }
}
struct AtanFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAtan(x) }
}
struct SinhFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathSinh(x) }
}
struct CoshFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathCosh(x) }
}
struct AsinhFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAsinh(x) }
}
struct AcoshFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAcosh(x) }
}
struct AtanhFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathAtanh(x) }
}
struct ErfFunction: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { T.mathErf(x) }
}
