import ModelIR

/// Cast (opset 1: `to` as a string or int; 6; 9; 13; 19: `saturate`; 21; 23; 24; 25) and
/// CastLike (15, 19, 21, 23, 24, 25): element conversion between every numeric type and
/// bool, as NumPy's `astype` on x86-64 does it (the semantics of `onnx.reference`):
/// - float to float rounds to nearest even; integer to float too.
/// - float to integer truncates toward zero; a value outside int32 (int64 for 32-bit
///   unsigned and 64-bit targets) or NaN gives that type's minimum (x86 `cvttss2si`), then
///   narrower targets keep the low bits: `Cast(300.0 -> int8)` is 44.
/// - integer to integer wraps (keeps the low bits); anything to bool is `!= 0`.
/// - bfloat16, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e8m0) and float4e2m1 go through
///   float32; int4/uint4/int2/uint2 through int8/uint8 (the low bits kept, like ml_dtypes).
///   Float8 targets clamp out-of-range values to the largest finite value when `saturate`
///   is 1 (the default), else give inf (e5m2) or NaN; float4e2m1 always saturates; NaN
///   becomes the target's NaN (float4e2m1: -0, like ml_dtypes).
/// - float8e8m0 (opset 24+: an 8-bit exponent, 2^(e-127), 0xFF NaN, no sign or zero) keeps
///   the float32 exponent and rounds by `round_mode` ("up" by default, "down", "nearest")
///   as `onnx.numpy_helper.to_float8e8m0` does: NaN and ±inf give 0xFF, the sign is
///   dropped, and `saturate` stops rounding up from 0xFE.
/// BitCast (26) relabels the bytes with another type of the same width.
/// Strings parse as numbers ("NaN", "INF" included) and print like NumPy's `astype(str)`.
enum CastOps {
    static let schemas: [OpSchema] = [
        OpSchema("Cast", versions: [1, 6, 9, 13, 19, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            let to: DType
            if let code = ctx.int("to") {
                guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)) else {
                    throw OpError.unsupported("attribute 'to' is data type \(code), unknown here")
                }
                to = t
            } else if let name = ctx.string("to") {
                // Opset 1 spelled the type as a string ("FLOAT", "INT64"...).
                guard let t = DType.allCases.first(where: { onnxName($0) == name.uppercased() }) else {
                    throw OpError.unsupported("attribute 'to' is '\(name)', not a known type name")
                }
                to = t
            } else {
                throw OpError.invalid("attribute 'to' is required")
            }
            let saturate = ctx.opset >= 19 ? ctx.int("saturate", default: 1) != 0 : true
            let rounding = try roundMode(ctx)
            return [.tensor(try cast(x, to: to, saturate: saturate, roundMode: rounding, threads: ctx.threads))]
        },
        OpSchema("BitCast", versions: [26]) { ctx in
            let x = try ctx.tensor(0)
            guard let code = ctx.int("to"), let to = DType(rawValue: Int32(truncatingIfNeeded: code)) else {
                throw OpError.invalid("attribute 'to' is missing or names an unknown type")
            }
            guard x.dtype != .string, to != .string, let a = x.dtype.bitWidth, let b = to.bitWidth, a == b else {
                throw OpError.invalid("BitCast from \(x.dtype) to \(to): the types must have the same bit width")
            }
            return [.tensor(x.retyped(to))]
        },
        OpSchema("CastLike", versions: [15, 19, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            let like = try ctx.tensor(1)
            let saturate = ctx.opset >= 19 ? ctx.int("saturate", default: 1) != 0 : true
            let rounding = try roundMode(ctx)
            return [.tensor(try cast(x, to: like.dtype, saturate: saturate, roundMode: rounding, threads: ctx.threads))]
        },
    ]

    /// How a cast to float8e8m0 rounds (attribute `round_mode`, opset 24+).
    enum RoundMode: String { case up, down, nearest }

    static func roundMode(_ ctx: KernelContext) throws -> RoundMode {
        let name = ctx.opset >= 24 ? ctx.string("round_mode", default: "up") : "up"
        guard let mode = RoundMode(rawValue: name) else {
            throw OpError.invalid("attribute 'round_mode' is '\(name)'; expected up, down or nearest")
        }
        return mode
    }

