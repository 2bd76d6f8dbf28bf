import ModelIR

/// Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
/// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare; ArgMax, ArgMin; CumSum, CumProd.
///
/// Axes come from the `axes` attribute before opset 13 (ReduceSum) or 18 (the others) and
/// from the optional second input after; no axes means every axis, or none at all with
/// `noop_with_empty_axes` = 1 (the elementwise part still applies: ReduceL1 gives |x|, as in
/// `onnx.reference`). `keepdims` (default 1) keeps reduced dims as 1.
///
/// Accumulation: float16/bfloat16 in Float, float32 in Float, float64 in Double, integers in
/// their own type, wrapping (NumPy's `sum(dtype=x.dtype)`). An empty reduction gives the
/// identity: 0 (sums), 1 (prod), -inf / the type's minimum (max), +inf / maximum (min),
/// NaN (mean of floats), -inf (log-sums).
enum ReduceOps {
    static let schemas: [OpSchema] = [
        reduction("ReduceSum", [1, 11, 13], inputAxesFrom: 13, SumKind.self),
        reduction("ReduceMean", [1, 11, 13, 18], inputAxesFrom: 18, MeanKind.self),
        reduction("ReduceMax", [1, 11, 12, 13, 18, 20], inputAxesFrom: 18, MaxKind.self),
        reduction("ReduceMin", [1, 11, 12, 13, 18, 20], inputAxesFrom: 18, MinKind.self),
        reduction("ReduceProd", [1, 11, 13, 18], inputAxesFrom: 18, ProdKind.self),
        reduction("ReduceL1", [1, 11, 13, 18], inputAxesFrom: 18, L1Kind.self),
        reduction("ReduceL2", [1, 11, 13, 18], inputAxesFrom: 18, L2Kind.self),
        reduction("ReduceSumSquare", [1, 11, 13, 18], inputAxesFrom: 18, SumSquareKind.self),
        reduction("ReduceLogSum", [1, 11, 13, 18, 28], inputAxesFrom: 18, LogSumKind.self),
        OpSchema("ReduceLogSumExp", versions: [1, 11, 13, 18, 28]) { ctx in
            let x = try ctx.tensor(0)
            let (axes, keep) = try reductionAxes(ctx, rank: x.dims.count, inputAxesFrom: 18)
            return [.tensor(try logSumExp(x, axes: axes, keepdims: keep, threads: ctx.threads))]
        },
        OpSchema("ArgMax", versions: [1, 11, 12, 13]) { ctx in
            [.tensor(try argExtreme(ctx, largest: true))]
        },
        OpSchema("ArgMin", versions: [1, 11, 12, 13]) { ctx in
            [.tensor(try argExtreme(ctx, largest: false))]
        },
        OpSchema("CumSum", versions: [11, 14]) { ctx in
            let x = try ctx.tensor(0)
            let axisTensor = try ctx.tensor(1)
            guard let axisValues = axisTensor.integers(), axisValues.count == 1, axisTensor.dims.count <= 1 else {
                throw OpError.invalid("input 'axis' must be an int32/int64 scalar, got \(axisTensor.dtype)\(Shape(axisTensor.dims))")
            }
            let axis = try normalizedAxis(axisValues[0], rank: x.dims.count, "axis")
            return [.tensor(try cumulative(x, axis: axis, exclusive: ctx.int("exclusive", default: 0) != 0,
                                           reverse: ctx.int("reverse", default: 0) != 0, product: false, threads: ctx.threads))]
        },
        OpSchema("CumProd", versions: [26]) { ctx in
            let x = try ctx.tensor(0)
            let axisTensor = try ctx.tensor(1)
            guard let axisValues = axisTensor.integers(), axisValues.count == 1, axisTensor.dims.count <= 1 else {
                throw OpError.invalid("input 'axis' must be an int32/int64 scalar, got \(axisTensor.dtype)\(Shape(axisTensor.dims))")
            }
            let axis = try normalizedAxis(axisValues[0], rank: x.dims.count, "axis")
            return [.tensor(try cumulative(x, axis: axis, exclusive: ctx.int("exclusive", default: 0) != 0,
                                           reverse: ctx.int("reverse", default: 0) != 0, product: true, threads: ctx.threads))]
        },
    ]

