import ModelIR

/// QuantizeLinear, DequantizeLinear (per-tensor, per-axis, blocked; 8/16-bit integers,
/// int32 input to DequantizeLinear, 2- and 4-bit integers packed low bits first, float8 and
/// float4e2m1 through CastOps' codecs), DynamicQuantizeLinear, QLinearMatMul.
///
/// Arithmetic follows `onnx.reference` (NumPy): QuantizeLinear divides in the input's
/// precision (float16 in float16, or the `precision` attribute's type), rounds half to even,
/// adds the zero point and saturates; DequantizeLinear computes `(x - zero_point) * scale`
/// in float32 and rounds once to the scale's type (or `output_dtype`).
enum QuantizeOps {
    static let schemas: [OpSchema] = [
        OpSchema("QuantizeLinear", versions: [10, 13, 19, 21, 23, 24, 25]) { ctx in [.tensor(try quantizeLinear(ctx))] },
        OpSchema("DequantizeLinear", versions: [10, 13, 19, 21, 23, 24, 25]) { ctx in [.tensor(try dequantizeLinear(ctx))] },
        OpSchema("DynamicQuantizeLinear", versions: [11]) { ctx in try dynamicQuantizeLinear(ctx) },
        OpSchema("QLinearMatMul", versions: [10, 21]) { ctx in [.tensor(try qlinearMatMul(ctx))] },
    ]

    // MARK: Scale layouts

    /// How a scale (or zero point) tensor maps onto the elements of x: one value, one per
    /// index along `axis`, or one per block of `blockSize` indices along `axis`.
    struct Layout {
        /// x viewed as `[outer, axisLength, inner]`.
        let outer: Int, axisLength: Int, inner: Int
        /// 0: per tensor; > 0 blocked; -1 per axis.
        let blockSize: Int
        let blocks: Int

        /// Checks `scale` against x's dims. Throws naming the shapes when they do not fit.
        init(x: [Int], scale: [Int], axis rawAxis: Int, blockSize: Int, name: String) throws {
            let count = Shape.elementCount(of: scale) ?? 0
            if count == 1 && (scale.count <= 1 || blockSize == 0) {
                outer = 1; axisLength = 1; inner = Shape.elementCount(of: x) ?? 0
                self.blockSize = 0; blocks = 1
                return
            }
            let axis = rawAxis < 0 ? rawAxis + x.count : rawAxis
            guard axis >= 0 && axis < x.count else {
                throw OpError.invalid("axis \(rawAxis) is out of range for input of rank \(x.count)")
            }
            outer = x[..<axis].reduce(1, *)
            axisLength = x[axis]
            inner = x[(axis + 1)...].reduce(1, *)
            if blockSize > 0 {
                var expected = x
                expected[axis] = (x[axis] + blockSize - 1) / blockSize
                guard scale == expected else {
                    throw OpError.invalid("\(name) \(Shape(scale)) does not fit blocked quantization of \(Shape(x)) along axis \(axis) with block_size \(blockSize) (expected \(Shape(expected)))")
                }
                self.blockSize = blockSize
                blocks = expected[axis]
            } else {
                guard scale.count == 1, scale[0] == x[axis] else {
                    throw OpError.invalid("\(name) \(Shape(scale)) must be a scalar or have \(x[axis]) values (x \(Shape(x)), axis \(axis))")
                }
                self.blockSize = -1
                blocks = x[axis]
            }
        }

        /// Calls `body(elementIndex, scaleIndex)` for every element of x, in order.
        @inline(__always)
        func forEach(_ body: (Int, Int) -> Void) {
            var i = 0
            for o in 0..<outer {
                for a in 0..<axisLength {
                    let s: Int
                    switch blockSize {
                    case 0: s = 0
                    case -1: s = a
                    default: s = (o * blocks + a / blockSize) * inner
                    }
                    if blockSize > 0 {
                        for k in 0..<inner { body(i + k, s + k) }
                    } else {
                        for k in 0..<inner { body(i + k, s) }
                    }
                    i += inner
                }
            }
        }
    }

    static func axisAndBlock(_ ctx: KernelContext) -> (Int, Int) {
        (ctx.int("axis", default: 1), ctx.opset >= 21 ? ctx.int("block_size", default: 0) : 0)
    }

    // MARK: QuantizeLinear

