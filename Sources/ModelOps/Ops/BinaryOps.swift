import ModelIR

/// Elementwise operators of two or more tensors with NumPy broadcasting (`Broadcast`):
/// arithmetic (Add, Sub, Mul, Div, Pow, Mod), logic (And, Or, Xor), comparison (Equal,
/// Less, Greater, LessOrEqual, GreaterOrEqual), bitwise (BitShift, BitwiseAnd/Or/Xor),
/// variadic (Max, Min, Sum, Mean), Where and Expand.
///
/// Integer arithmetic wraps like NumPy; integer Div truncates toward zero (C, as
/// `onnx.reference` does) and gives 0 for a zero divisor, as does Mod. Before opset 7,
/// Add/Sub/Mul/Div take `broadcast`/`axis` attributes: B is aligned with A's dims from `axis`.
enum BinaryOps {
    static let schemas: [OpSchema] = [
        arithmetic("Add", [1, 6, 7, 13, 14], AddFunction()),
        arithmetic("Sub", [1, 6, 7, 13, 14], SubFunction()),
        arithmetic("Mul", [1, 6, 7, 13, 14], MulFunction()),
        arithmetic("Div", [1, 6, 7, 13, 14], DivFunction()),
        OpSchema("Mod", versions: [10, 13, 28]) { ctx in
            let (a, b) = (try ctx.tensor(0), try ctx.tensor(1))
            let out = ctx.int("fmod", default: 0) == 1
                ? try binaryNumeric(a, b, ModFunction<TruncatedRemainder>(), threads: ctx.threads)
                : try binaryNumeric(a, b, ModFunction<FlooredRemainder>(), threads: ctx.threads)
            return [.tensor(out)]
        },
        OpSchema("Pow", versions: [1, 7, 12, 13, 15]) { ctx in
            [.tensor(try pow(try ctx.tensor(0), try ctx.tensor(1), threads: ctx.threads))]
        },
        variadic("Max", [1, 6, 8, 12, 13], MaxFunction()),
        variadic("Min", [1, 6, 8, 12, 13], MinFunction()),
        variadic("Sum", [1, 6, 8, 13], AddFunction()),
        OpSchema("Mean", versions: [1, 6, 8, 13]) { ctx in
            let inputs = try (0..<ctx.inputCount).map { try ctx.tensor($0) }
            let sum = try fold(inputs, AddFunction(), threads: ctx.threads)
            let n = try castLike(Double(inputs.count), sum.dtype)
            return [.tensor(try binaryNumeric(sum, n, DivFunction(), threads: ctx.threads))]
        },
        logical("And", [1, 7]) { $0 && $1 },
        logical("Or", [1, 7]) { $0 || $1 },
        logical("Xor", [1, 7]) { $0 != $1 },
        comparison("Equal", [1, 7, 11, 13, 19], EqualFunction()),
        comparison("Less", [1, 7, 9, 13], LessFunction()),
        comparison("Greater", [1, 7, 9, 13], GreaterFunction()),
        comparison("LessOrEqual", [12, 16], LessOrEqualFunction()),
        comparison("GreaterOrEqual", [12, 16], GreaterOrEqualFunction()),
        bitwise("BitwiseAnd", [18], BitwiseAndFunction()),
        bitwise("BitwiseOr", [18], BitwiseOrFunction()),
        bitwise("BitwiseXor", [18], BitwiseXorFunction()),
        OpSchema("BitShift", versions: [11, 28]) { ctx in
            let direction = ctx.string("direction") ?? ""
            let (a, b) = (try ctx.tensor(0), try ctx.tensor(1))
            switch direction {
            case "LEFT": return [.tensor(try binaryInteger(a, b, ShiftLeftFunction(), threads: ctx.threads))]
            case "RIGHT": return [.tensor(try binaryInteger(a, b, ShiftRightFunction(), threads: ctx.threads))]
            default: throw OpError.invalid("attribute 'direction' is '\(direction)'; expected LEFT or RIGHT")
            }
        },
        OpSchema("Where", versions: [9, 16]) { ctx in
            [.tensor(try whereSelect(try ctx.tensor(0), try ctx.tensor(1), try ctx.tensor(2), threads: ctx.threads))]
        },
        OpSchema("Expand", versions: [8, 13]) { ctx in
            let x = try ctx.tensor(0)
            let shapeTensor = try ctx.tensor(1)
            guard shapeTensor.dtype == .int64, shapeTensor.dims.count == 1 else {
                throw OpError.invalid("input 'shape' must be a 1-D int64 tensor, got \(shapeTensor.dtype)\(Shape(shapeTensor.dims))")
            }
            let shape = shapeTensor.elements(Int64.self).map { Int($0) }
            if let bad = shape.first(where: { $0 < 0 }) {
                throw OpError.invalid("input 'shape' \(shape) has a negative dim \(bad)")
            }
            let target = try Broadcast.shape(x.dims, shape)
            guard Shape.elementCount(of: target) != nil else {
                throw OpError.invalid("Expand to \(Shape(target)): the element count overflows")
            }
            return [.tensor(try expand(x, to: target, threads: ctx.threads))]
        },
    ]

