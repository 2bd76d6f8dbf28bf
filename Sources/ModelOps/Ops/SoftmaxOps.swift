import ModelIR

/// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is seen as 2-D,
/// `[prod(dims[..<axis]), prod(dims[axis...])]` (default axis 1), and each row is
/// normalized; from opset 13 the function runs along `axis` alone (default -1).
/// Softmax is `exp(x - max) / sum(exp(x - max))`; LogSoftmax `x - max - log(sum(...))`;
/// Hardmax is 1 at the first maximum of each slice (NaN counts as the maximum, like NumPy's
/// argmax), 0 elsewhere. 16-bit floats compute in Float.
enum SoftmaxOps {
    static let schemas: [OpSchema] = [
        OpSchema("Softmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .softmax))] },
        OpSchema("LogSoftmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .logSoftmax))] },
        OpSchema("Hardmax", versions: [1, 11, 13]) { ctx in [.tensor(try run(ctx, .hardmax))] },
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
                    var scratch = [E.Compute](repeating: 0, count: block)
                    var peak = [E.Compute](repeating: 0, count: l.inner)
                    var total = [E.Compute](repeating: 0, count: l.inner)
                    for o in range {
                        let p = s + o * block, q = d + o * block
                        normalizeBlock(p, q, l, mode, &scratch, &peak, &total)
                    }
                }
            }
        }
    }

    @inline(__always)
    static func normalizeBlock<E: FloatStorage>(_ p: UnsafePointer<E>, _ q: UnsafeMutablePointer<E>, _ l: Layout, _ mode: Mode,
                                                _ scratch: inout [E.Compute], _ peak: inout [E.Compute],
                                                _ total: inout [E.Compute]) {
        typealias C = E.Compute
        let n = l.n, inner = l.inner
        for i in 0..<inner { peak[i] = -.infinity; total[i] = 0 }
        var index = [Int](repeating: 0, count: mode == .hardmax ? inner : 0)
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
        case .softmax:
            for k in 0..<n {
                for i in 0..<inner {
                    let e = C.mathExp(scratch[k * inner + i] - peak[i])
                    scratch[k * inner + i] = e
                    total[i] += e
                }
            }
            for i in 0..<inner { total[i] = 1 / total[i] }
            for k in 0..<n {
                for i in 0..<inner { q[k * inner + i] = E(compute: scratch[k * inner + i] * total[i]) }
            }
        case .logSoftmax:
            for k in 0..<n {
                for i in 0..<inner { total[i] += C.mathExp(scratch[k * inner + i] - peak[i]) }
            }
            for i in 0..<inner { total[i] = C.mathLog(total[i]) }
            for k in 0..<n {
                for i in 0..<inner { q[k * inner + i] = E(compute: scratch[k * inner + i] - peak[i] - total[i]) }
            }
        }
    }
}