    static func quantizeLinear(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), scale = try ctx.tensor(1), zeroPoint = ctx.optionalTensor(2)
        let (axis, blockSize) = axisAndBlock(ctx)
        if ctx.opset < 19 && scale.dims.count > 1 { throw OpError.invalid("y_scale must be a scalar or 1-D") }
        var outType: DType = zeroPoint?.dtype ?? .uint8
        if zeroPoint == nil, ctx.opset >= 21, let code = ctx.int("output_dtype"), code != 0 {
            guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)) else {
                throw OpError.unsupported("output_dtype \(code) is not a known data type")
            }
            outType = t
        } else if let zeroPoint, ctx.opset >= 21, let code = ctx.int("output_dtype"), code != 0,
                  Int32(truncatingIfNeeded: code) != zeroPoint.dtype.rawValue {
            throw OpError.invalid("output_dtype \(code) differs from y_zero_point's type \(zeroPoint.dtype)")
        }
        let layout = try Layout(x: x.dims, scale: scale.dims, axis: axis, blockSize: blockSize, name: "y_scale")
        if let zeroPoint, zeroPoint.dims != scale.dims, (zeroPoint.elementCount ?? 0) != (scale.elementCount ?? 0) {
            throw OpError.invalid("y_zero_point \(Shape(zeroPoint.dims)) must have y_scale's shape \(Shape(scale.dims))")
        }
        // x / scale in the computation precision.
        var precision = x.dtype
        if ctx.opset >= 23, let p = ctx.int("precision"), p != 0 {
            guard let t = DType(rawValue: Int32(truncatingIfNeeded: p)) else {
                throw OpError.unsupported("precision \(p) is not a known data type")
            }
            precision = t
        }
        let xs = try doubles(x, name: "x"), ss = try doubles(scale, name: "y_scale")
        var q = [Double](repeating: 0, count: xs.count)
        switch precision {
        case .float16:
            layout.forEach { i, s in q[i] = Double(Float16(Float(xs[i]) / Float(ss[s]))) }
        case .float32:
            layout.forEach { i, s in q[i] = Double(Float(xs[i]) / Float(ss[s])) }
        case .float64, .int32:
            layout.forEach { i, s in q[i] = xs[i] / ss[s] }
        case .bfloat16:
            let f = try CastOps.cast(Tensor.of(layoutDivide(xs, ss, layout)), to: .bfloat16, saturate: true, threads: 1)
            q = try doubles(CastOps.cast(f, to: .float32, saturate: true, threads: 1), name: "x")
        default:
            throw OpError.unsupported("QuantizeLinear in precision \(precision)")
        }
        if let range = integerRange(outType) {
            let zs = try zeroPoint.map { try integerValues($0, name: "y_zero_point") }
            var out = [Double](repeating: 0, count: q.count)
            layout.forEach { i, s in
                let r = q[i].rounded(.toNearestOrEven)
                // NumPy's astype(int32): NaN, inf and out-of-range values become INT32_MIN.
                var v = r.isFinite && r >= -2147483648 && r <= 2147483647 ? Int64(r) : Int64(Int32.min)
                if let zs { v = Int64(Int32(truncatingIfNeeded: v &+ zs[s])) }
                out[i] = Double(min(max(v, range.lowerBound), range.upperBound))
            }
            return try saturatedIntegers(out, to: outType, dims: x.dims)
        }
        switch outType {
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
            let saturate = ctx.int("saturate", default: 1) != 0
            let floats = Tensor.of(q.map { Float($0) }, dims: x.dims)
            return try CastOps.cast(floats, to: outType, saturate: saturate, threads: ctx.threads)
        case .float4e2m1:
            var values = q
            if let zeroPoint {
                let zs = try doubles(CastOps.cast(zeroPoint, to: .float32, saturate: true, threads: 1), name: "y_zero_point")
                layout.forEach { i, s in values[i] += zs[s] }
            }
            return try CastOps.cast(Tensor.of(values.map { Float($0) }, dims: x.dims), to: .float4e2m1, saturate: true,
                                    threads: ctx.threads)
        default:
            throw OpError.unsupported("QuantizeLinear to \(outType)")
        }
    }

    static func layoutDivide(_ xs: [Double], _ ss: [Double], _ layout: Layout) -> [Float] {
        var out = [Float](repeating: 0, count: xs.count)
        layout.forEach { i, s in out[i] = Float(xs[i]) / Float(ss[s]) }
        return out
    }

    /// The saturation range of an integer quantized type.
    static func integerRange(_ t: DType) -> ClosedRange<Int64>? {
        switch t {
        case .uint8: return 0...255
        case .int8: return -128...127
        case .uint16: return 0...65535
        case .int16: return -32768...32767
        case .uint4: return 0...15
        case .int4: return -8...7
        case .uint2: return 0...3
        case .int2: return -2...1
        case .int32: return Int64(Int32.min)...Int64(Int32.max)
        default: return nil
        }
    }

    /// Whole numbers already in range as a tensor of `dtype` (4-bit types packed).
    static func saturatedIntegers(_ values: [Double], to dtype: DType, dims: [Int]) throws -> Tensor {
        switch dtype {
        case .uint8: return Tensor.of(values.map { UInt8($0) }, dims: dims)
        case .int8: return Tensor.of(values.map { Int8($0) }, dims: dims)
        case .uint16: return Tensor.of(values.map { UInt16($0) }, dims: dims)
        case .int16: return Tensor.of(values.map { Int16($0) }, dims: dims)
        case .int32: return Tensor.of(values.map { Int32($0) }, dims: dims)
        case .uint4: return CastOps.pack4(Tensor.of(values.map { UInt8($0) }, dims: dims), as: .uint4)
        case .int4: return CastOps.pack4(Tensor.of(values.map { Int8($0) }, dims: dims), as: .int4)
        case .uint2, .int2:
            // Four per byte, the first in the low bits.
            var bytes = [UInt8](repeating: 0, count: (values.count + 3) / 4)
            for (i, v) in values.enumerated() { bytes[i / 4] |= (UInt8(truncatingIfNeeded: Int(v)) & 3) << (2 * (i % 4)) }
            return Tensor(unchecked: dtype, dims: dims, storage: .owned(bytes))
        default: throw OpError.unsupported("quantized type \(dtype)")
        }
    }

    // MARK: DequantizeLinear

    static func dequantizeLinear(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), scale = try ctx.tensor(1), zeroPoint = ctx.optionalTensor(2)
        let (axis, blockSize) = axisAndBlock(ctx)
        if ctx.opset < 19 && scale.dims.count > 1 { throw OpError.invalid("x_scale must be a scalar or 1-D") }
        let layout = try Layout(x: x.dims, scale: scale.dims, axis: axis, blockSize: blockSize, name: "x_scale")
        var outType = scale.dtype
        if ctx.opset >= 23, let code = ctx.int("output_dtype"), code != 0 {
            guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)) else {
                throw OpError.unsupported("output_dtype \(code) is not a known data type")
            }
            outType = t
        }
        let isFloatCode = [.float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1].contains(x.dtype)
        let xs: [Double]
        var zs: [Double]? = nil
        if isFloatCode {
            xs = try doubles(CastOps.cast(x, to: .float32, saturate: true, threads: ctx.threads), name: "x")
        } else {
            guard integerRange(x.dtype) != nil else { throw OpError.unsupported("DequantizeLinear of \(x.dtype)") }
            xs = try integerValues(x, name: "x").map { Double(Float($0)) }
            if let zeroPoint {
                guard zeroPoint.dtype == x.dtype else {
                    throw OpError.invalid("x_zero_point is \(zeroPoint.dtype) but x is \(x.dtype)")
                }
                guard zeroPoint.elementCount == scale.elementCount else {
                    throw OpError.invalid("x_zero_point \(Shape(zeroPoint.dims)) must have x_scale's shape \(Shape(scale.dims))")
                }
                zs = try integerValues(zeroPoint, name: "x_zero_point").map { Double($0) }
            }
        }
        let ss = try doubles(scale, name: "x_scale")
        var y = [Float](repeating: 0, count: xs.count)
        if let zs {
            layout.forEach { i, s in y[i] = Float((xs[i] - zs[s]) * ss[s]) }
        } else {
            layout.forEach { i, s in y[i] = Float(xs[i] * ss[s]) }
        }
        let out = Tensor.of(y, dims: x.dims)
        return outType == .float32 ? out : try CastOps.cast(out, to: outType, saturate: true, threads: ctx.threads)
    }

    // MARK: DynamicQuantizeLinear

    /// uint8 quantization with scale and zero point from the data's range (widened to
    /// include 0), as `onnx.reference` computes it in float32.
    static func dynamicQuantizeLinear(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0)
        guard x.dtype == .float32 else { throw OpError.unsupported("DynamicQuantizeLinear of \(x.dtype) (float32 only)") }
        return x.withElements(Float.self) { xs in
            var hi: Float = 0, lo: Float = 0
            for v in xs {
                if v > hi { hi = v }
                if v < lo { lo = v }
            }
            let scale: Float = (hi == lo ? 1 : hi - lo) / 255
            let initial: Float = 0 - lo / scale
            let zero = min(max(initial, 0), 255).rounded(.toNearestOrEven)
            let y = Tensor.make(UInt8.self, dims: x.dims) { out in
                for i in 0..<xs.count {
                    let q = (xs[i] / scale).rounded(.toNearestOrEven) + zero
                    out[i] = q.isNaN ? 0 : UInt8(min(max(q, 0), 255))
                }
            }
            return [.tensor(y), .tensor(Tensor.scalar(scale)), .tensor(Tensor.scalar(UInt8(zero)))]
        }
    }

    // MARK: QLinearMatMul

    /// `saturate(rint((a - a_zp) x (b - b_zp) * (a_scale * b_scale / y_scale) + y_zp))`, the
    /// product in int32 and the scale product in the scales' type; per-row a, per-column b.
    static func qlinearMatMul(_ ctx: KernelContext) throws -> Tensor {
        let a = try ctx.tensor(0), aScale = try ctx.tensor(1), aZero = ctx.optionalTensor(2)
        let b = try ctx.tensor(3), bScale = try ctx.tensor(4), bZero = ctx.optionalTensor(5)
        let yScale = try ctx.tensor(6), yZero = ctx.optionalTensor(7)
        let product = try GemmOps.integerMatMul(ctx, a: a, aZero: aZero, b: b, bZero: bZero)
        let dims = product.dims
        let n = dims.last ?? 1, m = dims.count >= 2 ? dims[dims.count - 2] : 1
        func perIndex(_ t: Tensor, _ name: String, along count: Int) throws -> [Float] {
            let v = try Quantized.floats(t, name: name)
            guard v.count == 1 || v.count == count else {
                throw OpError.invalid("\(name) has \(v.count) values; expected 1 or \(count)")
            }
            return v
        }
        let asv = try perIndex(aScale, "a_scale", along: m), bsv = try perIndex(bScale, "b_scale", along: n)
        let ysv = try perIndex(yScale, "y_scale", along: m)
        let half = aScale.dtype == .float16
        let outType = yZero?.dtype ?? a.dtype
        let yz = try yZero.map { try integerValues($0, name: "y_zero_point") } ?? [0]
        let acc = product.elements(Int32.self)
        var values = [Double](repeating: 0, count: acc.count)
        for i in 0..<acc.count {
            let col = i % n, row = (i / n) % m
            let sa = asv[asv.count == 1 ? 0 : row], sb = bsv[bsv.count == 1 ? 0 : col], sy = ysv[ysv.count == 1 ? 0 : row]
            let multiplier = half ? Float(Float16(Float(Float16(sa * sb)) / sy)) : (sa * sb) / sy
            let z = Double(yz.count == 1 ? yz[0] : yz[col % yz.count])
            values[i] = Double(acc[i]) * Double(multiplier) + z
        }
        return try Quantized.saturate(values, to: outType, dims: dims)
    }

    // MARK: Element access

    /// Numeric tensor elements as Double (floats and integers; float16 exactly).
    static func doubles(_ t: Tensor, name: String) throws -> [Double] {
        if t.dtype == .bfloat16 {
            return try doubles(CastOps.cast(t, to: .float32, saturate: true, threads: 1), name: name)
        }
        // The common types with concrete element types (specialized loops).
        switch t.dtype {
        case .float32: return t.withElements(Float.self) { $0.map { Double($0) } }
        case .float16: return t.withElements(Float16.self) { $0.map { Double($0) } }
        case .float64: return t.elements(Double.self)
        default: break
        }
        guard let v = try t.dtype.visitNumeric(DoublesVisitor(t: t)) else {
            throw OpError.unsupported("\(name) of type \(t.dtype)")
        }
        return v
    }

    struct DoublesVisitor: NumericVisitor {
        let t: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> [Double] { t.withElements(T.self) { $0.map(\.asDouble) } }
    }

    /// Integer tensor elements (int4/uint4 unpacked) as Int64.
    static func integerValues(_ t: Tensor, name: String) throws -> [Int64] {
        if t.dtype == .int4 || t.dtype == .uint4 {
            return try integerValues(CastOps.unpack4(t), name: name)
        }
        if t.dtype == .int2 || t.dtype == .uint2 {
            let count = t.elementCount ?? 0
            return t.withUnsafeBytes { raw in
                (0..<count).map { i in
                    let code = Int64(i / 4 < raw.count ? (raw[i / 4] >> (2 * (i % 4))) & 3 : 0)
                    return t.dtype == .int2 && code >= 2 ? code - 4 : code
                }
            }
        }
        guard let v = t.integers() else { throw OpError.unsupported("\(name) of type \(t.dtype) (an integer type is expected)") }
        return v.map { Int64($0) }
    }
}