    // MARK: Schema builders

    static func arithmetic<F: NumericBinaryFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            let a = try ctx.tensor(0)
            var b = try ctx.tensor(1)
            if ctx.opset < 7 { b = try legacyBroadcast(ctx, a, b) }
            return [.tensor(try binaryNumeric(a, b, f, threads: ctx.threads))]
        }
    }

    static func variadic<F: NumericBinaryFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            let inputs = try (0..<ctx.inputCount).map { try ctx.tensor($0) }
            return [.tensor(try fold(inputs, f, threads: ctx.threads))]
        }
    }

    static func comparison<F: ComparisonFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            let a = try ctx.tensor(0)
            var b = try ctx.tensor(1)
            if ctx.opset < 7 { b = try legacyBroadcast(ctx, a, b) }
            return [.tensor(try compare(a, b, f, threads: ctx.threads))]
        }
    }

    static func logical(_ op: String, _ versions: [Int], _ f: @escaping @Sendable (Bool, Bool) -> Bool) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            let a = try ctx.tensor(0)
            var b = try ctx.tensor(1)
            if ctx.opset < 7 { b = try legacyBroadcast(ctx, a, b) }
            try expect(a, [.bool], "A")
            try expect(b, [.bool], "B")
            return [.tensor(try broadcastTensors(a, b, Bool.self, Bool.self, Bool.self, threads: ctx.threads, ClosureMapping(f)))]
        }
    }

    static func bitwise<F: IntegerBinaryFunction>(_ op: String, _ versions: [Int], _ f: F) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            [.tensor(try binaryInteger(try ctx.tensor(0), try ctx.tensor(1), f, threads: ctx.threads))]
        }
    }

    /// Opset < 7: with `broadcast` = 1, B's dims line up with A's from `axis` (default:
    /// B's last dim with A's last); returns B reshaped for NumPy broadcasting.
    static func legacyBroadcast(_ ctx: KernelContext, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard ctx.int("broadcast", default: 0) == 1, let axis = ctx.int("axis") else { return b }
        let rank = a.dims.count
        let start = axis < 0 ? axis + rank : axis
        guard start >= 0, start + b.dims.count <= rank else {
            throw OpError.invalid("attribute 'axis' \(axis) does not place B \(Shape(b.dims)) inside A \(Shape(a.dims))")
        }
        return b.reshaped(b.dims + [Int](repeating: 1, count: rank - start - b.dims.count))
    }

    // MARK: Kernels

    /// Left-folds `f` over `inputs` (one input: itself).
    static func fold<F: NumericBinaryFunction>(_ inputs: [Tensor], _ f: F, threads: Int) throws -> Tensor {
        guard var acc = inputs.first else { throw OpError.invalid("at least one input is required") }
        for t in inputs.dropFirst() { acc = try binaryNumeric(acc, t, f, threads: threads) }
        return acc
    }

    /// A 0-d tensor of `dtype` holding `value`.
    static func castLike(_ value: Double, _ dtype: DType) throws -> Tensor {
        try CastOps.cast(Tensor.scalar(value), to: dtype, saturate: true, threads: 1)
    }

    /// Pow: the result has the base's dtype. Same float dtypes compute in that type (16-bit
    /// in Float); integer powers of integers wrap (negative exponents give 1/b^n truncated);
    /// other mixes compute in Double and convert like NumPy's `astype`.
    static func pow(_ a: Tensor, _ b: Tensor, threads: Int) throws -> Tensor {
        if a.dtype == b.dtype, a.dtype.isFloatingPoint {
            return try binaryNumeric(a, b, PowFunction(), threads: threads)
        }
        let aInt = (try a.dtype.visitInteger(IsInteger())) != nil, bInt = (try b.dtype.visitInteger(IsInteger())) != nil
        if aInt && bInt {
            let x = try CastOps.cast(a, to: .int64, saturate: true, threads: threads)
            let y = try CastOps.cast(b, to: .int64, saturate: true, threads: threads)
            let z = try binaryNumeric(x, y, PowFunction(), threads: threads)
            return try CastOps.cast(z, to: a.dtype, saturate: true, threads: threads)
        }
        let x = try CastOps.cast(a, to: .float64, saturate: true, threads: threads)
        let y = try CastOps.cast(b, to: .float64, saturate: true, threads: threads)
        let z = try binaryNumeric(x, y, PowFunction(), threads: threads)
        return try CastOps.cast(z, to: a.dtype, saturate: true, threads: threads)
    }

    struct IsInteger: IntegerVisitor {
        func visit<T: IntegerElement>(_: T.Type) throws -> Bool { true }
    }

    /// `Where(condition, X, Y)`: X where the condition holds, else Y, broadcast over all three.
    static func whereSelect(_ c: Tensor, _ x: Tensor, _ y: Tensor, threads: Int) throws -> Tensor {
        try expect(c, [.bool], "condition")
        guard x.dtype == y.dtype else { throw OpError.invalid("inputs X and Y differ in type: \(x.dtype) vs \(y.dtype)") }
        let plan = try BroadcastPlan([c.dims, x.dims, y.dims])
        try checkStorage(c, x, y)
        if case .strings(let xs) = x.storage, case .strings(let ys) = y.storage {
            let cs = c.elements(Bool.self)
            var out: [[UInt8]] = []
            out.reserveCapacity(plan.count)
            plan.forEachRun(in: 0..<plan.count) { _, ic, ix, iy, n in
                let (sc, sx, sy) = plan.innerStrides
                for i in 0..<n { out.append(cs[ic + i * sc] ? xs[ix + i * sx] : ys[iy + i * sy]) }
            }
            return Tensor(unchecked: .string, dims: plan.outDims, storage: .strings(out))
        }
        func select<T>(_: T.Type) -> Tensor {
            c.withElements(Bool.self) { pc in
                withElementBits(x, T.self) { px in
                    withElementBits(y, T.self) { py in
                        rawTensor(T.self, dtype: x.dtype, dims: plan.outDims) { out in
                            broadcastMap3(plan, pc, px, py, out, threads: threads, SelectMapping<T>())
                        }
                    }
                }
            }
        }
        switch x.dtype.bitWidth {
        case 8: return select(UInt8.self)
        case 16: return select(UInt16.self)
        case 32: return select(UInt32.self)
        case 64: return select(UInt64.self)
        case 128: return select(SIMD2<UInt64>.self)
        default: throw OpError.unsupported("Where on \(x.dtype) elements")
        }
    }

    /// `x` broadcast to `target` (which `x.dims` must broadcast to).
    static func expand(_ x: Tensor, to target: [Int], threads: Int) throws -> Tensor {
        let plan = try BroadcastPlan([x.dims], to: target)
        try checkStorage(x)
        if case .strings(let xs) = x.storage {
            var out: [[UInt8]] = []
            out.reserveCapacity(plan.count)
            plan.forEachRun(in: 0..<plan.count) { _, ix, _, _, n in
                for i in 0..<n { out.append(xs[ix + i * plan.innerStrides.0]) }
            }
            return Tensor(unchecked: .string, dims: target, storage: .strings(out))
        }
        func copy<T>(_: T.Type) -> Tensor {
            withElementBits(x, T.self) { px in
                rawTensor(T.self, dtype: x.dtype, dims: target) { out in broadcastCopy(plan, px, out, threads: threads) }
            }
        }
        switch x.dtype.bitWidth {
        case 8: return copy(UInt8.self)
        case 16: return copy(UInt16.self)
        case 32: return copy(UInt32.self)
        case 64: return copy(UInt64.self)
        case 128: return copy(SIMD2<UInt64>.self)
        default: throw OpError.unsupported("Expand on \(x.dtype) elements")
        }
    }
}

