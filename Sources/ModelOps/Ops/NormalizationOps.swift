import ModelIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, LRN,
/// MeanVarianceNormalization. Statistics are accumulated in float64 and each output element
/// is rounded once to the input's type (float16, float32, float64).
enum NormalizationOps {
    static let schemas: [OpSchema] = [
        OpSchema("BatchNormalization", versions: [1, 6, 7, 9, 14, 15]) { ctx in try batchNormalization(ctx) },
        OpSchema("InstanceNormalization", versions: [1, 6, 22]) { ctx in [.tensor(try instanceNormalization(ctx))] },
        OpSchema("LayerNormalization", versions: [17]) { ctx in try layerNormalization(ctx) },
        OpSchema("GroupNormalization", versions: [18, 21]) { ctx in [.tensor(try groupNormalization(ctx))] },
        OpSchema("LRN", versions: [1, 13]) { ctx in [.tensor(try lrn(ctx))] },
        OpSchema("MeanVarianceNormalization", versions: [9, 13]) { ctx in [.tensor(try meanVarianceNormalization(ctx))] },
        OpSchema("RMSNormalization", versions: [23]) { ctx in [.tensor(try rmsNormalization(ctx))] },
        OpSchema("LpNormalization", versions: [1, 22]) { ctx in [.tensor(try lpNormalization(ctx))] },
    ]

    // MARK: Element access

    /// The elements of a float tensor as float64.
    static func doubles(_ t: Tensor, name: String) throws -> [Double] {
        guard t.dtype.isFloatingPoint else { throw OpError.unsupported("\(name) of type \(t.dtype) (a float type is expected)") }
        return try QuantizeOps.doubles(t, name: name)
    }

    /// A tensor of `dtype` (float16/32/64) from float64 values, each rounded once.
    static func tensor(_ values: UnsafeBufferPointer<Double>, dtype: DType, dims: [Int]) throws -> Tensor {
        switch dtype {
        case .float32: return Tensor.make(Float.self, dims: dims) { o in for i in 0..<o.count { o[i] = Float(values[i]) } }
        case .float64: return Tensor.make(Double.self, dims: dims) { o in for i in 0..<o.count { o[i] = values[i] } }
        case .float16: return Tensor.make(Float16.self, dims: dims) { o in for i in 0..<o.count { o[i] = Float16(values[i]) } }
        case .bfloat16:
            let f = Tensor.make(Float.self, dims: dims) { o in for i in 0..<o.count { o[i] = Float(values[i]) } }
            return try CastOps.cast(f, to: .bfloat16, saturate: true, threads: 1)
        default: throw OpError.unsupported("normalization output of type \(dtype)")
        }
    }

    static func tensor(_ values: [Double], dtype: DType, dims: [Int]) throws -> Tensor {
        try values.withUnsafeBufferPointer { try tensor($0, dtype: dtype, dims: dims) }
    }

    // MARK: BatchNormalization