/// Helpers the quantized Conv/MatMul kernels share.
enum Quantized {
    /// A uint8/int8 tensor minus its (scalar) zero point, as int32.
    static func int32(_ t: Tensor, zeroPoint: Tensor?, name: String) throws -> [Int32] {
        guard t.dtype == .uint8 || t.dtype == .int8 else {
            throw OpError.unsupported("\(name) of type \(t.dtype) (uint8 or int8 expected)")
        }
        let values = try QuantizeOps.integerValues(t, name: name)
        var zero: Int64 = 0
        if let zeroPoint {
            guard zeroPoint.dtype == t.dtype else {
                throw OpError.invalid("\(name)_zero_point is \(zeroPoint.dtype) but \(name) is \(t.dtype)")
            }
            zero = Int64(try scalarInteger(zeroPoint, name: "\(name)_zero_point"))
        }
        return values.map { Int32($0 - zero) }
    }

    /// A uint8/int8 weight tensor `[M, ...]` minus its zero point (a scalar or one per
    /// output channel `M`), as int32.
    static func int32PerChannel(_ t: Tensor, zeroPoint: Tensor?, channels: Int, name: String) throws -> [Int32] {
        guard t.dtype == .uint8 || t.dtype == .int8 else {
            throw OpError.unsupported("\(name) of type \(t.dtype) (uint8 or int8 expected)")
        }
        let values = try QuantizeOps.integerValues(t, name: name)
        guard let zeroPoint else { return values.map { Int32($0) } }
        guard zeroPoint.dtype == t.dtype else {
            throw OpError.invalid("\(name)_zero_point is \(zeroPoint.dtype) but \(name) is \(t.dtype)")
        }
        let zeros = try QuantizeOps.integerValues(zeroPoint, name: "\(name)_zero_point")
        guard zeros.count == 1 || zeros.count == channels else {
            throw OpError.invalid("\(name)_zero_point has \(zeros.count) values; expected 1 or \(channels)")
        }
        let per = channels > 0 ? values.count / channels : 0
        return values.indices.map { i in Int32(values[i] - zeros[zeros.count == 1 ? 0 : min(i / max(per, 1), zeros.count - 1)]) }
    }