    /// The TensorProto.DataType enum name of `t` ("FLOAT", "INT64"...).
    static func onnxName(_ t: DType) -> String {
        switch t {
        case .float32: return "FLOAT"
        case .float64: return "DOUBLE"
        default: return t.description.uppercased()
        }
    }

    /// `x` converted to `to` (see the type's documentation for the rules).
    static func cast(_ x: Tensor, to: DType, saturate: Bool, roundMode: RoundMode = .up, threads: Int) throws -> Tensor {
        if x.dtype == to { return x }
        if x.dtype == .string { return try cast(parseStrings(x), to: to, saturate: saturate, roundMode: roundMode, threads: threads) }
        if to == .string { return try formatStrings(x, threads: threads) }
        // Sources Swift has no element type for: widen first.
        switch x.dtype {
        case .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1, .float8e8m0:
            return try cast(try widenToFloat(x, threads: threads), to: to, saturate: saturate, roundMode: roundMode, threads: threads)
        case .int4, .uint4, .int2, .uint2:
            return try cast(unpackBits(x), to: to, saturate: saturate, roundMode: roundMode, threads: threads)
        default: break
        }
        switch to {
        case .float8e8m0:
            let f = try cast(x, to: .float32, saturate: saturate, threads: threads)
            return mapElements(f, UInt32.self, UInt8Bits.self, dtype: .float8e8m0, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = UInt8Bits(bits: float8e8m0(bits: s[i], saturate: saturate, roundMode: roundMode)) }
            }
        case .bfloat16:
            let f = try cast(x, to: .float32, saturate: saturate, threads: threads)
            return mapElements(f, Float.self, BFloat16Bits.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = BFloat16Bits(s[i]) }
            }
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1:
            let format = Float8Format(to)!
            let f = try cast(x, to: .float32, saturate: saturate, threads: threads)
            if to == .float4e2m1 {
                let codes = mapElements(f, Float.self, UInt8.self, threads: threads) { s, d, n in
                    for i in 0..<n { d[i] = format.encode(s[i], saturate: true) }
                }
                return pack4(codes, as: .float4e2m1)
            }
            return mapElements(f, Float.self, UInt8Bits.self, dtype: to, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = UInt8Bits(bits: format.encode(s[i], saturate: saturate)) }
            }
        case .int4, .uint4, .int2, .uint2:
            let wide = try cast(x, to: to == .int4 || to == .int2 ? .int8 : .uint8, saturate: saturate, threads: threads)
            return packBits(wide, as: to)
        default: break
        }
        guard let out = try x.dtype.visitCastable(CastSourceVisitor(x: x, to: to, threads: threads)) ?? nil else {
            throw OpError.unsupported("cast from \(x.dtype) to \(to) is not supported")
        }
        return out
    }

    /// A string tensor parsed as float64 ("NaN", "INF", "+INF", "-inf" in any case too).
    static func parseStrings(_ x: Tensor) throws -> Tensor {
        guard case .strings(let items) = x.storage else { throw OpError.invalid("string tensor without strings") }
        let values = try items.map { bytes -> Double in
            let text = String(decoding: bytes, as: UTF8.self).trimmingSpaces().lowercased()
            guard let v = Double(text) else { throw OpError.invalid("cannot parse '\(text)' as a number") }
            return v
        }
        return Tensor.of(values, dims: x.dims)
    }

    /// Each element as NumPy's `astype(str)` writes it: the shortest round-trip decimal for
    /// floats (Swift's `description`, which agrees with NumPy below 2^24), decimal integers,
    /// "True"/"False".
    static func formatStrings(_ x: Tensor, threads: Int) throws -> Tensor {
        let text: [String]
        switch x.dtype {
        case .float32: text = x.elements(Float.self).map { $0.isNaN ? "nan" : $0.description }
        case .float64: text = x.elements(Double.self).map { $0.isNaN ? "nan" : $0.description }
        case .float16: text = x.elements(Float16.self).map { $0.isNaN ? "nan" : $0.description }
        case .bool: text = x.elements(Bool.self).map { $0 ? "True" : "False" }
        case .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1, .float8e8m0:
            return try formatStrings(try widenToFloat(x, threads: threads), threads: threads)
        case .int4, .uint4, .int2, .uint2:
            return try formatStrings(unpackBits(x), threads: threads)
        default:
            guard let v = try x.dtype.visitNumeric(IntegerText(x: x)) else {
                throw OpError.unsupported("cast from \(x.dtype) to string")
            }
            text = v
        }
        return Tensor(unchecked: .string, dims: x.dims, storage: .strings(text.map { Array($0.utf8) }))
    }

    struct IntegerText: NumericVisitor {
        let x: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> [String] { x.elements(T.self).map { "\($0)" } }
    }

    /// A bfloat16/float8/float4 tensor as float32.
    static func widenToFloat(_ x: Tensor, threads: Int) throws -> Tensor {
        if x.dtype == .bfloat16 {
            return mapElements(x, BFloat16Bits.self, Float.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = s[i].float }
            }
        }
        if x.dtype == .float8e8m0 {
            return mapElements(x, UInt8.self, Float.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = s[i] == 0xFF ? .nan : Float(sign: .plus, exponent: Int(s[i]) - 127, significand: 1) }
            }
        }
        let format = Float8Format(x.dtype)!
        if x.dtype == .float4e2m1 {
            let codes = unpack4(x)
            return mapElements(codes, UInt8.self, Float.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = format.decode(s[i]) }
            }
        }
        return mapElements(x, UInt8Bits.self, Float.self, threads: threads) { s, d, n in
            for i in 0..<n { d[i] = format.decode(s[i].bits) }
        }
    }

    /// The elements of a 4-bit tensor (two per byte, low nibble first) one per byte: int4
    /// sign-extended to int8, uint4 and float4e2m1 as their 4-bit codes in uint8.
    static func unpack4(_ x: Tensor) -> Tensor { unpackBits(x) }

    /// One-byte elements packed two per byte (low nibble first; the last high nibble 0).
    static func pack4(_ x: Tensor, as dtype: DType) -> Tensor { packBits(x, as: dtype) }

    /// The elements of a sub-byte tensor one per byte: 4-bit types two per byte (low nibble
    /// first), 2-bit types four per byte (lowest bits first). int4/int2 are sign-extended to
    /// int8; uint4, uint2 and float4e2m1 give their codes in uint8.
    static func unpackBits(_ x: Tensor) -> Tensor {
        let count = x.elementCount ?? 0
        let bits = x.dtype.bitWidth == 2 ? 2 : 4
        let perByte = 8 / bits, mask = UInt8((1 << bits) - 1), signBit = UInt8(1 << (bits - 1))
        let signed = x.dtype == .int4 || x.dtype == .int2
        let bytes: [UInt8] = x.withUnsafeBytes { raw in
            (0..<count).map { i in
                let byte = i / perByte < raw.count ? raw[i / perByte] : 0
                let code = (byte >> UInt8((i % perByte) * bits)) & mask
                return signed && code & signBit != 0 ? code | ~mask : code
            }
        }
        return Tensor(unchecked: signed ? .int8 : .uint8, dims: x.dims, storage: .owned(bytes), name: x.name)
    }

    /// One-byte elements packed into the sub-byte `dtype` (4-bit: two per byte, 2-bit: four
    /// per byte, lowest bits first; unused high bits of the last byte 0). Keeps the low bits.
    static func packBits(_ x: Tensor, as dtype: DType) -> Tensor {
        let count = x.elementCount ?? 0
        let bits = dtype.bitWidth == 2 ? 2 : 4
        let perByte = 8 / bits, mask = UInt8((1 << bits) - 1)
        var bytes = [UInt8](repeating: 0, count: (count + perByte - 1) / perByte)
        x.withUnsafeBytes { raw in
            for i in 0..<min(count, raw.count) {
                bytes[i / perByte] |= (raw[i] & mask) << UInt8((i % perByte) * bits)
            }
        }
        return Tensor(unchecked: dtype, dims: x.dims, storage: .owned(bytes), name: x.name)
    }

    /// The float8e8m0 code of the float32 with bit pattern `bits`: its biased exponent,
    /// rounded by `roundMode` on the mantissa (`onnx.numpy_helper.to_float8e8m0`, bit for
    /// bit: "nearest" rounds up when the guard bit is set and the round bit, the sticky
    /// bits or the exponent is non-zero). NaN and ±inf give 0xFF (NaN).
    @inline(__always) static func float8e8m0(bits: UInt32, saturate: Bool, roundMode: RoundMode) -> UInt8 {
        let exponent = (bits >> 23) & 0xFF
        if exponent == 0xFF { return 0xFF }
        let roundUp: Bool
        switch roundMode {
        case .down: roundUp = false
        case .up: roundUp = bits & 0x7F_FFFF != 0
        case .nearest:
            let guardBit = bits & 0x40_0000 != 0, round = bits & 0x20_0000 != 0, sticky = bits & 0x1F_FFFF != 0
            roundUp = guardBit && (round || sticky || exponent > 0)
        }
        if roundUp && !(saturate && exponent == 0xFE) { return UInt8(exponent + 1) }
        return UInt8(exponent)
    }

    struct CastSourceVisitor: CastableVisitor {
        let x: Tensor
        let to: DType
        let threads: Int
        func visit<S: CastableElement>(_: S.Type) throws -> Tensor? {
            try to.visitCastable(CastTargetVisitor<S>(x: x, threads: threads))
        }
    }

    struct CastTargetVisitor<S: CastableElement>: CastableVisitor {
        let x: Tensor
        let threads: Int
        func visit<D: CastableElement>(_: D.Type) throws -> Tensor {
            mapElements(x, S.self, D.self, threads: threads) { s, d, n in
                for i in 0..<n { d[i] = s[i].cast(to: D.self) }
            }
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension Tensor {
    /// The same bytes labelled with another dtype of the same element width.
    func retyped(_ dtype: DType) -> Tensor {
        var t = self
        t.dtype = dtype
        return t
    }
}

// MARK: - Element conversion

/// An element type Cast converts from and to: the numeric types and bool.
protocol CastableElement: TensorElement {
    /// From a floating-point value (NaN and infinities included).
    static func fromFloat(_ v: Double) -> Self
    /// From a signed integer value.
    static func fromInt(_ v: Int64) -> Self
    /// From an unsigned integer value.
    static func fromUInt(_ v: UInt64) -> Self
    static func fromBool(_ v: Bool) -> Self
    /// `self` converted to `D` (calls the `D.from...` that matches `Self`'s kind).
    func cast<D: CastableElement>(to: D.Type) -> D
}

protocol CastableVisitor {
    associatedtype Result
    func visit<T: CastableElement>(_ type: T.Type) throws -> Result
}

extension DType {
    /// Runs `visitor` with this dtype's castable element type; nil for others.
    func visitCastable<V: CastableVisitor>(_ visitor: V) throws -> V.Result? {
        switch self {
        case .float32: return try visitor.visit(Float.self)
        case .float64: return try visitor.visit(Double.self)
        case .float16: return try visitor.visit(Float16.self)
        case .int8: return try visitor.visit(Int8.self)
        case .uint8: return try visitor.visit(UInt8.self)
        case .int16: return try visitor.visit(Int16.self)
        case .uint16: return try visitor.visit(UInt16.self)
        case .int32: return try visitor.visit(Int32.self)
        case .uint32: return try visitor.visit(UInt32.self)
        case .int64: return try visitor.visit(Int64.self)
        case .uint64: return try visitor.visit(UInt64.self)
        case .bool: return try visitor.visit(Bool.self)
        default: return nil
        }
    }
}

/// x86-64's float-to-int32 conversion: truncation, or Int32.min when out of range or NaN.
@inline(__always) func truncatingInt32(_ v: Double) -> Int32 {
    v > -2147483649.0 && v < 2147483648.0 ? Int32(v) : Int32.min
}
/// x86-64's float-to-int64 conversion: truncation, or Int64.min when out of range or NaN.
@inline(__always) func truncatingInt64(_ v: Double) -> Int64 {
    v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? Int64(v) : Int64.min
}

extension BinaryFloatingPoint where Self: CastableElement {
    @inline(__always) func cast<D: CastableElement>(to: D.Type) -> D { D.fromFloat(Double(self)) }
    @inline(__always) static func fromInt(_ v: Int64) -> Self { Self(v) }
    @inline(__always) static func fromUInt(_ v: UInt64) -> Self { Self(v) }
    @inline(__always) static func fromBool(_ v: Bool) -> Self { v ? 1 : 0 }
}
extension Float: CastableElement {
    @inline(__always) static func fromFloat(_ v: Double) -> Float { Float(v) }
}
extension Double: CastableElement {
    @inline(__always) static func fromFloat(_ v: Double) -> Double { v }
}
extension Float16: CastableElement {
    @inline(__always) static func fromFloat(_ v: Double) -> Float16 { Float16(v) }
}

extension FixedWidthInteger where Self: CastableElement {
    @inline(__always) func cast<D: CastableElement>(to: D.Type) -> D {
        Self.isSigned ? D.fromInt(Int64(truncatingIfNeeded: self)) : D.fromUInt(UInt64(truncatingIfNeeded: self))
    }
    @inline(__always) static func fromInt(_ v: Int64) -> Self { Self(truncatingIfNeeded: v) }
    @inline(__always) static func fromUInt(_ v: UInt64) -> Self { Self(truncatingIfNeeded: v) }
    @inline(__always) static func fromBool(_ v: Bool) -> Self { v ? 1 : 0 }
    /// Through int32 for narrow targets, int64 for 32-bit unsigned and 64-bit ones.
    @inline(__always) static func fromFloat(_ v: Double) -> Self {
        if bitWidth < 32 || (bitWidth == 32 && isSigned) { return Self(truncatingIfNeeded: truncatingInt32(v)) }
        if !isSigned && bitWidth == 64 && v >= 9223372036854775808.0 && v < 18446744073709551616.0 {
            return Self(truncatingIfNeeded: UInt64(v))
        }
        return Self(truncatingIfNeeded: truncatingInt64(v))
    }
}
extension Int8: CastableElement {}
extension UInt8: CastableElement {}
extension Int16: CastableElement {}
extension UInt16: CastableElement {}
extension Int32: CastableElement {}
extension UInt32: CastableElement {}
extension Int64: CastableElement {}
extension UInt64: CastableElement {}

extension Bool: CastableElement {
    @inline(__always) static func fromFloat(_ v: Double) -> Bool { v != 0 }
    @inline(__always) static func fromInt(_ v: Int64) -> Bool { v != 0 }
    @inline(__always) static func fromUInt(_ v: UInt64) -> Bool { v != 0 }
    @inline(__always) static func fromBool(_ v: Bool) -> Bool { v }
    @inline(__always) func cast<D: CastableElement>(to: D.Type) -> D { D.fromBool(self) }
}

// MARK: - Float8 and float4

/// A small float format (float8 variants, float4e2m1): its layout and special values.
/// Encoding rounds to nearest even.
struct Float8Format: Sendable {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int
    /// E5M2: all-ones exponent is inf (mantissa 0) or NaN.
    let hasInfinity: Bool
    /// FNUZ: no negative zero; 0x80 is the only NaN.
    let unsignedZero: Bool
    /// E4M3FN: only all-ones exponent and mantissa is NaN, the rest of that exponent finite.
    let hasNaN: Bool
    let totalBits: Int

    init?(_ dtype: DType) {
        switch dtype {
        case .float8e4m3fn: (exponentBits, mantissaBits, bias, hasInfinity, unsignedZero, hasNaN) = (4, 3, 7, false, false, true)
        case .float8e4m3fnuz: (exponentBits, mantissaBits, bias, hasInfinity, unsignedZero, hasNaN) = (4, 3, 8, false, true, true)
        case .float8e5m2: (exponentBits, mantissaBits, bias, hasInfinity, unsignedZero, hasNaN) = (5, 2, 15, true, false, true)
        case .float8e5m2fnuz: (exponentBits, mantissaBits, bias, hasInfinity, unsignedZero, hasNaN) = (5, 2, 16, false, true, true)
        case .float4e2m1: (exponentBits, mantissaBits, bias, hasInfinity, unsignedZero, hasNaN) = (2, 1, 1, false, false, false)
        default: return nil
        }
        totalBits = 1 + exponentBits + mantissaBits
    }

    var signBit: UInt8 { UInt8(1) << (totalBits - 1) }

    /// The code of NaN (positive sign): 0x7F (E4M3FN), 0x7E (E5M2), 0x80 (FNUZ).
    var nanCode: UInt8 {
        if unsignedZero { return 0x80 }
        let allOnes = signBit - 1
        return hasInfinity ? allOnes - 1 : allOnes
    }

    /// The largest finite code (sign clear): 0x7E (E4M3FN), 0x7B (E5M2), 0x7F (FNUZ), 0x7 (E2M1).
    var maxCode: UInt8 {
        let allOnes = signBit - 1
        if hasInfinity { return allOnes - UInt8(1 << mantissaBits) }
        if hasNaN && !unsignedZero { return allOnes - 1 }
        return allOnes
    }

    /// The code of +infinity (E5M2 only).
    var infinityCode: UInt8 { UInt8(((1 << exponentBits) - 1) << mantissaBits) }

    /// The value of `code`.
    func decode(_ code: UInt8) -> Float {
        let code = code & UInt8((1 << totalBits) - 1)
        let negative = code & signBit != 0
        let magnitude = code & (signBit - 1)
        if unsignedZero && code == 0x80 { return .nan }
        let e = Int(magnitude >> mantissaBits)
        let m = Int(magnitude) & ((1 << mantissaBits) - 1)
        let eMax = (1 << exponentBits) - 1
        if hasInfinity && e == eMax { return m == 0 ? (negative ? -.infinity : .infinity) : (negative ? -.nan : .nan) }
        if hasNaN && !hasInfinity && !unsignedZero && e == eMax && m == (1 << mantissaBits) - 1 { return negative ? -.nan : .nan }
        let value: Float
        if e == 0 {
            value = Float(m) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        } else {
            value = Float(m + (1 << mantissaBits)) * Float(sign: .plus, exponent: e - bias - mantissaBits, significand: 1)
        }
        return negative ? -value : value
    }

    /// The largest finite value.
    var maxValue: Float { decode(maxCode) }

    /// The code nearest to `x` (ties to even). Out-of-range values and infinities give the
    /// largest finite value when `saturate`, else infinity (E5M2) or NaN.
    func encode(_ x: Float, saturate: Bool) -> UInt8 {
        let sign: UInt8 = x.sign == .minus ? signBit : 0
        if x.isNaN { return hasNaN ? nanCode | sign : signBit }
        let a = x.magnitude
        let maxV = maxValue
        var code: UInt8
        if a.isInfinite {
            if saturate || !hasNaN { code = maxCode }
            else if hasInfinity { code = infinityCode }
            else { return nanCode | sign }
        } else {
            // Quantum of the binade holding `a` (subnormal spacing below the normal range).
            let emin = 1 - bias
            let e = a == 0 ? emin : max(Int(a.exponent), emin)
            let quantum = Float(sign: .plus, exponent: e - mantissaBits, significand: 1)
            let r = (a / quantum).rounded(.toNearestOrEven) * quantum
            if r > maxV {
                if saturate || !hasNaN { code = maxCode }
                else if hasInfinity { code = infinityCode }
                else { return nanCode | sign }
            } else if r == 0 {
                code = 0
                if unsignedZero { return 0 }
            } else {
                let re = max(Int(r.exponent), emin)
                if Int(r.exponent) < emin {
                    code = UInt8(Int(r / Float(sign: .plus, exponent: emin - mantissaBits, significand: 1)))
                } else {
                    let frac = Int(r / Float(sign: .plus, exponent: re - mantissaBits, significand: 1)) - (1 << mantissaBits)
                    code = UInt8(((re + bias) << mantissaBits) | frac)
                }
            }
        }
        return code | sign
    }
}