    /// Inference: `scale * (x - mean) / sqrt(var + epsilon) + bias` per channel (or per
    /// activation: opsets before 9 with `spatial` 0 take `[C, D...]` parameters). Training
    /// (opset 14+ `training_mode` 1; older opsets: `is_test` 0 before 7, extra outputs
    /// requested from 7 to 13) normalizes with the batch statistics and returns the running
    /// statistics `mean * momentum + batch * (1 - momentum)` (batch variance: population).
    static func batchNormalization(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0)
        let scale = try doubles(ctx.tensor(1), name: "scale"), bias = try doubles(ctx.tensor(2), name: "B")
        let meanT = try ctx.tensor(3), varT = try ctx.tensor(4)
        let mean = try doubles(meanT, name: "input_mean"), variance = try doubles(varT, name: "input_var")
        let epsilon = Double(ctx.float("epsilon", default: 1e-5))
        let momentum = Double(ctx.float("momentum", default: 0.9))
        guard x.dims.count >= 2 else { throw OpError.invalid("input X must have rank >= 2, got \(Shape(x.dims))") }
        let n = x.dims[0], c = x.dims[1], spatial = x.dims[2...].reduce(1, *)
        let perActivation = scale.count == c * spatial && scale.count != c
        let params = perActivation ? c * spatial : c
        for (v, name) in [(scale, "scale"), (bias, "B"), (mean, "input_mean"), (variance, "input_var")] where v.count != params {
            throw OpError.invalid("\(name) has \(v.count) values; expected \(params) for X \(Shape(x.dims))")
        }
        let training: Bool
        if ctx.opset >= 14 {
            training = ctx.int("training_mode", default: 0) != 0
        } else if ctx.opset < 7 {
            training = ctx.int("is_test", default: 0) == 0
        } else {
            training = (1..<ctx.outputCount).contains { ctx.wantsOutput($0) }
        }
        if !training && x.dtype == .float32 {
            // The common inference case: one fused multiply-add per element, in float32.
            let a = (0..<params).map { Float(scale[$0] / (variance[$0] + epsilon).squareRoot()) }
            let shift = (0..<params).map { Float(bias[$0]) - Float(mean[$0]) * a[$0] }
            let y = x.withElements(Float.self) { xs in
                Tensor.makeUninitialized(Float.self, dims: x.dims) { out in
                    guard let px = xs.baseAddress, let po = out.baseAddress else { return }
                    let workers = parallelForThreads(elements: xs.count, threads: ctx.threads)
                    parallelFor(n * c, threads: workers) { range in
                        for plane in range {
                            let ch = plane % c
                            let src = px + plane * spatial, dst = po + plane * spatial
                            if perActivation {
                                let o = ch * spatial
                                for i in 0..<spatial { dst[i] = src[i] * a[o + i] + shift[o + i] }
                            } else {
                                affine(src, dst, count: spatial, scale: a[ch], shift: shift[ch])
                            }
                        }
                    }
                }
            }
            return [.tensor(y)]
        }
        let xs = try doubles(x, name: "X")
        var useMean = mean, useVar = variance
        var batchMean = [Double](repeating: 0, count: params), batchVar = batchMean
        if training {
            guard !perActivation else { throw OpError.unsupported("training-mode BatchNormalization with per-activation parameters") }
            let count = Double(n * spatial)
            for b in 0..<n {
                for ch in 0..<c {
                    let base = (b * c + ch) * spatial
                    for i in 0..<spatial { batchMean[ch] += xs[base + i] }
                }
            }
            for ch in 0..<c { batchMean[ch] /= count }
            for b in 0..<n {
                for ch in 0..<c {
                    let base = (b * c + ch) * spatial, m = batchMean[ch]
                    for i in 0..<spatial { let d = xs[base + i] - m; batchVar[ch] += d * d }
                }
            }
            for ch in 0..<c { batchVar[ch] /= count }
            useMean = batchMean
            useVar = batchVar
        }
        let a = (0..<params).map { scale[$0] / (useVar[$0] + epsilon).squareRoot() }
        let shift = (0..<params).map { bias[$0] - useMean[$0] * a[$0] }
        var y = [Double](repeating: 0, count: xs.count)
        for b in 0..<n {
            for ch in 0..<c {
                let base = (b * c + ch) * spatial
                if perActivation {
                    for i in 0..<spatial { y[base + i] = xs[base + i] * a[ch * spatial + i] + shift[ch * spatial + i] }
                } else {
                    let (s, t) = (a[ch], shift[ch])
                    for i in 0..<spatial { y[base + i] = xs[base + i] * s + t }
                }
            }
        }
        var out: [RuntimeValue] = [.tensor(try tensor(y, dtype: x.dtype, dims: x.dims))]
        guard training else { return out }
        let runningMean = (0..<c).map { mean[$0] * momentum + batchMean[$0] * (1 - momentum) }
        let runningVar = (0..<c).map { variance[$0] * momentum + batchVar[$0] * (1 - momentum) }
        out.append(.tensor(try tensor(runningMean, dtype: meanT.dtype, dims: meanT.dims)))
        out.append(.tensor(try tensor(runningVar, dtype: varT.dtype, dims: varT.dims)))
        if ctx.opset < 14 {
            out.append(.tensor(try tensor(batchMean, dtype: meanT.dtype, dims: meanT.dims)))
            out.append(.tensor(try tensor(batchVar, dtype: varT.dtype, dims: varT.dims)))
        }
        return out
    }

    /// `dst[i] = src[i] * scale + shift` for `count` floats, 16 at a time.
    @inline(__always)
    static func affine(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int, scale: Float, shift: Float) {
        let s = SIMD16<Float>(repeating: scale), t = SIMD16<Float>(repeating: shift)
        let from = UnsafeRawPointer(src), to = UnsafeMutableRawPointer(dst)
        var i = 0
        while i + 16 <= count {
            to.storeBytes(of: from.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * s + t, toByteOffset: i * 4,
                          as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            dst[i] = src[i] * scale + shift
            i += 1
        }
    }

    // MARK: Instance and group

    /// Normalizes `groups` consecutive runs of each image (`[N, groups, rest]` view) to zero
    /// mean and unit variance, then applies `scale[ch] * . + bias[ch]` per channel, where each
    /// group spans `channelsPerGroup` channels of `spatial` elements.
    static func normalizeGroups(_ x: Tensor, groups: Int, channelsPerGroup: Int, spatial: Int, epsilon: Double,
                                scale: [Double], bias: [Double], threads: Int) throws -> Tensor {
        let xs = try doubles(x, name: "X")
        let n = x.dims[0]
        let span = channelsPerGroup * spatial
        var y = [Double](repeating: 0, count: xs.count)
        let workers = parallelForThreads(elements: xs.count, threads: threads)
        xs.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                guard let ps = src.baseAddress, let pd = dst.baseAddress else { return }
                parallelFor(n * groups, threads: workers) { range in
                    for run in range {
                        let base = run * span
                        var sum = 0.0
                        for i in 0..<span { sum += ps[base + i] }
                        let mean = span > 0 ? sum / Double(span) : 0
                        var sq = 0.0
                        for i in 0..<span { let d = ps[base + i] - mean; sq += d * d }
                        let inv = 1 / (sq / Double(max(span, 1)) + epsilon).squareRoot()
                        let g = run % groups
                        for k in 0..<channelsPerGroup {
                            let ch = g * channelsPerGroup + k
                            let (s, b) = (scale[ch], bias[ch])
                            let o = base + k * spatial
                            for i in 0..<spatial { pd[o + i] = (ps[o + i] - mean) * inv * s + b }
                        }
                    }
                }
            }
        }
        return try tensor(y, dtype: x.dtype, dims: x.dims)
    }

    static func instanceNormalization(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let scale = try doubles(ctx.tensor(1), name: "scale"), bias = try doubles(ctx.tensor(2), name: "B")
        guard x.dims.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x.dims))") }
        let c = x.dims[1]
        guard scale.count == c, bias.count == c else {
            throw OpError.invalid("scale and B must have \(c) values, have \(scale.count) and \(bias.count)")
        }
        return try normalizeGroups(x, groups: c, channelsPerGroup: 1, spatial: x.dims[2...].reduce(1, *),
                                   epsilon: Double(ctx.float("epsilon", default: 1e-5)), scale: scale, bias: bias,
                                   threads: ctx.threads)
    }

    /// Opset 18 takes scale and bias per group (`[num_groups]`), opset 21 per channel (`[C]`).
    static func groupNormalization(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let scale = try doubles(ctx.tensor(1), name: "scale"), bias = try doubles(ctx.tensor(2), name: "bias")
        guard x.dims.count >= 2 else { throw OpError.invalid("input X must have rank >= 2, got \(Shape(x.dims))") }
        guard let groups = ctx.int("num_groups"), groups >= 1 else { throw OpError.invalid("attribute num_groups (>= 1) is required") }
        let c = x.dims[1]
        guard c % groups == 0 else { throw OpError.invalid("num_groups \(groups) does not divide the \(c) channels") }
        let per = c / groups
        var s = scale, b = bias
        if scale.count == groups && bias.count == groups && (ctx.opset < 21 || groups == c) {
            s = (0..<c).map { scale[$0 / per] }
            b = (0..<c).map { bias[$0 / per] }
        } else if scale.count != c || bias.count != c {
            throw OpError.invalid("scale and bias have \(scale.count) and \(bias.count) values; expected \(ctx.opset < 21 ? groups : c)")
        }
        return try normalizeGroups(x, groups: groups, channelsPerGroup: per, spatial: x.dims[2...].reduce(1, *),
                                   epsilon: Double(ctx.float("epsilon", default: 1e-5)), scale: s, bias: b,
                                   threads: ctx.threads)
    }

    // MARK: LayerNormalization

    /// Normalizes over the dims from `axis` on; Scale and B broadcast to those dims. Outputs
    /// Mean and InvStdDev (float32, shape `X[..<axis] + [1...]`) when requested.
    static func layerNormalization(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0), scaleT = try ctx.tensor(1), biasT = ctx.optionalTensor(2)
        let rank = x.dims.count
        let rawAxis = ctx.int("axis", default: -1)
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < max(rank, 1) else { throw OpError.invalid("axis \(rawAxis) is out of range for rank \(rank)") }
        let epsilon = Double(ctx.float("epsilon", default: 1e-5))
        let inner = Array(x.dims[axis...])
        let rows = x.dims[..<axis].reduce(1, *), cols = inner.reduce(1, *)
        let scale = try expand(scaleT, to: inner, name: "Scale")
        let bias = try biasT.map { try expand($0, to: inner, name: "B") } ?? [Double](repeating: 0, count: cols)
        let xs = try doubles(x, name: "X")
        var y = [Double](repeating: 0, count: xs.count)
        var means = [Float](repeating: 0, count: rows), invs = means
        for r in 0..<rows {
            let base = r * cols
            var sum = 0.0
            for i in 0..<cols { sum += xs[base + i] }
            let mean = cols > 0 ? sum / Double(cols) : 0
            var sq = 0.0
            for i in 0..<cols { let d = xs[base + i] - mean; sq += d * d }
            let inv = 1 / (sq / Double(max(cols, 1)) + epsilon).squareRoot()
            for i in 0..<cols { y[base + i] = (xs[base + i] - mean) * inv * scale[i] + bias[i] }
            means[r] = Float(mean)
            invs[r] = Float(inv)
        }
        let statDims = Array(x.dims[..<axis]) + [Int](repeating: 1, count: rank - axis)
        return [.tensor(try tensor(y, dtype: x.dtype, dims: x.dims)),
                .tensor(Tensor.of(means, dims: statDims)), .tensor(Tensor.of(invs, dims: statDims))]
    }

    /// The elements of `t` broadcast (unidirectionally) to `inner`, as float64.
    static func expand(_ t: Tensor, to inner: [Int], name: String) throws -> [Double] {
        guard Broadcast.broadcasts(t.dims, to: inner) else {
            throw OpError.invalid("\(name) \(Shape(t.dims)) does not broadcast to the normalized dims \(Shape(inner))")
        }
        let v = try doubles(t, name: name)
        let cols = inner.reduce(1, *)
        if v.count == cols { return v }
        let st = Broadcast.strides(of: t.dims, to: inner)
        return (0..<cols).map { i in
            var rest = i, o = 0
            for d in stride(from: inner.count - 1, through: 0, by: -1) {
                o += (rest % inner[d]) * st[d]
                rest /= inner[d]
            }
            return v[o]
        }
    }

    // MARK: RMSNormalization and LpNormalization

    /// `x / sqrt(mean(x^2 over the dims from axis) + epsilon) * scale` (opset 23), scale
    /// broadcast to those dims.
    static func rmsNormalization(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), scaleT = try ctx.tensor(1)
        let rank = x.dims.count
        let rawAxis = ctx.int("axis", default: -1)
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < max(rank, 1) else { throw OpError.invalid("axis \(rawAxis) is out of range for rank \(rank)") }
        let epsilon = Double(ctx.float("epsilon", default: 1e-5))
        let inner = Array(x.dims[axis...])
        let rows = x.dims[..<axis].reduce(1, *), cols = inner.reduce(1, *)
        let scale = try expand(scaleT, to: inner, name: "scale")
        let xs = try doubles(x, name: "X")
        var y = [Double](repeating: 0, count: xs.count)
        for r in 0..<rows {
            let base = r * cols
            var sq = 0.0
            for i in 0..<cols { sq += xs[base + i] * xs[base + i] }
            let inv = 1 / (sq / Double(max(cols, 1)) + epsilon).squareRoot()
            for i in 0..<cols { y[base + i] = xs[base + i] * inv * scale[i] }
        }
        return try tensor(y, dtype: x.dtype, dims: x.dims)
    }

    /// `x / ||x||_p` along `axis` (p 1 or 2; a zero norm gives 0).
    static func lpNormalization(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let rank = x.dims.count
        let rawAxis = ctx.int("axis", default: -1)
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < rank else { throw OpError.invalid("axis \(rawAxis) is out of range for rank \(rank)") }
        let p = ctx.int("p", default: 2)
        guard p == 1 || p == 2 else { throw OpError.invalid("p \(p) must be 1 or 2") }
        let outer = x.dims[..<axis].reduce(1, *), n = x.dims[axis], inner = x.dims[(axis + 1)...].reduce(1, *)
        let xs = try doubles(x, name: "input")
        var y = [Double](repeating: 0, count: xs.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var norm = 0.0
                for k in 0..<n { let v = xs[base + k * inner]; norm += p == 1 ? abs(v) : v * v }
                if p == 2 { norm = norm.squareRoot() }
                for k in 0..<n { y[base + k * inner] = norm == 0 ? 0 : xs[base + k * inner] / norm }
            }
        }
        return try tensor(y, dtype: x.dtype, dims: x.dims)
    }

    // MARK: LRN

    /// `x / (bias + alpha / size * sum of squares over channels c - (size-1)/2 ...
    /// c + ceil((size-1)/2))^beta`.
    static func lrn(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard x.dims.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x.dims))") }
        guard let size = ctx.int("size"), size >= 1 else { throw OpError.invalid("attribute size (>= 1) is required") }
        let alpha = Double(ctx.float("alpha", default: 1e-4)), beta = Double(ctx.float("beta", default: 0.75))
        let bias = Double(ctx.float("bias", default: 1))
        let n = x.dims[0], c = x.dims[1], spatial = x.dims[2...].reduce(1, *)
        let before = (size - 1) / 2, after = (size - 1) - before
        let xs = try doubles(x, name: "X")
        var y = [Double](repeating: 0, count: xs.count)
        for b in 0..<n {
            for ch in 0..<c {
                let lo = max(0, ch - before), hi = min(c - 1, ch + after)
                let base = (b * c + ch) * spatial
                for i in 0..<spatial {
                    var sq = 0.0
                    if lo <= hi { for k in lo...hi { let v = xs[(b * c + k) * spatial + i]; sq += v * v } }
                    y[base + i] = xs[base + i] / pow(bias + alpha / Double(size) * sq, beta)
                }
            }
        }
        return try tensor(y, dtype: x.dtype, dims: x.dims)
    }

    // MARK: MeanVarianceNormalization

    /// `(x - mean) / (sqrt(mean(x^2) - mean^2) + 1e-9)` over `axes` (default `[0, 2, 3]`), as
    /// the ONNX function body computes it.
    static func meanVarianceNormalization(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let rank = x.dims.count
        var axes = Set<Int>()
        for a in ctx.ints("axes") ?? [0, 2, 3] {
            let v = a < 0 ? a + rank : a
            guard v >= 0 && v < rank else { throw OpError.invalid("axis \(a) is out of range for rank \(rank)") }
            axes.insert(v)
        }
        let xs = try doubles(x, name: "X")
        // The reduced index of each element: C-order over the kept dims.
        var keptStride = [Int](repeating: 0, count: rank)
        var groups = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where !axes.contains(d) {
            keptStride[d] = groups
            groups *= x.dims[d]
        }
        var key = [Int](repeating: 0, count: xs.count)
        var index = [Int](repeating: 0, count: rank)
        var k = 0
        for i in 0..<xs.count {
            key[i] = k
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                k += keptStride[d]
                if index[d] < x.dims[d] { break }
                k -= index[d] * keptStride[d]
                index[d] = 0
                d -= 1
            }
        }
        var sum = [Double](repeating: 0, count: groups), sumSq = sum
        for i in 0..<xs.count {
            sum[key[i]] += xs[i]
            sumSq[key[i]] += xs[i] * xs[i]
        }
        let count = Double(max(1, xs.count / max(groups, 1)))
        let mean = sum.map { $0 / count }
        let std = (0..<groups).map { g in (sumSq[g] / count - mean[g] * mean[g]).squareRoot() }
        let y = (0..<xs.count).map { i in (xs[i] - mean[key[i]]) / (std[key[i]] + 1e-9) }
        return try tensor(y, dtype: x.dtype, dims: x.dims)
    }
}