    /// The single value of a one-element float tensor (float32/float16/float64).
    static func scalar(_ t: Tensor, name: String) throws -> Float {
        let v = try floats(t, name: name)
        guard v.count == 1 else { throw OpError.invalid("\(name) must hold one value, has \(v.count)") }
        return v[0]
    }

    /// Float scale values as float32.
    static func floats(_ t: Tensor, name: String) throws -> [Float] {
        guard t.dtype.isFloatingPoint else { throw OpError.invalid("\(name) must be a float tensor, is \(t.dtype)") }
        return try QuantizeOps.doubles(t, name: name).map { Float($0) }
    }

    /// The single value of a one-element integer tensor.
    static func scalarInteger(_ t: Tensor, name: String) throws -> Int {
        let v = try QuantizeOps.integerValues(t, name: name)
        guard v.count == 1 else { throw OpError.invalid("\(name) must hold one value, has \(v.count)") }
        return Int(v[0])
    }

    /// `values` rounded half to even and saturated to the integer type `dtype`.
    static func saturate(_ values: [Double], to dtype: DType, dims: [Int]) throws -> Tensor {
        guard let range = QuantizeOps.integerRange(dtype) else { throw OpError.unsupported("quantized output type \(dtype)") }
        let lo = Double(range.lowerBound), hi = Double(range.upperBound)
        let clipped = values.map { v -> Double in v.isNaN ? lo : min(max(v.rounded(.toNearestOrEven), lo), hi) }
        return try QuantizeOps.saturatedIntegers(clipped, to: dtype, dims: dims)
    }
}