struct SelectMapping<T>: TernaryMapping {
    @inline(__always) func callAsFunction(_ c: Bool, _ x: T, _ y: T) -> T { c ? x : y }
}

/// Throws unless each tensor's storage holds the elements its dims say (kernels index by dims).
func checkStorage(_ tensors: Tensor...) throws {
    for t in tensors {
        let count = t.elementCount ?? -1
        let held: Int
        if case .strings(let s) = t.storage { held = s.count } else { held = t.dtype.byteCount(elements: count) ?? -1 }
        let needed = t.dtype == .string ? count : t.byteCount
        guard held == needed, count >= 0 else {
            throw OpError.invalid("tensor '\(t.name)' of dims \(t.dims) holds the wrong number of elements")
        }
    }
}

/// A new tensor of `dtype` whose elements, viewed as `T` (of `dtype`'s width), `fill` writes:
/// every one of them (the storage starts uninitialized).
@inline(__always)
func rawTensor<T>(_: T.Type, dtype: DType, dims: [Int], _ fill: (UnsafeMutableBufferPointer<T>) -> Void) -> Tensor {
    let count = Shape.elementCount(of: dims) ?? 0
    let byteCount = count * MemoryLayout<T>.stride
    let bytes = [UInt8](unsafeUninitializedCapacity: byteCount) { raw, initialized in
        fill(UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(raw.baseAddress)?.assumingMemoryBound(to: T.self),
                                        count: count))
        initialized = byteCount
    }
    return Tensor(unchecked: dtype, dims: dims, storage: .owned(bytes))
}

