import ModelIR

/// Gemm, MatMul, MatMulInteger and Einsum.
///
/// float32 goes through OpenBLAS `sgemm`, float64 through `dgemm`, float16 (and bfloat16
/// in Einsum) in float32 rounded once at the end; integer types through a plain loop that
/// wraps on overflow like NumPy. Threads: products are split by rows (or columns) into one
/// single-threaded BLAS call per thread; batched MatMul splits the batch.
enum GemmOps {
    static let schemas: [OpSchema] = [
        OpSchema("Gemm", versions: [1, 6, 7, 9, 11, 13]) { ctx in [.tensor(try gemm(ctx))] },
        OpSchema("MatMul", versions: [1, 9, 13]) { ctx in [.tensor(try matMul(ctx))] },
        OpSchema("MatMulInteger", versions: [10]) { ctx in
            [.tensor(try integerMatMul(ctx, a: ctx.tensor(0), aZero: ctx.optionalTensor(2),
                                       b: ctx.tensor(1), bZero: ctx.optionalTensor(3)))]
        },
        OpSchema("Einsum", versions: [12]) { ctx in [.tensor(try einsum(ctx))] },
    ]

    // MARK: Gemm

    /// `Y = alpha * op(A) * op(B) + beta * C`, C broadcast unidirectionally to `[M, N]`.
    static func gemm(_ ctx: KernelContext) throws -> Tensor {
        let a = try ctx.tensor(0), b = try ctx.tensor(1), c = ctx.optionalTensor(2)
        let transA = ctx.int("transA", default: 0) != 0, transB = ctx.int("transB", default: 0) != 0
        let alpha = ctx.float("alpha", default: 1), beta = ctx.float("beta", default: 1)
        guard a.dims.count == 2, b.dims.count == 2 else {
            throw OpError.invalid("Gemm: A \(Shape(a.dims)) and B \(Shape(b.dims)) must be 2-D")
        }
        guard b.dtype == a.dtype else { throw OpError.invalid("Gemm: B is \(b.dtype) but A is \(a.dtype)") }
        let m = transA ? a.dims[1] : a.dims[0], k = transA ? a.dims[0] : a.dims[1]
        let kb = transB ? b.dims[1] : b.dims[0], n = transB ? b.dims[0] : b.dims[1]
        guard k == kb else {
            throw OpError.invalid("Gemm: inner dims differ: A \(Shape(a.dims)) (transA \(transA)) x B \(Shape(b.dims)) (transB \(transB))")
        }
        var cTerm: Tensor? = nil
        if let c, beta != 0 {
            guard c.dtype == a.dtype else { throw OpError.invalid("Gemm: C is \(c.dtype) but A is \(a.dtype)") }
            guard Broadcast.broadcasts(c.dims, to: [m, n]) else {
                throw OpError.invalid("Gemm: C \(Shape(c.dims)) does not broadcast to [\(m),\(n)]")
            }
            cTerm = c
        }
        let p = GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, c: cTerm)
        switch a.dtype {
        case .float32: return p.run(Float.self, a, b, threads: ctx.threads)
        case .float64: return p.run(Double.self, a, b, threads: ctx.threads)
        case .float16:
            let wc = try cTerm?.widened()
            let q = GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, c: wc)
            return q.run(Float.self, try a.widened(), try b.widened(), threads: ctx.threads).narrowedToFloat16()
        case .bfloat16:
            func wide(_ t: Tensor) throws -> Tensor { try CastOps.cast(t, to: .float32, saturate: true, threads: ctx.threads) }
            let q = GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta, c: try cTerm.map(wide))
            return try CastOps.cast(q.run(Float.self, try wide(a), try wide(b), threads: ctx.threads), to: .bfloat16,
                                    saturate: true, threads: ctx.threads)
        default:
            guard let out = try a.dtype.visitInteger(IntegerGemm(p: p, a: a, b: b)) else {
                throw OpError.unsupported("Gemm on \(a.dtype)")
            }
            return out
        }
    }

    struct GemmProblem {
        let transA: Bool, transB: Bool
        let m: Int, n: Int, k: Int
        let alpha: Float, beta: Float
        let c: Tensor?

        /// Y pre-filled with `beta * C` (broadcast), then `Y += alpha * op(A) op(B)` in
        /// row blocks, one single-threaded BLAS call per thread.
        func run<T: BinaryFloatingPoint & MatMulElement>(_: T.Type, _ a: Tensor, _ b: Tensor, threads: Int) -> Tensor {
            let (m, n, k) = (self.m, self.n, self.k)
            return Tensor.make(T.self, dims: [m, n]) { y in
                guard let py = y.baseAddress else { return }
                if let c {
                    c.withElements(T.self) { cs in
                        let st = Broadcast.strides(of: c.dims, to: [m, n])
                        let bt = T(beta)
                        for i in 0..<m {
                            for j in 0..<n { py[i * n + j] = bt * cs[i * st[0] + j * st[1]] }
                        }
                    }
                }
                // A and B only reach BLAS: no aligned copies of mapped weights.
                a.withBLASPointer(T.self) { pa in
                    b.withBLASPointer(T.self) { pb in
                        guard let pa, let pb, k > 0 else {
                            if c == nil { y.update(repeating: 0) }
                            return
                        }
                        let lda = a.dims[1], ldb = b.dims[1]
                        let accumulate = c != nil
                        let workers = GEMM.threadsWorth(flops: m * n * k, threads: threads)
                        GEMM.setBLASThreads(1)
                        let splitRows = m >= 16 * workers || m >= n
                        parallelFor(splitRows ? m : n, threads: workers) { r in
                            let (rm, rn) = splitRows ? (r.count, n) : (m, r.count)
                            let aOff = splitRows ? (transA ? r.lowerBound : r.lowerBound * lda) : 0
                            let bOff = splitRows ? 0 : (transB ? r.lowerBound * ldb : r.lowerBound)
                            let cOff = splitRows ? r.lowerBound * n : r.lowerBound
                            if T.self == Float.self {
                                GEMM.sgemm(transA: transA, transB: transB, m: rm, n: rn, k: k, alpha: alpha,
                                           a: UnsafeRawPointer(pa + aOff).assumingMemoryBound(to: Float.self), lda: lda,
                                           b: UnsafeRawPointer(pb + bOff).assumingMemoryBound(to: Float.self), ldb: ldb,
                                           beta: accumulate ? 1 : 0,
                                           c: UnsafeMutableRawPointer(py + cOff).assumingMemoryBound(to: Float.self), ldc: n)
                            } else {
                                GEMM.dgemm(transA: transA, transB: transB, m: rm, n: rn, k: k, alpha: Double(alpha),
                                           a: UnsafeRawPointer(pa + aOff).assumingMemoryBound(to: Double.self), lda: lda,
                                           b: UnsafeRawPointer(pb + bOff).assumingMemoryBound(to: Double.self), ldb: ldb,
                                           beta: accumulate ? 1 : 0,
                                           c: UnsafeMutableRawPointer(py + cOff).assumingMemoryBound(to: Double.self), ldc: n)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Integer Gemm: the product wraps; alpha/beta other than 1 go through float64 and
    /// truncate (NumPy: an int array times a Python float is float64, then astype).
    struct IntegerGemm: IntegerVisitor {
        let p: GemmProblem
        let a: Tensor, b: Tensor
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let (m, n, k) = (p.m, p.n, p.k)
            var acc = [T](repeating: 0, count: m * n)
            a.withElements(T.self) { as_ in
                b.withElements(T.self) { bs in
                    acc.withUnsafeMutableBufferPointer { cs in
                        guard let pa = as_.baseAddress, let pb = bs.baseAddress, let pc = cs.baseAddress else { return }
                        GEMM.integerGEMM(transA: p.transA, transB: p.transB, m: m, n: n, k: k, a: pa, lda: a.dims[1],
                                         b: pb, ldb: b.dims[1], c: pc, ldc: n)
                    }
                }
            }
            let cs: [T]? = p.c.map { $0.elements(T.self) }
            let st = p.c.map { Broadcast.strides(of: $0.dims, to: [m, n]) } ?? [0, 0]
            return Tensor.make(T.self, dims: [m, n]) { y in
                for i in 0..<m {
                    for j in 0..<n {
                        let v = acc[i * n + j]
                        let cv = cs.map { $0[i * st[0] + j * st[1]] }
                        if p.alpha == 1 && p.beta == 1 {
                            y[i * n + j] = cv.map { v &+ $0 } ?? v
                        } else {
                            let d = v.asDouble * Double(p.alpha) + (cv.map { $0.asDouble * Double(p.beta) } ?? 0)
                            y[i * n + j] = T.from(d)
                        }
                    }
                }
            }
        }
    }

    // MARK: MatMul

    /// NumPy matmul: 1-D operands are promoted (a row for A, a column for B) and the
    /// promoted dim dropped from the result; batch dims broadcast.
    static func matMulShapes(_ a: [Int], _ b: [Int]) throws -> (a: [Int], b: [Int], out: [Int]) {
        guard !a.isEmpty, !b.isEmpty else {
            throw OpError.invalid("MatMul operands must have rank >= 1, got \(Shape(a)) and \(Shape(b))")
        }
        let a2 = a.count == 1 ? [1, a[0]] : a
        let b2 = b.count == 1 ? [b[0], 1] : b
        let plan = try BatchedMatMul(aDims: a2, bDims: b2)
        var out = plan.outDims
        if b.count == 1 { out.removeLast() }
        if a.count == 1 { out.remove(at: out.count - (b.count == 1 ? 1 : 2)) }
        return (a2, b2, out)
    }

    static func matMul(_ ctx: KernelContext) throws -> Tensor {
        let a = try ctx.tensor(0), b = try ctx.tensor(1)
        guard a.dtype == b.dtype else { throw OpError.invalid("MatMul: B is \(b.dtype) but A is \(a.dtype)") }
        let (a2, b2, out) = try matMulShapes(a.dims, b.dims)
        let plan = try BatchedMatMul(aDims: a2, bDims: b2)
        switch a.dtype {
        case .float32: return product(Float.self, plan, a, b, out, threads: ctx.threads)
        case .float64: return product(Double.self, plan, a, b, out, threads: ctx.threads)
        case .float16:
            return product(Float.self, plan, try a.widened(), try b.widened(), out, threads: ctx.threads).narrowedToFloat16()
        case .bfloat16:
            let wa = try CastOps.cast(a, to: .float32, saturate: true, threads: ctx.threads)
            let wb = try CastOps.cast(b, to: .float32, saturate: true, threads: ctx.threads)
            return try CastOps.cast(product(Float.self, plan, wa, wb, out, threads: ctx.threads), to: .bfloat16,
                                    saturate: true, threads: ctx.threads)
        case .int8: return product(Int8.self, plan, a, b, out, threads: ctx.threads)
        case .uint8: return product(UInt8.self, plan, a, b, out, threads: ctx.threads)
        case .int16: return product(Int16.self, plan, a, b, out, threads: ctx.threads)
        case .uint16: return product(UInt16.self, plan, a, b, out, threads: ctx.threads)
        case .int32: return product(Int32.self, plan, a, b, out, threads: ctx.threads)
        case .uint32: return product(UInt32.self, plan, a, b, out, threads: ctx.threads)
        case .int64: return product(Int64.self, plan, a, b, out, threads: ctx.threads)
        case .uint64: return product(UInt64.self, plan, a, b, out, threads: ctx.threads)
        default: throw OpError.unsupported("MatMul on \(a.dtype)")
        }
    }

    static func product<T: MatMulElement>(_: T.Type, _ plan: BatchedMatMul, _ a: Tensor, _ b: Tensor, _ out: [Int],
                                          threads: Int) -> Tensor {
        Tensor.make(T.self, dims: out) { y in
            guard let py = y.baseAddress else { return }
            if T.usesBLAS {
                // Operands only reach BLAS: no aligned copies of mapped weights.
                a.withBLASPointer(T.self) { pa in
                    b.withBLASPointer(T.self) { pb in
                        if let pa, let pb { plan.run(pa, pb, py, threads: threads) }
                    }
                }
            } else {
                a.withElements(T.self) { as_ in
                    b.withElements(T.self) { bs in
                        if let pa = as_.baseAddress, let pb = bs.baseAddress { plan.run(pa, pb, py, threads: threads) }
                    }
                }
            }
        }
    }

    // MARK: MatMulInteger

    /// `int32(A - a_zero_point) x int32(B - b_zero_point)`. A's zero point is a scalar, one
    /// per row (`[M]` for 2-D A) or broadcastable to A (`[..., M, 1]`); B's a scalar, one per
    /// column (`[N]`) or broadcastable to B.
    static func integerMatMul(_ ctx: KernelContext, a: Tensor, aZero: Tensor?, b: Tensor, bZero: Tensor?) throws -> Tensor {
        for (t, name) in [(a, "A"), (b, "B")] where t.dtype != .uint8 && t.dtype != .int8 {
            throw OpError.unsupported("\(name) of type \(t.dtype) (uint8 or int8 expected)")
        }
        let (a2, b2, out) = try matMulShapes(a.dims, b.dims)
        let plan = try BatchedMatMul(aDims: a2, bDims: b2)
        let av = try shifted(a, a2, by: aZero, perRowOf2D: true, name: "a_zero_point")
        let bv = try shifted(b, b2, by: bZero, perRowOf2D: false, name: "b_zero_point")
        return Tensor.make(Int32.self, dims: out) { y in
            av.withUnsafeBufferPointer { pa in
                bv.withUnsafeBufferPointer { pb in
                    guard let x = pa.baseAddress, let w = pb.baseAddress, let py = y.baseAddress else { return }
                    plan.run(x, w, py, threads: ctx.threads)
                }
            }
        }
    }

    /// The elements of `t` (viewed as `dims`) minus a zero point, as int32.
    static func shifted(_ t: Tensor, _ dims: [Int], by zero: Tensor?, perRowOf2D: Bool, name: String) throws -> [Int32] {
        let values = try QuantizeOps.integerValues(t, name: name)
        guard let zero else { return values.map { Int32($0) } }
        guard zero.dtype == t.dtype else { throw OpError.invalid("\(name) is \(zero.dtype) but its input is \(t.dtype)") }
        let zs = try QuantizeOps.integerValues(zero, name: name)
        if zs.count == 1 { return values.map { Int32($0 - zs[0]) } }
        var zdims = zero.dims
        if perRowOf2D && zdims.count == 1 && dims.count == 2 && zdims[0] == dims[0] { zdims = [dims[0], 1] }
        guard Broadcast.broadcasts(zdims, to: dims) else {
            throw OpError.invalid("\(name) \(Shape(zero.dims)) does not fit its input \(Shape(dims))")
        }
        let st = Broadcast.strides(of: zdims, to: dims)
        var out = [Int32](repeating: 0, count: values.count)
        var index = [Int](repeating: 0, count: dims.count)
        var offset = 0
        for i in 0..<values.count {
            out[i] = Int32(truncatingIfNeeded: values[i] - zs[offset])
            var d = dims.count - 1
            while d >= 0 {
                index[d] += 1
                offset += st[d]
                if index[d] < dims[d] { break }
                offset -= index[d] * st[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    // MARK: Einsum

    static func einsum(_ ctx: KernelContext) throws -> Tensor {
        guard let equation = ctx.string("equation") else { throw OpError.invalid("attribute 'equation' is required") }
        var operands: [Tensor] = []
        for i in 0..<ctx.inputCount { operands.append(try ctx.tensor(i)) }
        guard let first = operands.first else { throw OpError.invalid("Einsum needs at least one input") }
        for t in operands where t.dtype != first.dtype {
            throw OpError.invalid("Einsum inputs must share one type: \(first.dtype) and \(t.dtype)")
        }
        let spec = try EinsumSpec(equation, shapes: operands.map(\.dims))
        switch first.dtype {
        case .float32: return try einsumFloat(Float.self, spec, operands, threads: ctx.threads)
        case .float64: return try einsumFloat(Double.self, spec, operands, threads: ctx.threads)
        case .float16:
            return try einsumFloat(Float.self, spec, operands.map { try $0.widened() }, threads: ctx.threads).narrowedToFloat16()
        case .bfloat16:
            let wide = try operands.map { try CastOps.cast($0, to: .float32, saturate: true, threads: 1) }
            return try CastOps.cast(try einsumFloat(Float.self, spec, wide, threads: ctx.threads), to: .bfloat16,
                                    saturate: true, threads: 1)
        default:
            guard let out = try first.dtype.visitInteger(EinsumInteger(spec: spec, operands: operands, threads: ctx.threads)) else {
                throw OpError.unsupported("Einsum on \(first.dtype)")
            }
            return out
        }
    }

    static func einsumFloat<T: MatMulElement & BinaryFloatingPoint>(_: T.Type, _ spec: EinsumSpec, _ operands: [Tensor],
                                                                    threads: Int) throws -> Tensor {
        let values = operands.map { $0.elements(T.self) }
        if let fast = spec.viaMatMul(values, zero: T.zero, threads: threads, reduce: { spec, v in
            spec.evaluate(v.map { $0.map(\.asDouble) }, zero: 0.0).map { T(Double($0)) }
        }) {
            return Tensor.of(fast, dims: spec.outDims)
        }
        let out = spec.evaluate(values.map { $0.map(\.asDouble) }, zero: 0.0)
        return Tensor.of(out.map { T($0) }, dims: spec.outDims)
    }

    struct EinsumInteger: IntegerVisitor {
        let spec: EinsumSpec
        let operands: [Tensor]
        let threads: Int
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let values = operands.map { $0.elements(T.self).map { Int64(truncatingIfNeeded: $0) } }
            let out = spec.viaMatMul(values, zero: Int64(0), threads: threads, reduce: { spec, v in spec.evaluate(v, zero: Int64(0)) })
                ?? spec.evaluate(values, zero: Int64(0))
            return Tensor.of(out.map { T(truncatingIfNeeded: $0) }, dims: spec.outDims)
        }
    }
}

/// Arithmetic the general Einsum loop needs: float64 for float types, wrapping int64 for
/// integers.
protocol EinsumScalar {
    static func mul(_ a: Self, _ b: Self) -> Self
    static func add(_ a: Self, _ b: Self) -> Self
    static var one: Self { get }
}
extension Double: EinsumScalar {
    @inline(__always) static func mul(_ a: Double, _ b: Double) -> Double { a * b }
    @inline(__always) static func add(_ a: Double, _ b: Double) -> Double { a + b }
    static var one: Double { 1 }
}
extension Int64: EinsumScalar {
    @inline(__always) static func mul(_ a: Int64, _ b: Int64) -> Int64 { a &* b }
    @inline(__always) static func add(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
    static var one: Int64 { 1 }
}

/// A parsed Einsum equation bound to operand shapes. Labels are letters (their ASCII code)
/// and ellipsis dims (`256 + position` in the broadcast ellipsis shape).
struct EinsumSpec {
    /// Per operand, the label of each dim.
    let terms: [[Int]]
    let shapes: [[Int]]
    let outLabels: [Int]
    /// The size of each label (ellipsis labels broadcast).
    let sizes: [Int: Int]

    var outDims: [Int] { outLabels.map { sizes[$0]! } }

    init(_ equation: String, shapes: [[Int]]) throws {
        let eq = equation.filter { !$0.isWhitespace }
        let sides = eq.split(separator: "->", omittingEmptySubsequences: false).map(String.init)
        guard sides.count <= 2 else { throw OpError.invalid("equation '\(equation)' has more than one '->'") }
        let inputs = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard inputs.count == shapes.count else {
            throw OpError.invalid("equation '\(equation)' names \(inputs.count) inputs, the node has \(shapes.count)")
        }
        // Parse each term into letters with an optional ellipsis position.
        func parse(_ term: String) throws -> (letters: [Int], ellipsisAt: Int?) {
            var letters: [Int] = [], at: Int? = nil
            var rest = Substring(term)
            while !rest.isEmpty {
                if rest.hasPrefix("...") {
                    guard at == nil else { throw OpError.invalid("term '\(term)' of '\(equation)' has two ellipses") }
                    at = letters.count
                    rest = rest.dropFirst(3)
                    continue
                }
                let ch = rest.first!
                guard let v = ch.asciiValue, ch.isLetter else {
                    throw OpError.invalid("term '\(term)' of '\(equation)' has the character '\(ch)'")
                }
                letters.append(Int(v))
                rest = rest.dropFirst()
            }
            return (letters, at)
        }
        var parsed = try inputs.map(parse)
        var ellipsisRank = 0
        for (i, p) in parsed.enumerated() {
            let extra = shapes[i].count - p.letters.count
            guard p.ellipsisAt != nil ? extra >= 0 : extra == 0 else {
                throw OpError.invalid("term '\(inputs[i])' of '\(equation)' does not fit input \(i) of shape \(Shape(shapes[i]))")
            }
            ellipsisRank = max(ellipsisRank, extra)
        }
        var terms: [[Int]] = []
        var sizes: [Int: Int] = [:]
        for (i, p) in parsed.enumerated() {
            var labels = p.letters
            if let at = p.ellipsisAt {
                let extra = shapes[i].count - p.letters.count
                labels.insert(contentsOf: (0..<extra).map { 256 + ellipsisRank - extra + $0 }, at: at)
            }
            for (d, l) in labels.enumerated() {
                let s = shapes[i][d]
                if let known = sizes[l], known != s {
                    if l >= 256 && (known == 1 || s == 1) {
                        sizes[l] = max(known, s)
                    } else {
                        throw OpError.invalid("label '\(l < 256 ? String(UnicodeScalar(UInt8(l))) : "...")' of '\(equation)' has sizes \(known) and \(s)")
                    }
                } else if sizes[l] == nil {
                    sizes[l] = s
                }
            }
            terms.append(labels)
        }
        parsed.removeAll()
        let ellipsisLabels = (0..<ellipsisRank).map { 256 + $0 }
        var out: [Int]
        if sides.count == 2 {
            let p = try parse(sides[1])
            out = p.letters
            if let at = p.ellipsisAt { out.insert(contentsOf: ellipsisLabels, at: at) }
            guard Set(out).count == out.count else { throw OpError.invalid("output of '\(equation)' repeats a label") }
            for l in out where sizes[l] == nil {
                throw OpError.invalid("output label '\(String(UnicodeScalar(UInt8(l))))' of '\(equation)' is in no input")
            }
        } else {
            var counts: [Int: Int] = [:]
            for t in terms { for l in t where l < 256 { counts[l, default: 0] += 1 } }
            out = ellipsisLabels + counts.filter { $0.value == 1 }.keys.sorted()
        }
        self.terms = terms
        self.shapes = shapes
        self.outLabels = out
        self.sizes = sizes
    }

    private init(terms: [[Int]], shapes: [[Int]], outLabels: [Int], sizes: [Int: Int]) {
        self.terms = terms
        self.shapes = shapes
        self.outLabels = outLabels
        self.sizes = sizes
    }

    /// The general loop: every combination of output labels, summed over the others.
    /// Repeated labels in one term read its diagonal; size-1 ellipsis dims broadcast.
    func evaluate<S: EinsumScalar>(_ operands: [[S]], zero: S) -> [S] {
        let outSet = Set(outLabels)
        var summed: [Int] = []
        for t in terms { for l in t where !outSet.contains(l) && !summed.contains(l) { summed.append(l) } }
        let loop = outLabels + summed
        let loopSizes = loop.map { sizes[$0]! }
        // Per operand and loop label: the element stride (sum over dims carrying it).
        let strides: [[Int]] = terms.enumerated().map { i, t in
            var dimStride = [Int](repeating: 0, count: t.count)
            var step = 1
            for d in stride(from: t.count - 1, through: 0, by: -1) {
                dimStride[d] = shapes[i][d] == 1 ? 0 : step
                step *= shapes[i][d]
            }
            return loop.map { l in t.indices.filter { t[$0] == l }.reduce(0) { $0 + dimStride[$1] } }
        }
        let outCount = outLabels.reduce(1) { $0 * sizes[$1]! }
        let sumCount = summed.reduce(1) { $0 * sizes[$1]! }
        var out = [S](repeating: zero, count: outCount)
        if outCount == 0 { return out }
        let nOut = outLabels.count, nLoop = loop.count
        var index = [Int](repeating: 0, count: nLoop)
        var offsets = [Int](repeating: 0, count: operands.count)
        // Odometer over all loop labels: the output index advances every sumCount steps.
        for o in 0..<outCount {
            var acc = zero
            if sumCount > 0 {
                for _ in 0..<sumCount {
                    var prod = S.one
                    for k in 0..<operands.count { prod = S.mul(prod, operands[k][offsets[k]]) }
                    acc = S.add(acc, prod)
                    // Advance the summed labels (innermost last).
                    var d = nLoop - 1
                    while d >= nOut {
                        index[d] += 1
                        for k in 0..<offsets.count { offsets[k] += strides[k][d] }
                        if index[d] < loopSizes[d] { break }
                        for k in 0..<offsets.count { offsets[k] -= index[d] * strides[k][d] }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
            out[o] = acc
            var d = nOut - 1
            while d >= 0 {
                index[d] += 1
                for k in 0..<offsets.count { offsets[k] += strides[k][d] }
                if index[d] < loopSizes[d] { break }
                for k in 0..<offsets.count { offsets[k] -= index[d] * strides[k][d] }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// Two operands as one batched matrix product: each operand first reduced to the labels
    /// the other or the output needs (via `reduce`, the general loop), then permuted to
    /// `[batch, M, K]` and `[batch, K, N]`. nil when the equation does not have that form
    /// (one or three+ operands, broadcast ellipsis dims).
    func viaMatMul<T: MatMulElement>(_ operands: [[T]], zero: T, threads: Int,
                                     reduce: (EinsumSpec, [[T]]) -> [T]) -> [T]? {
        guard terms.count == 2 else { return nil }
        for (i, t) in terms.enumerated() {
            for (d, l) in t.enumerated() where shapes[i][d] != sizes[l]! { return nil }
        }
        let outSet = Set(outLabels)
        var terms = self.terms, values = operands
        for i in 0..<2 {
            let other = Set(terms[1 - i])
            var keep: [Int] = []
            for l in terms[i] where (other.contains(l) || outSet.contains(l)) && !keep.contains(l) { keep.append(l) }
            if keep != terms[i] {
                let sub = EinsumSpec(terms: [terms[i]], shapes: [terms[i].map { sizes[$0]! }], outLabels: keep, sizes: sizes)
                values[i] = reduce(sub, [values[i]])
                terms[i] = keep
            }
        }
        let a = Set(terms[0]), b = Set(terms[1])
        let batch = outLabels.filter { a.contains($0) && b.contains($0) }
        let mLabels = outLabels.filter { a.contains($0) && !b.contains($0) }
        let nLabels = outLabels.filter { b.contains($0) && !a.contains($0) }
        let kLabels = terms[0].filter { b.contains($0) && !outSet.contains($0) }
        func size(_ ls: [Int]) -> Int { ls.reduce(1) { $0 * sizes[$1]! } }
        let (bs, m, n, k) = (size(batch), size(mLabels), size(nLabels), size(kLabels))
        let pa = permute(values[0], labels: terms[0], to: batch + mLabels + kLabels)
        let pb = permute(values[1], labels: terms[1], to: batch + kLabels + nLabels)
        guard let plan = try? BatchedMatMul(aDims: [bs, m, k], bDims: [bs, k, n]) else { return nil }
        var result = [T](repeating: zero, count: bs * m * n)
        pa.withUnsafeBufferPointer { x in
            pb.withUnsafeBufferPointer { w in
                result.withUnsafeMutableBufferPointer { y in
                    guard let px = x.baseAddress, let pw = w.baseAddress, let py = y.baseAddress else { return }
                    plan.run(px, pw, py, threads: threads)
                }
            }
        }
        return permute(result, labels: batch + mLabels + nLabels, to: outLabels)
    }

    /// The elements of a C-order tensor whose dims carry `labels` (distinct), rearranged
    /// to the label order `to` (a permutation of `labels`).
    func permute<T>(_ values: [T], labels: [Int], to: [Int]) -> [T] {
        if labels == to || values.count <= 1 { return values }
        let dims = labels.map { sizes[$0]! }
        var srcStride = [Int](repeating: 0, count: dims.count)
        var step = 1
        for d in stride(from: dims.count - 1, through: 0, by: -1) {
            srcStride[d] = step
            step *= dims[d]
        }
        let outDims = to.map { sizes[$0]! }
        let st = to.map { l in srcStride[labels.firstIndex(of: l)!] }
        var out: [T] = []
        out.reserveCapacity(values.count)
        var index = [Int](repeating: 0, count: outDims.count)
        var offset = 0
        for _ in 0..<values.count {
            out.append(values[offset])
            var d = outDims.count - 1
            while d >= 0 {
                index[d] += 1
                offset += st[d]
                if index[d] < outDims[d] { break }
                offset -= index[d] * st[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
