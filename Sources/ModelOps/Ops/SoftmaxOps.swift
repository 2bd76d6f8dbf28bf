import ModelIR

/// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is seen as 2-D,
/// `[prod(dims[..<axis]), prod(dims[axis...])]` (default axis 1), and each row is
/// normalized; from opset 13 the function runs along `axis` alone (default -1).
/// Softmax is `exp(x - max) / sum(exp(x - max))`; LogSoftmax `x - max - log(sum(...))`;
/// Hardmax is 1 at the first maximum of each slice (NaN counts as the maximum, like NumPy's
/// argmax), 0 elsewhere. 16-bit floats compute in Float.
///
/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (which takes LogSoftmax along axis
/// 1 first, and can return it as a second output): for input `[N, C, d...]` and target
/// `[N, d...]`, `loss[n, d] = -input[n, target[n, d], d] * weight[target[n, d]]` (weight 1
/// when absent), 0 where the target is `ignore_index`; reduction "none" returns it, "sum"
/// its sum, "mean" the sum divided by the summed weights of the counted elements (the plain
/// mean when there is neither a weight nor an ignore_index). Sums accumulate in Double.
enum SoftmaxOps {
    static let schemas: [OpSchema] = [
        OpSchema("Softmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .softmax))] },
        OpSchema("LogSoftmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .logSoftmax))] },
        OpSchema("Hardmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .hardmax))] },
        OpSchema("NegativeLogLikelihoodLoss", versions: [12, 13, 22]) { ctx in try loss(ctx, softmax: false) },
        OpSchema("SoftmaxCrossEntropyLoss", versions: [12, 13]) { ctx in try loss(ctx, softmax: true) },
    ]

    enum Mode { case softmax, logSoftmax, hardmax }

    static func run(_ ctx: KernelContext, _ mode: Mode) throws -> Tensor {
        let x = try ctx.tensor(0)
        let rank = x.dims.count
        let legacy = ctx.opset < 13
        let given = ctx.int("axis", default: legacy ? 1 : -1)
        guard given >= -rank, given < max(rank, 1) else {
            throw OpError.invalid("attribute 'axis' \(given) is out of range for rank \(rank)")
        }
        let axis = rank == 0 ? 0 : (given < 0 ? given + rank : given)
        let outer = x.dims[..<min(axis, rank)].reduce(1, *)
        let n = legacy ? x.dims[min(axis, rank)...].reduce(1, *) : (rank == 0 ? 1 : x.dims[axis])
        let inner = legacy || rank == 0 ? 1 : x.dims[(axis + 1)...].reduce(1, *)
        let layout = Layout(outer: outer, n: n, inner: inner)
        switch x.dtype {
        case .float32: return normalize(x, Float.self, layout, mode, threads: ctx.threads)
        case .float64: return normalize(x, Double.self, layout, mode, threads: ctx.threads)
        case .float16: return normalize(x, Float16.self, layout, mode, threads: ctx.threads)
        case .bfloat16: return normalize(x, BFloat16Bits.self, layout, mode, threads: ctx.threads)
        default: throw OpError.unsupported("input is \(x.dtype); expected float16/float32/float64/bfloat16")
        }
    }

    /// `outer` blocks of `n` slices of `inner` contiguous elements; each of the `outer *
    /// inner` lines of `n` elements (stride `inner`) is normalized.
    struct Layout {
        let outer: Int, n: Int, inner: Int
    }

    static func normalize<E: FloatStorage>(_ x: Tensor, _: E.Type, _ l: Layout, _ mode: Mode, threads: Int) -> Tensor {
        x.withElements(E.self) { src in
            rawTensor(E.self, dtype: x.dtype, dims: x.dims) { out in
                guard let s = src.baseAddress, let d = out.baseAddress, l.n > 0, l.outer * l.inner > 0 else { return }
                let block = l.n * l.inner
                let workers = parallelForThreads(elements: l.outer * block, threads: threads, grain: 16_384)
                parallelFor(l.outer, threads: workers) { range in
                    // Per worker: the block in the compute type, and per-line maximum, sum, argmax.
                    let scratch = UnsafeMutablePointer<E.Compute>.allocate(capacity: block)
                    let peak = UnsafeMutablePointer<E.Compute>.allocate(capacity: l.inner)
                    let total = UnsafeMutablePointer<E.Compute>.allocate(capacity: l.inner)
                    let index = UnsafeMutablePointer<Int>.allocate(capacity: l.inner)
                    defer { scratch.deallocate(); peak.deallocate(); total.deallocate(); index.deallocate() }
                    for o in range {
                        normalizeBlock(s + o * block, d + o * block, l, mode, scratch, peak, total, index)
                    }
                }
            }
        }
    }

    @inline(__always)
    static func normalizeBlock<E: FloatStorage>(_ p: UnsafePointer<E>, _ q: UnsafeMutablePointer<E>, _ l: Layout, _ mode: Mode,
                                                _ scratch: UnsafeMutablePointer<E.Compute>,
                                                _ peak: UnsafeMutablePointer<E.Compute>,
                                                _ total: UnsafeMutablePointer<E.Compute>, _ index: UnsafeMutablePointer<Int>) {
        typealias C = E.Compute
        let n = l.n, inner = l.inner
        for i in 0..<inner { peak[i] = -.infinity; total[i] = 0; index[i] = 0 }
        for k in 0..<n {
            for i in 0..<inner {
                let v = p[k * inner + i].compute
                scratch[k * inner + i] = v
                let m = peak[i]
                if mode == .hardmax {
                    if !m.isNaN && (v > m || v.isNaN || k == 0) { peak[i] = v; index[i] = k }
                } else if v > m || v.isNaN {
                    peak[i] = v
                }
            }
        }
        switch mode {
        case .hardmax:
            for k in 0..<n {
                for i in 0..<inner { q[k * inner + i] = E(compute: index[i] == k ? 1 : 0) }
            }
        case .logSoftmax where !E.isNarrow:
            for k in 0..<n {
                for i in 0..<inner { total[i] += C.mathExp(scratch[k * inner + i] - peak[i]) }
            }
            for i in 0..<inner { total[i] = C.mathLog(total[i]) }
            for k in 0..<n {
                for i in 0..<inner { q[k * inner + i] = E(compute: scratch[k * inner + i] - peak[i] - total[i]) }
            }
        default:
            // Softmax; for 16-bit floats each step is rounded to E like NumPy does
            // (onnx.reference), and LogSoftmax is the log of that rounded softmax.
            for k in 0..<n {
                for i in 0..<inner {
                    let e = E.rounded(C.mathExp(E.rounded(scratch[k * inner + i] - peak[i])))
                    scratch[k * inner + i] = e
                    total[i] += e
                }
            }
            for i in 0..<inner { total[i] = E.rounded(total[i]) }
            for k in 0..<n {
                for i in 0..<inner {
                    let y = scratch[k * inner + i] / total[i]
                    q[k * inner + i] = E(compute: mode == .softmax ? y : C.mathLog(E.rounded(y)))
                }
            }
        }
    }

    // MARK: Losses

    static func loss(_ ctx: KernelContext, softmax: Bool) throws -> [RuntimeValue] {
        var x = try ctx.tensor(0)
        let target = try ctx.tensor(1)
        let weight = ctx.optionalTensor(2)
        let reduction = ctx.string("reduction", default: "mean")
        guard ["none", "sum", "mean"].contains(reduction) else {
            throw OpError.invalid("attribute 'reduction' is '\(reduction)'; expected none, sum or mean")
        }
        let ignore = ctx.int("ignore_index")
        guard x.dims.count >= 2 else { throw OpError.invalid("input scores must have rank 2 or more, got \(Shape(x.dims))") }
        let n = x.dims[0], c = x.dims[1]
        let d = x.dims[2...].reduce(1, *)
        guard target.dims == [n] + x.dims[2...] else {
            throw OpError.invalid("target \(Shape(target.dims)) does not match scores \(Shape(x.dims)) without dim 1")
        }
        guard let labels = target.integers() else { throw OpError.invalid("target is \(target.dtype); expected int32/int64") }
        if let weight {
            guard weight.dtype == x.dtype, weight.dims == [c] else {
                throw OpError.invalid("weight is \(weight.dtype)\(Shape(weight.dims)); expected \(x.dtype)[\(c)]")
            }
        }
        var logProb: Tensor?
        if softmax {
            let layout = Layout(outer: n, n: c, inner: d)
            switch x.dtype {
            case .float32: x = normalize(x, Float.self, layout, .logSoftmax, threads: ctx.threads)
            case .float64: x = normalize(x, Double.self, layout, .logSoftmax, threads: ctx.threads)
            case .float16: x = normalize(x, Float16.self, layout, .logSoftmax, threads: ctx.threads)
            case .bfloat16: x = normalize(x, BFloat16Bits.self, layout, .logSoftmax, threads: ctx.threads)
            default: throw OpError.unsupported("scores are \(x.dtype); expected a float type")
            }
            logProb = x
        }
        let scores = try CastOps.cast(x, to: .float64, saturate: true, threads: ctx.threads).elements(Double.self)
        let weights = try weight.map { try CastOps.cast($0, to: .float64, saturate: true, threads: ctx.threads).elements(Double.self) }
        var losses = [Double](repeating: 0, count: n * d)
        var weightSum = 0.0
        for i in 0..<n {
            for j in 0..<d {
                let t = labels[i * d + j]
                if t == ignore { continue }
                guard t >= 0, t < c else { throw OpError.invalid("target value \(t) is outside [0, \(c))") }
                let w = weights?[t] ?? 1
                losses[i * d + j] = -scores[(i * c + t) * d + j] * w
                weightSum += w
            }
        }
        let result: Tensor
        switch reduction {
        case "none": result = Tensor.of(losses, dims: target.dims)
        case "sum": result = Tensor.scalar(losses.reduce(0, +))
        default:
            let total = losses.reduce(0, +)
            result = Tensor.scalar(weights == nil && ignore == nil ? total / Double(losses.count) : total / weightSum)
        }
        var outputs: [RuntimeValue] = [.tensor(try CastOps.cast(result, to: x.dtype, saturate: true, threads: 1))]
        if let logProb { outputs.append(.tensor(logProb)) }
        return outputs
    }
}