// MARK: - Broadcast drivers

/// `f` over `a` and `b` (elements read as `A` and `B`, which must have their dtypes' widths)
/// broadcast together, into a new tensor of `R` (of `dtype`, default `R.dtype`).
@inline(__always)
func broadcastTensors<F: BinaryMapping>(_ a: Tensor, _ b: Tensor, _: F.A.Type, _: F.B.Type, _: F.R.Type,
                                        dtype: DType? = nil, threads: Int, _ f: F) throws -> Tensor
where F.R: TensorElement {
    let plan = try BroadcastPlan([a.dims, b.dims])
    try checkStorage(a, b)
    return withElementBits(a, F.A.self) { pa in
        withElementBits(b, F.B.self) { pb in
            rawTensor(F.R.self, dtype: dtype ?? F.R.dtype, dims: plan.outDims) { out in
                broadcastMap(plan, pa, pb, out, threads: threads, f)
            }
        }
    }
}

/// An arithmetic function with a float form (Float and Double; 16-bit floats computed in
/// Float and rounded once) and an integer form.
protocol NumericBinaryFunction: Sendable {
    func float<T: MathFloat>(_ a: T, _ b: T) -> T
    func integer<T: IntegerElement>(_ a: T, _ b: T) -> T
}

struct FloatBinaryMapping<F: NumericBinaryFunction, T: MathFloat>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { f.float(a, b) }
}
struct HalfBinaryMapping<F: NumericBinaryFunction>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: Float16, _ b: Float16) -> Float16 { Float16(f.float(Float(a), Float(b))) }
}
struct BFloat16BinaryMapping<F: NumericBinaryFunction>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: BFloat16Bits, _ b: BFloat16Bits) -> BFloat16Bits {
        BFloat16Bits(f.float(a.float, b.float))
    }
}
struct IntegerBinaryMapping<F: NumericBinaryFunction, T: IntegerElement>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { f.integer(a, b) }
}

/// `f(a, b)` broadcast, for two tensors of one numeric dtype.
func binaryNumeric<F: NumericBinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F, threads: Int) throws -> Tensor {
    guard a.dtype == b.dtype else { throw OpError.invalid("inputs differ in type: \(a.dtype) vs \(b.dtype)") }
    switch a.dtype {
    case .float32:
        return try broadcastTensors(a, b, Float.self, Float.self, Float.self, threads: threads, FloatBinaryMapping<F, Float>(f: f))
    case .float64:
        return try broadcastTensors(a, b, Double.self, Double.self, Double.self, threads: threads, FloatBinaryMapping<F, Double>(f: f))
    case .float16:
        return try broadcastTensors(a, b, Float16.self, Float16.self, Float16.self, threads: threads, HalfBinaryMapping(f: f))
    case .bfloat16:
        return try broadcastTensors(a, b, BFloat16Bits.self, BFloat16Bits.self, BFloat16Bits.self, threads: threads,
                                    BFloat16BinaryMapping(f: f))
    default:
        guard let out = try a.dtype.visitInteger(IntegerBinaryVisitor(a: a, b: b, f: f, threads: threads)) else {
            throw OpError.unsupported("inputs are \(a.dtype); expected a numeric type")
        }
        return out
    }
}