    static func reduction<K: ReduceKind>(_ op: String, _ versions: [Int], inputAxesFrom: Int, _: K.Type) -> OpSchema {
        OpSchema(op, versions: versions) { ctx in
            let x = try ctx.tensor(0)
            let (axes, keep) = try reductionAxes(ctx, rank: x.dims.count, inputAxesFrom: inputAxesFrom)
            return [.tensor(try reduce(x, axes: axes, keepdims: keep, K.self, threads: ctx.threads))]
        }
    }

    /// `axis` in `[-rank, rank)` as a non-negative axis (0 for a 0-d tensor, which ArgMax and
    /// CumSum treat as one element); throws naming `name`.
    static func normalizedAxis(_ axis: Int, rank: Int, _ name: String) throws -> Int {
        guard axis >= -rank, axis < max(rank, 1) else {
            throw OpError.invalid("\(name) \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// The axes to reduce (sorted, unique) and keepdims, from the attribute or input.
    static func reductionAxes(_ ctx: KernelContext, rank: Int, inputAxesFrom: Int) throws -> ([Int], Bool) {
        let keep = ctx.int("keepdims", default: 1) != 0
        var given: [Int]?
        if ctx.opset >= inputAxesFrom {
            if let t = ctx.optionalTensor(1) {
                guard let v = t.integers() else { throw OpError.invalid("input 'axes' is \(t.dtype); expected int64") }
                given = v
            }
        } else {
            given = ctx.ints("axes")
        }
        let noop = ctx.opset >= inputAxesFrom && ctx.int("noop_with_empty_axes", default: 0) != 0
        guard let given, !given.isEmpty else { return (noop ? [] : Array(0..<rank), keep) }
        let axes = try given.map { a in
            guard a >= -rank, a < rank else { throw OpError.invalid("axes value \(a) is out of range for rank \(rank)") }
            return a < 0 ? a + rank : a
        }
        return (Array(Set(axes)).sorted(), keep)
    }

    /// `x` reduced with `K` over `axes` (normalized, sorted).
    static func reduce<K: ReduceKind>(_ x: Tensor, axes: [Int], keepdims: Bool, _: K.Type, threads: Int) throws -> Tensor {
        let plan = ReducePlan(dims: x.dims, axes: axes, keepdims: keepdims)
        switch x.dtype {
        case .float32: return reduceFloat(x, plan, Float.self, K.self, threads: threads)
        case .float64: return reduceFloat(x, plan, Double.self, K.self, threads: threads)
        case .float16: return reduceFloat(x, plan, Float16.self, K.self, threads: threads)
        case .bfloat16: return reduceFloat(x, plan, BFloat16Bits.self, K.self, threads: threads)
        case .bool where K.self == MaxKind.self || K.self == MinKind.self:
            // Max is Or, Min is And; an empty max is false, an empty min true.
            let isMax = K.self == MaxKind.self
            let r = try reduce(try CastOps.cast(x, to: .uint8, saturate: true, threads: threads), axes: axes,
                               keepdims: keepdims, K.self, threads: threads)
            if plan.reduceCount == 0 {
                return Tensor.of([Bool](repeating: !isMax, count: plan.outCount), dims: plan.outDims)
            }
            return try CastOps.cast(r, to: .bool, saturate: true, threads: threads)
        default:
            guard let out = try x.dtype.visitInteger(IntegerReduceVisitor<K>(x: x, plan: plan, threads: threads)) else {
                throw OpError.unsupported("input data is \(x.dtype); expected a numeric type")
            }
            return out
        }
    }

    @inline(__always)
    static func reduceFloat<E: FloatStorage, K: ReduceKind>(_ x: Tensor, _ plan: ReducePlan, _: E.Type, _: K.Type,
                                                             threads: Int) -> Tensor {
        let acc = withElementBits(x, E.self) { src in
            reduceWalk(src, plan, FloatAccumulate<E, K>(), threads: threads)
        }
        let count = plan.reduceCount
        return Tensor.make(E.self, dims: plan.outDims) { out in
            for i in 0..<out.count { out[i] = E(compute: K.finish(acc[i], count: count)) }
        }
    }

    struct IntegerReduceVisitor<K: ReduceKind>: IntegerVisitor {
        let x: Tensor
        let plan: ReducePlan
        let threads: Int
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let acc = x.withElements(T.self) { src in reduceWalk(src, plan, IntegerAccumulate<T, K>(), threads: threads) }
            let count = plan.reduceCount
            return try Tensor.make(T.self, dims: plan.outDims) { out in
                for i in 0..<out.count { out[i] = try K.finish(acc[i], count: count) }
            }
        }
    }

    /// log(sum(exp(x - m))) + m with m the maximum over the finite elements (as
    /// `onnx.reference` computes it).
    static func logSumExp(_ x: Tensor, axes: [Int], keepdims: Bool, threads: Int) throws -> Tensor {
        guard x.dtype.isFloatingPoint else { throw OpError.unsupported("input data is \(x.dtype); expected a float type") }
        let plan = ReducePlan(dims: x.dims, axes: axes, keepdims: keepdims)
        if plan.reduceCount == 0 {
            return try BinaryOps.castLike(-.infinity, x.dtype).reshaped([]).broadcastTo(plan.outDims, threads: threads)
        }
        let finite = try mapFloat(x, FiniteOrNegativeInfinity(), threads: threads)
        let m = try reduce(finite, axes: axes, keepdims: true, MaxKind.self, threads: threads)
        let shifted = try mapFloat(try binaryNumeric(x, m, SubFunction(), threads: threads), ExpFunction(), threads: threads)
        let s = try mapFloat(try reduce(shifted, axes: axes, keepdims: true, SumKind.self, threads: threads),
                             LogFunction(), threads: threads)
        return try binaryNumeric(s, m, AddFunction(), threads: threads).reshaped(plan.outDims)
    }

    /// ArgMax/ArgMin: the index of the first (or with `select_last_index`, last) extreme
    /// along `axis`, int64. NaN counts as the extreme (NumPy's argmax/argmin).
    static func argExtreme(_ ctx: KernelContext, largest: Bool) throws -> Tensor {
        var x = try ctx.tensor(0)
        if x.dtype == .bfloat16 { x = try CastOps.cast(x, to: .float32, saturate: true, threads: ctx.threads) }
        let rank = x.dims.count
        let axis = try normalizedAxis(ctx.int("axis", default: 0), rank: rank, "attribute 'axis'")
        let keep = ctx.int("keepdims", default: 1) != 0
        let last = ctx.opset >= 12 && ctx.int("select_last_index", default: 0) != 0
        let n = rank == 0 ? 1 : x.dims[axis]
        guard n > 0 || (x.elementCount ?? 0) == 0 else {
            throw OpError.invalid("ArgMax/ArgMin over an empty axis \(axis) of \(Shape(x.dims))")
        }
        let outer = rank == 0 ? 1 : x.dims[..<axis].reduce(1, *)
        let inner = rank == 0 ? 1 : x.dims[(axis + 1)...].reduce(1, *)
        var outDims = x.dims
        if rank > 0 {
            if keep { outDims[axis] = 1 } else { outDims.remove(at: axis) }
        }
        guard let out = try x.dtype.visitNumeric(ArgVisitor(x: x, outer: outer, n: n, inner: inner, largest: largest,
                                                            last: last, outDims: outDims)) else {
            throw OpError.unsupported("input data is \(x.dtype); expected a numeric type")
        }
        return out
    }

    struct ArgVisitor: NumericVisitor {
        let x: Tensor
        let outer: Int, n: Int, inner: Int
        let largest: Bool, last: Bool
        let outDims: [Int]
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            x.withElements(T.self) { src in
                Tensor.make(Int64.self, dims: outDims) { out in
                    guard n > 0 else { return }
                    var best = [T](repeating: T.zero, count: inner)
                    for o in 0..<outer {
                        let base = o * n * inner
                        for i in 0..<inner {
                            best[i] = src[base + i]
                            out[o * inner + i] = 0
                        }
                        for k in 1..<max(n, 1) {
                            let row = base + k * inner
                            for i in 0..<inner {
                                let v = src[row + i], b = best[i]
                                // v != v: NaN; the first NaN wins (the last with select_last_index).
                                let better: Bool
                                if b != b { better = last && v != v }
                                else if v != v { better = true }
                                else if largest { better = last ? v >= b : v > b }
                                else { better = last ? v <= b : v < b }
                                if better {
                                    best[i] = v
                                    out[o * inner + i] = Int64(k)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// CumSum (or with `product`, CumProd) along `axis`; `exclusive` leaves out the element
    /// itself (starting from 0, or 1), `reverse` runs from the end. Floats accumulate in their
    /// own type (16-bit rounded per step, like NumPy's `cumsum`); integers wrap.
    static func cumulative(_ x: Tensor, axis: Int, exclusive: Bool, reverse: Bool, product: Bool, threads: Int) throws -> Tensor {
        var source = x
        if x.dtype == .bfloat16 { source = try CastOps.cast(x, to: .float32, saturate: true, threads: threads) }
        let rank = source.dims.count
        let n = rank == 0 ? 1 : source.dims[axis]
        let outer = rank == 0 ? 1 : source.dims[..<axis].reduce(1, *)
        let inner = rank == 0 ? 1 : source.dims[(axis + 1)...].reduce(1, *)
        guard let out = try source.dtype.visitNumeric(CumSumVisitor(x: source, outer: outer, n: n, inner: inner,
                                                                    exclusive: exclusive, reverse: reverse, product: product)) else {
            throw OpError.unsupported("input x is \(x.dtype); expected a numeric type")
        }
        return x.dtype == .bfloat16 ? try CastOps.cast(out, to: .bfloat16, saturate: true, threads: threads) : out
    }

    struct CumSumVisitor: NumericVisitor {
        let x: Tensor
        let outer: Int, n: Int, inner: Int
        let exclusive: Bool, reverse: Bool, product: Bool
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            if let t = try T.dtype.visitInteger(IntegerCumSum(v: self)) { return t }
            return product ? run(T.self, start: 1) { $0 * $1 } : run(T.self, start: 0) { $0 + $1 }
        }

        struct IntegerCumSum: IntegerVisitor {
            let v: CumSumVisitor
            func visit<I: IntegerElement>(_: I.Type) throws -> Tensor {
                v.product ? v.run(I.self, start: 1) { $0 &* $1 } : v.run(I.self, start: 0) { $0 &+ $1 }
            }
        }

        @inline(__always)
        func run<T: NumericElement>(_: T.Type, start: T, _ add: (T, T) -> T) -> Tensor {
            x.withElements(T.self) { src in
                Tensor.make(T.self, dims: x.dims) { out in
                    var acc = [T](repeating: T.zero, count: inner)
                    for o in 0..<outer {
                        for i in 0..<inner { acc[i] = start }
                        for step in 0..<n {
                            let k = reverse ? n - 1 - step : step
                            let row = (o * n + k) * inner
                            for i in 0..<inner {
                                let v = src[row + i]
                                if exclusive {
                                    out[row + i] = acc[i]
                                    acc[i] = add(acc[i], v)
                                } else {
                                    acc[i] = add(acc[i], v)
                                    out[row + i] = acc[i]
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// This tensor broadcast to `dims` (Expand).
    func broadcastTo(_ dims: [Int], threads: Int) throws -> Tensor {
        try BinaryOps.expand(self, to: dims, threads: threads)
    }
}

struct FiniteOrNegativeInfinity: FloatFunction {
    @inline(__always) func callAsFunction<T: MathFloat>(_ x: T) -> T { x.isFinite || x.isNaN ? x : -.infinity }
}

// MARK: - The reduction engine

/// A reduction's shape: input dims collapsed into alternating kept and reduced groups
/// (size-1 dims dropped), the output dims, and the counts.
struct ReducePlan {
    let outDims: [Int]
    let outCount: Int
    /// Input elements per output element.
    let reduceCount: Int
    let inputCount: Int
    /// Collapsed groups, outermost first.
    let sizes: [Int]
    let reduced: [Bool]
    /// Output element stride of each group (0 for reduced groups).
    let outStrides: [Int]

    init(dims: [Int], axes: [Int], keepdims: Bool) {
        let axisSet = Set(axes)
        var out: [Int] = []
        for (i, d) in dims.enumerated() {
            if axisSet.contains(i) { if keepdims { out.append(1) } } else { out.append(d) }
        }
        outDims = out
        outCount = Shape.elementCount(of: out) ?? 0
        reduceCount = axes.reduce(1) { $0 * dims[$1] }
        inputCount = Shape.elementCount(of: dims) ?? 0
        var s: [Int] = [], r: [Bool] = []
        for (i, d) in dims.enumerated() where d != 1 {
            let isReduced = axisSet.contains(i)
            if let last = r.last, last == isReduced { s[s.count - 1] *= d } else { s.append(d); r.append(isReduced) }
        }
        if s.isEmpty { s = [1]; r = [false] }
        sizes = s
        reduced = r
        var strides = [Int](repeating: 0, count: s.count)
        var step = 1
        for g in stride(from: s.count - 1, through: 0, by: -1) where !r[g] {
            strides[g] = step
            step *= s[g]
        }
        outStrides = strides
    }
}

/// How one reduction accumulates elements of `E` into `Acc`.
protocol Accumulation {
    associatedtype E
    associatedtype Acc
    var initial: Acc { get }
    func callAsFunction(_ acc: Acc, _ x: E) -> Acc
    /// Combines two partial accumulations.
    func merge(_ a: Acc, _ b: Acc) -> Acc
}

/// Accumulates every element of `x` into its output's accumulator, walking the input in
/// memory order (contiguous inner loops whether the innermost group is kept or reduced).
/// Threads split the outermost group when it is kept (disjoint outputs).
@inline(__always)
func reduceWalk<A: Accumulation>(_ x: UnsafeBufferPointer<A.E>, _ plan: ReducePlan, _ f: A, threads: Int) -> [A.Acc] {
    var acc = [A.Acc](repeating: f.initial, count: plan.outCount)
    guard plan.inputCount > 0, plan.outCount > 0, let src = x.baseAddress else { return acc }
    let g = plan.sizes.count
    let innerSize = plan.sizes[g - 1], innerReduced = plan.reduced[g - 1]
    // Elements per index of the outermost group.
    let firstBlock = plan.inputCount / plan.sizes[0]
    let splittable = !plan.reduced[0] && g > 1
    let workers = splittable ? parallelForThreads(elements: plan.inputCount, threads: threads) : 1
    acc.withUnsafeMutableBufferPointer { accBuffer in
        let dst = accBuffer.baseAddress!
        parallelFor(splittable ? plan.sizes[0] : 1, threads: workers) { chunk in
            // Odometer over groups 0..<g-1, starting at the chunk's first index of group 0.
            var index = [Int](repeating: 0, count: max(g - 1, 1))
            var inOffset = 0, outOffset = 0
            var rows = plan.inputCount / innerSize
            if splittable {
                index[0] = chunk.lowerBound
                inOffset = chunk.lowerBound * firstBlock
                outOffset = chunk.lowerBound * plan.outStrides[0]
                rows = chunk.count * firstBlock / innerSize
            }
            for _ in 0..<rows {
                let p = src + inOffset
                if innerReduced && innerSize >= 16 {
                    // Eight independent partial accumulations: pipelined, vectorizable, and
                    // with less rounding error than one running sum.
                    var a0 = f.initial, a1 = f.initial, a2 = f.initial, a3 = f.initial
                    var a4 = f.initial, a5 = f.initial, a6 = f.initial, a7 = f.initial
                    var j = 0
                    while j + 8 <= innerSize {
                        a0 = f(a0, p[j]); a1 = f(a1, p[j + 1]); a2 = f(a2, p[j + 2]); a3 = f(a3, p[j + 3])
                        a4 = f(a4, p[j + 4]); a5 = f(a5, p[j + 5]); a6 = f(a6, p[j + 6]); a7 = f(a7, p[j + 7])
                        j += 8
                    }
                    var a = f.merge(f.merge(f.merge(a0, a1), f.merge(a2, a3)), f.merge(f.merge(a4, a5), f.merge(a6, a7)))
                    while j < innerSize { a = f(a, p[j]); j += 1 }
                    dst[outOffset] = f.merge(dst[outOffset], a)
                } else if innerReduced {
                    var a = dst[outOffset]
                    for j in 0..<innerSize { a = f(a, p[j]) }
                    dst[outOffset] = a
                } else {
                    let q = dst + outOffset
                    for j in 0..<innerSize { q[j] = f(q[j], p[j]) }
                }
                inOffset += innerSize
                // Advance the odometer over the outer groups.
                var d = g - 2
                while d >= 0 {
                    index[d] += 1
                    outOffset += plan.outStrides[d]
                    if index[d] < plan.sizes[d] { break }
                    outOffset -= index[d] * plan.outStrides[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
    return acc
}

/// A reduction: what each element contributes, how contributions combine, and the final
/// transform given the element count.
protocol ReduceKind: SendableMetatype {
    static func initial<C: MathFloat>(_: C.Type) -> C
    static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C
    /// Combines two partial accumulations (`combine` unless elements are transformed).
    static func merge<C: MathFloat>(_ a: C, _ b: C) -> C
    static func merge<T: IntegerElement>(_ a: T, _ b: T) -> T
    static func finish<C: MathFloat>(_ acc: C, count: Int) -> C
    static func initial<T: IntegerElement>(_: T.Type) -> T
    static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T
    static func finish<T: IntegerElement>(_ acc: T, count: Int) throws -> T
}

extension ReduceKind {
    @inline(__always) static func merge<C: MathFloat>(_ a: C, _ b: C) -> C { combine(a, b) }
    @inline(__always) static func merge<T: IntegerElement>(_ a: T, _ b: T) -> T { combine(a, b) }
    static func finish<C: MathFloat>(_ acc: C, count: Int) -> C { acc }
    static func finish<T: IntegerElement>(_ acc: T, count: Int) throws -> T { acc }
}

struct FloatAccumulate<E: FloatStorage, K: ReduceKind>: Accumulation {
    var initial: E.Compute { K.initial(E.Compute.self) }
    @inline(__always) func callAsFunction(_ acc: E.Compute, _ x: E) -> E.Compute { K.combine(acc, x.compute) }
    @inline(__always) func merge(_ a: E.Compute, _ b: E.Compute) -> E.Compute { K.merge(a, b) }
}

struct IntegerAccumulate<T: IntegerElement, K: ReduceKind>: Accumulation {
    var initial: T { K.initial(T.self) }
    @inline(__always) func callAsFunction(_ acc: T, _ x: T) -> T { K.combine(acc, x) }
    @inline(__always) func merge(_ a: T, _ b: T) -> T { K.merge(a, b) }
}

enum SumKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ x }
}
/// Integer means divide in Double and truncate (NumPy's `mean(dtype=int)`).
enum MeanKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x }
    static func finish<C: MathFloat>(_ acc: C, count: Int) -> C { acc / C(count) }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ x }
    static func finish<T: IntegerElement>(_ acc: T, count: Int) throws -> T {
        count == 0 ? 0 : T.from(Double(acc) / Double(count))
    }
}
enum MaxKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { -.infinity }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { x > acc || x.isNaN ? x : acc }
    static func initial<T: IntegerElement>(_: T.Type) -> T { T.min }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { x > acc ? x : acc }
}
enum MinKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { .infinity }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { x < acc || x.isNaN ? x : acc }
    static func initial<T: IntegerElement>(_: T.Type) -> T { T.max }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { x < acc ? x : acc }
}
enum ProdKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { 1 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc * x }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 1 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &* x }
}
enum L1Kind: ReduceKind {
    @inline(__always) static func merge<C: MathFloat>(_ a: C, _ b: C) -> C { a + b }
    @inline(__always) static func merge<T: IntegerElement>(_ a: T, _ b: T) -> T { a &+ b }
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x.magnitude }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ (x < 0 ? 0 &- x : x) }
}
enum SumSquareKind: ReduceKind {
    @inline(__always) static func merge<C: MathFloat>(_ a: C, _ b: C) -> C { a + b }
    @inline(__always) static func merge<T: IntegerElement>(_ a: T, _ b: T) -> T { a &+ b }
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x * x }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ x &* x }
}
/// Integer L2 norms take the square root in Double and truncate.
enum L2Kind: ReduceKind {
    @inline(__always) static func merge<C: MathFloat>(_ a: C, _ b: C) -> C { a + b }
    @inline(__always) static func merge<T: IntegerElement>(_ a: T, _ b: T) -> T { a &+ b }
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x * x }
    static func finish<C: MathFloat>(_ acc: C, count: Int) -> C { acc.squareRoot() }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ x &* x }
    static func finish<T: IntegerElement>(_ acc: T, count: Int) throws -> T { T.from(Double(acc).squareRoot()) }
}
enum LogSumKind: ReduceKind {
    static func initial<C: MathFloat>(_: C.Type) -> C { 0 }
    @inline(__always) static func combine<C: MathFloat>(_ acc: C, _ x: C) -> C { acc + x }
    static func finish<C: MathFloat>(_ acc: C, count: Int) -> C { C.mathLog(acc) }
    static func initial<T: IntegerElement>(_: T.Type) -> T { 0 }
    @inline(__always) static func combine<T: IntegerElement>(_ acc: T, _ x: T) -> T { acc &+ x }
    static func finish<T: IntegerElement>(_ acc: T, count: Int) throws -> T {
        throw OpError.unsupported("ReduceLogSum of integers")
    }
}