struct IntegerBinaryVisitor<F: NumericBinaryFunction>: IntegerVisitor {
    let a: Tensor, b: Tensor
    let f: F
    let threads: Int
    func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
        try broadcastTensors(a, b, T.self, T.self, T.self, threads: threads, IntegerBinaryMapping<F, T>(f: f))
    }
}

/// An integer-only function (bitwise ops).
protocol IntegerBinaryFunction: Sendable {
    func integer<T: IntegerElement>(_ a: T, _ b: T) -> T
}

struct IntegerOnlyMapping<F: IntegerBinaryFunction, T: IntegerElement>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { f.integer(a, b) }
}

func binaryInteger<F: IntegerBinaryFunction>(_ a: Tensor, _ b: Tensor, _ f: F, threads: Int) throws -> Tensor {
    guard a.dtype == b.dtype else { throw OpError.invalid("inputs differ in type: \(a.dtype) vs \(b.dtype)") }
    guard let out = try a.dtype.visitInteger(IntegerOnlyVisitor(a: a, b: b, f: f, threads: threads)) else {
        throw OpError.unsupported("inputs are \(a.dtype); expected an integer type")
    }
    return out
}

struct IntegerOnlyVisitor<F: IntegerBinaryFunction>: IntegerVisitor {
    let a: Tensor, b: Tensor
    let f: F
    let threads: Int
    func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
        try broadcastTensors(a, b, T.self, T.self, T.self, threads: threads, IntegerOnlyMapping<F, T>(f: f))
    }
}

/// A comparison, giving bool. `equalBits` answers Equal for bool and bit-typed elements.
protocol ComparisonFunction: Sendable {
    func compare<T: Comparable>(_ a: T, _ b: T) -> Bool
    /// For `Equal` only: whether the op is defined on bool and string elements.
    var isEquality: Bool { get }
}
extension ComparisonFunction { var isEquality: Bool { false } }

struct ComparisonMapping<F: ComparisonFunction, T: Comparable>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> Bool { f.compare(a, b) }
}
struct BFloat16ComparisonMapping<F: ComparisonFunction>: BinaryMapping {
    let f: F
    @inline(__always) func callAsFunction(_ a: BFloat16Bits, _ b: BFloat16Bits) -> Bool { f.compare(a.float, b.float) }
}

func compare<F: ComparisonFunction>(_ a: Tensor, _ b: Tensor, _ f: F, threads: Int) throws -> Tensor {
    guard a.dtype == b.dtype else { throw OpError.invalid("inputs differ in type: \(a.dtype) vs \(b.dtype)") }
    switch a.dtype {
    case .bool:
        guard f.isEquality else { throw OpError.unsupported("inputs are bool; expected a numeric type") }
        return try broadcastTensors(a, b, UInt8.self, UInt8.self, Bool.self, threads: threads, ComparisonMapping<F, UInt8>(f: f))
    case .bfloat16:
        return try broadcastTensors(a, b, BFloat16Bits.self, BFloat16Bits.self, Bool.self, threads: threads,
                                    BFloat16ComparisonMapping(f: f))
    case .string:
        guard f.isEquality, case .strings(let xs) = a.storage, case .strings(let ys) = b.storage else {
            throw OpError.unsupported("inputs are string; only Equal compares strings")
        }
        let plan = try BroadcastPlan([a.dims, b.dims])
        var out = [Bool]()
        out.reserveCapacity(plan.count)
        plan.forEachRun(in: 0..<plan.count) { _, ia, ib, _, n in
            for i in 0..<n { out.append(xs[ia + i * plan.innerStrides.0] == ys[ib + i * plan.innerStrides.1]) }
        }
        return Tensor.of(out, dims: plan.outDims)
    default:
        guard let out = try a.dtype.visitNumeric(ComparisonVisitor(a: a, b: b, f: f, threads: threads)) else {
            throw OpError.unsupported("inputs are \(a.dtype); expected a numeric type")
        }
        return out
    }
}

struct ComparisonVisitor<F: ComparisonFunction>: NumericVisitor {
    let a: Tensor, b: Tensor
    let f: F
    let threads: Int
    func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
        try broadcastTensors(a, b, T.self, T.self, Bool.self, threads: threads, ComparisonMapping<F, T>(f: f))
    }
}

// MARK: - The functions

struct AddFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a + b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a &+ b }
}
struct SubFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a - b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a &- b }
}
struct MulFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a * b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a &* b }
}
/// Integer division truncates toward zero; a zero divisor gives 0; `min / -1` wraps to min.
struct DivFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a / b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue
    }
}
/// NaN-propagating maximum (NumPy's `maximum`).
struct MaxFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a > b || a.isNaN ? a : b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a > b ? a : b }
}
struct MinFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { a < b || a.isNaN ? a : b }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a < b ? a : b }
}
/// Float `pow`; integer power by squaring, wrapping (negative exponents: 1/a^n truncated).
struct PowFunction: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { T.mathPow(a, b) }
    func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        if b < 0 {
            if a == 1 { return 1 }
            if T.isSigned && a == 0 &- 1 { return b & 1 == 0 ? 1 : a }
            return 0
        }
        var result: T = 1, base = a, e = b
        while e > 0 {
            if e & 1 == 1 { result = result &* base }
            base = base &* base
            e >>= 1
        }
        return result
    }
}

/// How Mod rounds the quotient.
protocol RemainderKind: Sendable {
    static func float<T: MathFloat>(_ a: T, _ b: T) -> T
    static func integer<T: IntegerElement>(_ a: T, _ b: T) -> T
}
/// `fmod` = 0: the sign of the divisor (Python/NumPy `mod`).
enum FlooredRemainder: RemainderKind {
    @inline(__always) static func float<T: MathFloat>(_ a: T, _ b: T) -> T {
        var m = T.mathFmod(a, b)
        if b == 0 { return m }
        if m != 0 {
            if (b < 0) != (m < 0) { m += b }
        } else {
            m = b < 0 ? -0.0 : 0.0
        }
        return m
    }
    @inline(__always) static func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        if b == 0 { return 0 }
        let r = a.remainderReportingOverflow(dividingBy: b).partialValue
        return r != 0 && (r < 0) != (b < 0) ? r &+ b : r
    }
}
/// `fmod` = 1: the sign of the dividend (C `fmod`).
enum TruncatedRemainder: RemainderKind {
    @inline(__always) static func float<T: MathFloat>(_ a: T, _ b: T) -> T { T.mathFmod(a, b) }
    @inline(__always) static func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        b == 0 ? 0 : a.remainderReportingOverflow(dividingBy: b).partialValue
    }
}
struct ModFunction<K: RemainderKind>: NumericBinaryFunction {
    @inline(__always) func float<T: MathFloat>(_ a: T, _ b: T) -> T { K.float(a, b) }
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { K.integer(a, b) }
}

struct EqualFunction: ComparisonFunction {
    @inline(__always) func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a == b }
    var isEquality: Bool { true }
}
struct LessFunction: ComparisonFunction {
    @inline(__always) func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a < b }
}
struct GreaterFunction: ComparisonFunction {
    @inline(__always) func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a > b }
}
struct LessOrEqualFunction: ComparisonFunction {
    @inline(__always) func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a <= b }
}
struct GreaterOrEqualFunction: ComparisonFunction {
    @inline(__always) func compare<T: Comparable>(_ a: T, _ b: T) -> Bool { a >= b }
}

struct BitwiseAndFunction: IntegerBinaryFunction {
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a & b }
}
struct BitwiseOrFunction: IntegerBinaryFunction {
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a | b }
}
struct BitwiseXorFunction: IntegerBinaryFunction {
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T { a ^ b }
}
/// Shifts by a negative amount or by the bit width or more give 0.
struct ShiftLeftFunction: IntegerBinaryFunction {
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        b < 0 || b >= T(truncatingIfNeeded: T.bitWidth) ? 0 : a &<< b
    }
}
/// Arithmetic for signed types: out-of-range shifts give -1 for negative values, else 0.
struct ShiftRightFunction: IntegerBinaryFunction {
    @inline(__always) func integer<T: IntegerElement>(_ a: T, _ b: T) -> T {
        b < 0 || b >= T(truncatingIfNeeded: T.bitWidth) ? (a < 0 ? 0 &- 1 : 0) : a &>> b
    }
}
