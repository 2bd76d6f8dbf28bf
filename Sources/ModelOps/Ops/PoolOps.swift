import CKernels
import ModelIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// MaxPool (with the Indices output), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool,
/// MaxUnpool over 1 to 3 spatial dims.
///
/// Output sizes follow the ONNX spec: `auto_pad` SAME_* gives `ceil(in / stride)` with the
/// padding split (the extra element at the end for SAME_UPPER, at the start for
/// SAME_LOWER); VALID and NOTSET give `floor` (or `ceil` with `ceil_mode`, dropping a last
/// window that would start in the end padding) of `(in + pads - dilated kernel) / stride + 1`.
/// Averages divide by the taps inside the input (`count_include_pad` 0) or inside the
/// padded input (1; taps past the end padding that `ceil_mode` adds never count).
enum PoolOps {
    static let schemas: [OpSchema] = [
        OpSchema("MaxPool", versions: [1, 8, 10, 11, 12, 22]) { ctx in try maxPool(ctx) },
        OpSchema("AveragePool", versions: [1, 7, 10, 11, 19, 22]) { ctx in [.tensor(try averagePool(ctx))] },
        OpSchema("LpPool", versions: [1, 2, 11, 18, 22]) { ctx in [.tensor(try lpPool(ctx))] },
        OpSchema("GlobalAveragePool", versions: [1, 22]) { ctx in [.tensor(try globalPool(ctx, kind: .average))] },
        OpSchema("GlobalMaxPool", versions: [1, 22]) { ctx in [.tensor(try globalPool(ctx, kind: .max))] },
        OpSchema("MaxUnpool", versions: [9, 11, 22]) { ctx in [.tensor(try maxUnpool(ctx))] },
        OpSchema("GlobalLpPool", versions: [1, 2, 22]) { ctx in [.tensor(try globalLpPool(ctx))] },
        OpSchema("MaxRoiPool", versions: [1, 22]) { ctx in [.tensor(try maxRoiPool(ctx))] },
    ]

    // MARK: Geometry

    /// A pooling window layout, promoted to three spatial dims (depth, height, width).
    struct Geometry {
        let spatialRank: Int
        let planes: Int
        let input: [Int], output: [Int], kernel: [Int], stride: [Int], dilation: [Int]
        let padHead: [Int], padTail: [Int]
        var inPlane: Int { input[0] * input[1] * input[2] }
        var outPlane: Int { output[0] * output[1] * output[2] }

        /// Reads kernel_shape, strides, pads, auto_pad, and (where the opset has them)
        /// dilations and ceil_mode.
        init(_ ctx: KernelContext, x: [Int], dilations allowDilations: Bool, ceilMode allowCeil: Bool) throws {
            guard x.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x))") }
            let rank = x.count - 2
            guard rank <= 3 else { throw OpError.unsupported("pooling over \(rank) spatial dims (at most 3)") }
            guard let kernel = ctx.ints("kernel_shape"), kernel.count == rank, kernel.allSatisfy({ $0 >= 1 }) else {
                throw OpError.invalid("kernel_shape must be \(rank) values >= 1, got \(ctx.ints("kernel_shape").map { "\($0)" } ?? "none")")
            }
            let strides = ctx.ints("strides") ?? [Int](repeating: 1, count: rank)
            guard strides.count == rank, strides.allSatisfy({ $0 >= 1 }) else {
                throw OpError.invalid("strides \(strides) must be \(rank) values >= 1")
            }
            let dilations = (allowDilations ? ctx.ints("dilations") : nil) ?? [Int](repeating: 1, count: rank)
            guard dilations.count == rank, dilations.allSatisfy({ $0 >= 1 }) else {
                throw OpError.invalid("dilations \(dilations) must be \(rank) values >= 1")
            }
            let pads = ctx.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
            guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }) else {
                throw OpError.invalid("pads \(pads) must be \(2 * rank) values >= 0")
            }
            let autoPad = ctx.string("auto_pad", default: "NOTSET")
            let ceil = allowCeil && ctx.int("ceil_mode", default: 0) != 0
            var head = [Int](repeating: 0, count: rank), tail = head, out = head
            for i in 0..<rank {
                let size = x[i + 2], s = strides[i]
                let effective = (kernel[i] - 1) * dilations[i] + 1
                switch autoPad {
                case "SAME_UPPER", "SAME_LOWER":
                    out[i] = (size + s - 1) / s
                    let total = max(0, (out[i] - 1) * s + effective - size)
                    head[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                    tail[i] = total - head[i]
                case "VALID", "NOTSET":
                    if autoPad == "NOTSET" {
                        head[i] = pads[i]
                        tail[i] = pads[i + rank]
                    }
                    let span = size + head[i] + tail[i] - effective
                    guard span >= 0 else {
                        throw OpError.invalid("kernel \(kernel) (dilations \(dilations)) is larger than the padded input \(Shape(x))")
                    }
                    out[i] = (ceil ? (span + s - 1) / s : span / s) + 1
                    if ceil && (out[i] - 1) * s >= size + head[i] { out[i] -= 1 }
                default:
                    throw OpError.invalid("auto_pad '\(autoPad)' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
                }
            }
            func promote(_ v: [Int], _ fill: Int) -> [Int] { [Int](repeating: fill, count: 3 - v.count) + v }
            spatialRank = rank
            planes = x[0] * x[1]
            input = promote(Array(x[2...]), 1)
            output = promote(out, 1)
            self.kernel = promote(kernel, 1)
            stride = promote(strides, 1)
            dilation = promote(dilations, 1)
            padHead = promote(head, 0)
            padTail = promote(tail, 0)
        }

        func outputDims(_ x: [Int]) -> [Int] { Array(x[..<2]) + Array(output.suffix(spatialRank)) }

        /// Per output index along dim `d`: the window's first input position, the taps inside
        /// the input (`lo..<hi`) and the taps inside the padded input.
        func windows(_ d: Int) -> (start: [Int], lo: [Int], hi: [Int], padded: [Int]) {
            var start: [Int] = [], lo: [Int] = [], hi: [Int] = [], padded: [Int] = []
            for o in 0..<output[d] {
                let s = o * stride[d] - padHead[d]
                let t = taps(d, start: s)
                start.append(s); lo.append(t.lo); hi.append(t.hi); padded.append(t.padded)
            }
            return (start, lo, hi, padded)
        }

        /// Along dim `d`, for the window starting at `start`: the taps inside the input
        /// (`lo..<hi` tap indices) and how many taps fall inside the padded input.
        @inline(__always)
        func taps(_ d: Int, start: Int) -> (lo: Int, hi: Int, padded: Int) {
            let k = kernel[d], dl = dilation[d], size = input[d]
            // First tap with start + t*dl >= 0, first tap with start + t*dl >= size.
            let lo = start >= 0 ? 0 : min(k, (-start + dl - 1) / dl)
            let hi = start >= size ? 0 : min(k, (size - start + dl - 1) / dl)
            let begin = -padHead[d], end = size + padTail[d]
            let plo = start >= begin ? 0 : min(k, (begin - start + dl - 1) / dl)
            let phi = start >= end ? 0 : min(k, (end - start + dl - 1) / dl)
            return (lo, max(lo, hi), max(0, phi - plo))
        }
    }

    // MARK: Max

    static func maxPool(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0)
        let g = try Geometry(ctx, x: x.dims, dilations: ctx.opset >= 10, ceilMode: ctx.opset >= 10)
        let storageOrder = ctx.opset >= 8 ? ctx.int("storage_order", default: 0) : 0
        let wantIndices = ctx.wantsOutput(1)
        let dims = g.outputDims(x.dims)
        if x.dtype == .float32 && !wantIndices && g.spatialRank == 2 {
            return [.tensor(maxPool2D(g, x, dims: dims, threads: ctx.threads)), .tensor(Tensor.of([Int64](), dims: [0]))]
        }
        let v = MaxPoolVisitor(g: g, x: x, dims: dims, columnMajor: storageOrder == 1, indices: wantIndices, threads: ctx.threads)
        // Concrete element types so that the loops are specialized (not through the visitor).
        switch x.dtype {
        case .float32: return try v.visit(Float.self)
        case .float16: return try v.visit(Float16.self)
        case .float64: return try v.visit(Double.self)
        case .int8: return try v.visit(Int8.self)
        case .uint8: return try v.visit(UInt8.self)
        default:
            guard let result = try x.dtype.visitNumeric(v) else { throw OpError.unsupported("MaxPool on \(x.dtype)") }
            return result
        }
    }

    /// float32 2-D MaxPool without indices: each plane through `mc_maxpool2d_plane_f32` (C,
    /// vectorized over the output columns whose window is inside the input).
    static func maxPool2D(_ g: Geometry, _ x: Tensor, dims: [Int], threads: Int) -> Tensor {
        let (IH, IW, OH, OW) = (g.input[1], g.input[2], g.output[1], g.output[2])
        return Tensor.makeUninitialized(Float.self, dims: dims) { y in
            x.withElements(Float.self) { xs in
                guard let py = y.baseAddress else { return }
                guard let px = xs.baseAddress else {
                    py.update(repeating: 0, count: y.count)
                    return
                }
                let workers = parallelForThreads(elements: g.planes * g.outPlane * g.kernel.reduce(1, *), threads: threads)
                parallelFor(g.planes, threads: workers) { planes in
                    for p in planes {
                        mc_maxpool2d_plane_f32(px + p * g.inPlane, Int32(IH), Int32(IW), py + p * g.outPlane, Int32(OH), Int32(OW),
                                               Int32(g.kernel[1]), Int32(g.kernel[2]), Int32(g.stride[1]), Int32(g.stride[2]),
                                               Int32(g.dilation[1]), Int32(g.dilation[2]), Int32(g.padHead[1]), Int32(g.padHead[2]))
                    }
                }
            }
        }
    }

    struct MaxPoolVisitor: NumericVisitor {
        let g: Geometry, x: Tensor, dims: [Int]
        let columnMajor: Bool, indices: Bool, threads: Int
        func visit<T: NumericElement>(_: T.Type) throws -> [RuntimeValue] {
            var indexTensor: Tensor? = nil
            let g = self.g
            let (ID, IH, IW) = (g.input[0], g.input[1], g.input[2])
            let (OD, OH, OW) = (g.output[0], g.output[1], g.output[2])
            let out = Tensor.makeUninitialized(T.self, dims: dims) { y in
                x.withElements(T.self) { xs in
                    var idx = [Int64](repeating: indices ? -1 : 0, count: indices ? y.count : 0)
                    idx.withUnsafeMutableBufferPointer { ib in
                        guard let py = y.baseAddress else { return }
                        guard let px = xs.baseAddress else {
                            py.update(repeating: T.zero, count: y.count)
                            return
                        }
                        let pi = indices ? ib.baseAddress : nil  // an empty array's base is not nil
                        let workers = parallelForThreads(elements: g.planes * g.outPlane * g.kernel.reduce(1, *), threads: threads)
                        let wd = g.windows(0), wh = g.windows(1), ww = g.windows(2)
                        let (dd, dh, dw) = (g.dilation[0], g.dilation[1], g.dilation[2])
                        let inPlane = g.inPlane, outPlane = g.outPlane, rank = g.spatialRank
                        parallelFor(g.planes, threads: workers) { planes in
                            for p in planes {
                                let xp = px + p * inPlane
                                var o = p * outPlane
                                for od in 0..<OD {
                                    let ds = wd.start[od], dLo = wd.lo[od], dHi = wd.hi[od]
                                    for oh in 0..<OH {
                                        let hs = wh.start[oh], hLo = wh.lo[oh], hHi = wh.hi[oh]
                                        for ow in 0..<OW {
                                            let ws = ww.start[ow], wLo = ww.lo[ow], wHi = ww.hi[ow]
                                            if pi == nil {
                                                // Values only: no index bookkeeping in the loop.
                                                var best = T.zero, first = true
                                                for kd in dLo..<dHi {
                                                    let id = ds + kd * dd
                                                    for kh in hLo..<hHi {
                                                        let row = xp + (id * IH + hs + kh * dh) * IW + ws
                                                        var kw = wLo
                                                        if first && kw < wHi {
                                                            best = row[kw * dw]
                                                            first = false
                                                            kw += 1
                                                        }
                                                        while kw < wHi {
                                                            let v = row[kw * dw]
                                                            if v > best { best = v }
                                                            kw += 1
                                                        }
                                                    }
                                                }
                                                py[o] = best
                                                o += 1
                                                continue
                                            }
                                            var best = T.zero, at = -1
                                            for kd in dLo..<dHi {
                                                let id = ds + kd * dd
                                                for kh in hLo..<hHi {
                                                    let row = (id * IH + hs + kh * dh) * IW + ws
                                                    for kw in wLo..<wHi {
                                                        let v = xp[row + kw * dw]
                                                        if at < 0 || v > best {
                                                            best = v
                                                            at = row + kw * dw
                                                        }
                                                    }
                                                }
                                            }
                                            py[o] = best
                                            if let pi, at >= 0 {
                                                var spatial = at
                                                if columnMajor {
                                                    let iw = at % IW, ih = (at / IW) % IH, id = at / (IW * IH)
                                                    switch rank {
                                                    case 1: spatial = iw
                                                    case 2: spatial = ih + iw * IH
                                                    default: spatial = id + ih * ID + iw * ID * IH
                                                    }
                                                }
                                                pi[o] = Int64(p * inPlane + spatial)
                                            }
                                            o += 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if indices { indexTensor = Tensor.of(idx, dims: dims) }
                }
            }
            return [.tensor(out), .tensor(indexTensor ?? Tensor.of([Int64](), dims: [0]))]
        }
    }

    // MARK: Average and Lp

    static func averagePool(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let g = try Geometry(ctx, x: x.dims, dilations: ctx.opset >= 19, ceilMode: ctx.opset >= 10)
        let includePad = ctx.opset >= 7 && ctx.int("count_include_pad", default: 0) != 0
        return try windowPool(x, g, threads: ctx.threads, kind: includePad ? .averageIncludingPad : .average)
    }

    static func lpPool(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let g = try Geometry(ctx, x: x.dims, dilations: ctx.opset >= 18, ceilMode: ctx.opset >= 18)
        let p: Double
        if case .float(let f)? = ctx.attribute("p") { p = Double(f) } else { p = Double(ctx.int("p", default: 2)) }
        guard p > 0 else { throw OpError.invalid("p \(p) must be positive") }
        return try windowPool(x, g, threads: ctx.threads, kind: .lp(p))
    }

    enum WindowKind {
        case average, averageIncludingPad
        case lp(Double)
    }

    static func windowPool(_ x: Tensor, _ g: Geometry, threads: Int, kind: WindowKind) throws -> Tensor {
        let dims = g.outputDims(x.dims)
        switch x.dtype {
        case .float32: return windowPool(Float.self, x, g, dims, threads: threads, kind: kind)
        case .float64: return windowPool(Double.self, x, g, dims, threads: threads, kind: kind)
        case .float16: return windowPool(Float16.self, x, g, dims, threads: threads, kind: kind)
        default: throw OpError.unsupported("pooling on \(x.dtype) (float16, float32, float64 are supported)")
        }
    }

    static func windowPool<T: FloatElement>(_: T.Type, _ x: Tensor, _ g: Geometry, _ dims: [Int], threads: Int,
                                            kind: WindowKind) -> Tensor {
        let (IH, IW) = (g.input[1], g.input[2])
        let (OD, OH, OW) = (g.output[0], g.output[1], g.output[2])
        var p = 1.0, includePad = false, isLp = false
        switch kind {
        case .average: break
        case .averageIncludingPad: includePad = true
        case .lp(let v): p = v; isLp = true
        }
        return Tensor.makeUninitialized(T.self, dims: dims) { y in
            x.withElements(T.self) { xs in
                guard let py = y.baseAddress else { return }
                guard let px = xs.baseAddress else {
                    py.update(repeating: T.from(.nan), count: y.count)
                    return
                }
                let workers = parallelForThreads(elements: g.planes * g.outPlane * g.kernel.reduce(1, *), threads: threads)
                let wd = g.windows(0), wh = g.windows(1), ww = g.windows(2)
                let (dd, dh, dw) = (g.dilation[0], g.dilation[1], g.dilation[2])
                let inPlane = g.inPlane, outPlane = g.outPlane
                parallelFor(g.planes, threads: workers) { planes in
                    for plane in planes {
                        let xp = px + plane * inPlane
                        var o = plane * outPlane
                        for od in 0..<OD {
                            let ds = wd.start[od]
                            let td = (lo: wd.lo[od], hi: wd.hi[od], padded: wd.padded[od])
                            for oh in 0..<OH {
                                let hs = wh.start[oh]
                                let th = (lo: wh.lo[oh], hi: wh.hi[oh], padded: wh.padded[oh])
                                for ow in 0..<OW {
                                    let ws = ww.start[ow]
                                    let tw = (lo: ww.lo[ow], hi: ww.hi[ow], padded: ww.padded[ow])
                                    var sum = 0.0
                                    for kd in td.lo..<td.hi {
                                        let id = ds + kd * dd
                                        for kh in th.lo..<th.hi {
                                            let row = xp + (id * IH + hs + kh * dh) * IW + ws
                                            if isLp {
                                                if p == 2 {
                                                    for kw in tw.lo..<tw.hi { let v = row[kw * dw].asDouble; sum += v * v }
                                                } else {
                                                    for kw in tw.lo..<tw.hi { sum += pow(abs(row[kw * dw].asDouble), p) }
                                                }
                                            } else {
                                                for kw in tw.lo..<tw.hi { sum += row[kw * dw].asDouble }
                                            }
                                        }
                                    }
                                    let value: Double
                                    if isLp {
                                        value = p == 2 ? sum.squareRoot() : pow(sum, 1 / p)
                                    } else {
                                        let count = includePad ? td.padded * th.padded * tw.padded
                                            : (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo)
                                        value = count > 0 ? sum / Double(count) : .nan
                                    }
                                    py[o] = T.from(value)
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Global

    enum GlobalKind { case average, max }

    static func globalPool(_ ctx: KernelContext, kind: GlobalKind) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard x.dims.count >= 2 else { throw OpError.invalid("input X must have rank >= 2, got \(Shape(x.dims))") }
        let dims = Array(x.dims[..<2]) + [Int](repeating: 1, count: x.dims.count - 2)
        switch x.dtype {
        case .float32: return globalPool(Float.self, x, dims, kind: kind, threads: ctx.threads)
        case .float64: return globalPool(Double.self, x, dims, kind: kind, threads: ctx.threads)
        case .float16: return globalPool(Float16.self, x, dims, kind: kind, threads: ctx.threads)
        default: throw OpError.unsupported("global pooling on \(x.dtype) (float16, float32, float64 are supported)")
        }
    }

    static func globalPool<T: FloatElement>(_: T.Type, _ x: Tensor, _ dims: [Int], kind: GlobalKind, threads: Int) -> Tensor {
        let planes = dims[0] * dims[1]
        let size = x.dims[2...].reduce(1, *)
        return Tensor.make(T.self, dims: dims) { y in
            x.withElements(T.self) { xs in
                guard let px = xs.baseAddress, let py = y.baseAddress else { return }
                let workers = parallelForThreads(elements: planes * size, threads: threads)
                parallelFor(planes, threads: workers) { range in
                    for p in range {
                        let src = px + p * size
                        switch kind {
                        case .average:
                            py[p] = T.from(size > 0 ? planeSum(src, size) / Double(size) : .nan)
                        case .max:
                            guard size > 0 else { py[p] = T.from(-.infinity); continue }
                            var best = src[0]
                            for i in 1..<size where src[i] > best || (best.isNaN && !src[i].isNaN) { best = src[i] }
                            py[p] = best
                        }
                    }
                }
            }
        }
    }

    /// `(sum over the spatial dims of |x|^p)^(1/p)` per image and channel (p: an int from
    /// opset 2, a float in opset 1; default 2).
    static func globalLpPool(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard x.dims.count >= 2 else { throw OpError.invalid("input X must have rank >= 2, got \(Shape(x.dims))") }
        let p: Double
        if case .float(let f)? = ctx.attribute("p") { p = Double(f) } else { p = Double(ctx.int("p", default: 2)) }
        guard p > 0 else { throw OpError.invalid("p \(p) must be positive") }
        let dims = Array(x.dims[..<2]) + [Int](repeating: 1, count: x.dims.count - 2)
        let planes = dims[0] * dims[1], size = x.dims[2...].reduce(1, *)
        let xs = try NormalizationOps.doubles(x, name: "X")
        let y = (0..<planes).map { plane -> Double in
            var sum = 0.0
            for i in 0..<size { let v = abs(xs[plane * size + i]); sum += p == 2 ? v * v : pow(v, p) }
            return p == 2 ? sum.squareRoot() : pow(sum, 1 / p)
        }
        return try NormalizationOps.tensor(y, dtype: x.dtype, dims: dims)
    }

    // MARK: MaxRoiPool

    /// Max over `pooled_shape` bins of each region `(batch, x1, y1, x2, y2)` scaled by
    /// `spatial_scale` and rounded (half away from zero), as onnxruntime computes it: bins
    /// `[floor(i * size / pooled), ceil((i + 1) * size / pooled))` clipped to the image, an
    /// empty bin gives 0.
    static func maxRoiPool(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), rois = try ctx.tensor(1)
        guard x.dims.count == 4 else { throw OpError.invalid("input X must be 4-D, got \(Shape(x.dims))") }
        guard rois.dims.count == 2, rois.dims[1] == 5 else { throw OpError.invalid("rois must be [num_rois, 5], got \(Shape(rois.dims))") }
        guard let pooled = ctx.ints("pooled_shape"), pooled.count == 2, pooled.allSatisfy({ $0 >= 1 }) else {
            throw OpError.invalid("pooled_shape (two values >= 1) is required")
        }
        let scale = Double(ctx.float("spatial_scale", default: 1))
        let (n, c, h, w) = (x.dims[0], x.dims[1], x.dims[2], x.dims[3])
        let xs = try NormalizationOps.doubles(x, name: "X"), rs = try NormalizationOps.doubles(rois, name: "rois")
        let count = rois.dims[0]
        var y = [Double](repeating: 0, count: count * c * pooled[0] * pooled[1])
        for r in 0..<count {
            let roi = Array(rs[(r * 5)..<(r * 5 + 5)])
            guard roi[0].isFinite, roi[0] >= 0, Int(roi[0]) < n else {
                throw OpError.invalid("region \(r) names batch \(roi[0]), outside 0..<\(n)")
            }
            let b = Int(roi[0])
            func scaled(_ v: Double) -> Int { Int((v * scale).rounded(.toNearestOrAwayFromZero)) }
            let (x1, y1, x2, y2) = (scaled(roi[1]), scaled(roi[2]), scaled(roi[3]), scaled(roi[4]))
            let binH = Double(max(y2 - y1 + 1, 1)) / Double(pooled[0]), binW = Double(max(x2 - x1 + 1, 1)) / Double(pooled[1])
            for ch in 0..<c {
                let plane = (b * c + ch) * h * w
                for py in 0..<pooled[0] {
                    let hs = min(max(Int((Double(py) * binH).rounded(.down)) + y1, 0), h)
                    let he = min(max(Int((Double(py + 1) * binH).rounded(.up)) + y1, 0), h)
                    for px in 0..<pooled[1] {
                        let ws = min(max(Int((Double(px) * binW).rounded(.down)) + x1, 0), w)
                        let we = min(max(Int((Double(px + 1) * binW).rounded(.up)) + x1, 0), w)
                        var best = -Double.infinity
                        if he > hs && we > ws {
                            for yy in hs..<he { for xx in ws..<we { best = max(best, xs[plane + yy * w + xx]) } }
                        } else {
                            best = 0
                        }
                        y[((r * c + ch) * pooled[0] + py) * pooled[1] + px] = best
                    }
                }
            }
        }
        return try NormalizationOps.tensor(y, dtype: x.dtype, dims: [count, c, pooled[0], pooled[1]])
    }

    /// The sum of `count` elements: float32 in 32 vector lanes (independent chains, so the
    /// loop runs at load speed), other types one by one in float64.
    @inline(__always)
    static func planeSum<T: FloatElement>(_ src: UnsafePointer<T>, _ count: Int) -> Double {
        if T.self == Float.self {
            let f = UnsafeRawPointer(src)
            var a = SIMD16<Float>(), b = SIMD16<Float>()
            var i = 0
            while i + 32 <= count {
                a += f.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                b += f.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
                i += 32
            }
            var sum = Double((a + b).sum())
            while i < count {
                sum += src[i].asDouble
                i += 1
            }
            return sum
        }
        var sum = 0.0
        for i in 0..<count { sum += src[i].asDouble }
        return sum
    }

    // MARK: MaxUnpool

    /// Scatters X into zeros at the flat Indices of the inferred input shape
    /// `(in - 1) * stride - pads + kernel` (per image and channel: indices count over the
    /// whole tensor, as MaxPool's Indices do); with `output_shape` the result is embedded
    /// at the origin of a tensor of that shape, as `onnx.reference` does.
    static func maxUnpool(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), indices = try ctx.tensor(1)
        guard x.dims.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x.dims))") }
        guard indices.dims == x.dims, indices.dtype == .int64 else {
            throw OpError.invalid("I \(indices.dtype)\(Shape(indices.dims)) must be int64 with X's shape \(Shape(x.dims))")
        }
        let rank = x.dims.count - 2
        guard let kernel = ctx.ints("kernel_shape"), kernel.count == rank else {
            throw OpError.invalid("kernel_shape must have \(rank) values")
        }
        let strides = ctx.ints("strides") ?? [Int](repeating: 1, count: rank)
        let pads = ctx.ints("pads") ?? [Int](repeating: 0, count: 2 * rank)
        guard strides.count == rank, pads.count == 2 * rank else {
            throw OpError.invalid("strides \(strides) / pads \(pads) do not fit \(rank) spatial dims")
        }
        var inferred = Array(x.dims[..<2])
        for i in 0..<rank { inferred.append((x.dims[i + 2] - 1) * strides[i] - pads[i] - pads[i + rank] + kernel[i]) }
        var outDims = inferred
        if let shape = ctx.optionalTensor(2) {
            guard let s = shape.integers(), s.count == x.dims.count, s.allSatisfy({ $0 >= 0 }) else {
                throw OpError.invalid("output_shape must hold \(x.dims.count) non-negative integers")
            }
            outDims = s
        }
        guard inferred.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("inferred output shape \(inferred) is negative") }
        let total = inferred.reduce(1, *)
        let idx = indices.elements(Int64.self)
        guard let size = try x.dtype.visitNumeric(ElementSize()) else { throw OpError.unsupported("MaxUnpool on \(x.dtype)") }
        var flat = [UInt8](repeating: 0, count: total * size)
        try x.withUnsafeBytes { raw in
            for (i, j) in idx.enumerated() {
                guard j >= 0 && Int(j) < total else {
                    throw OpError.invalid("index \(j) in I is outside the unpooled tensor of \(total) elements")
                }
                for b in 0..<size { flat[Int(j) * size + b] = raw[i * size + b] }
            }
        }
        if outDims == inferred {
            return Tensor(unchecked: x.dtype, dims: outDims, storage: .owned(flat))
        }
        // Embed the inferred block at the origin of the requested shape.
        var out = [UInt8](repeating: 0, count: outDims.reduce(1, *) * size)
        let r = outDims.count
        var index = [Int](repeating: 0, count: r)
        for i in 0..<total {
            var o = 0, fits = true
            for d in 0..<r {
                if index[d] >= outDims[d] { fits = false; break }
                o = o * outDims[d] + index[d]
            }
            if fits { for b in 0..<size { out[o * size + b] = flat[i * size + b] } }
            var d = r - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < inferred[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return Tensor(unchecked: x.dtype, dims: outDims, storage: .owned(out))
    }

    struct ElementSize: NumericVisitor {
        func visit<T: NumericElement>(_: T.Type) throws -> Int { MemoryLayout<T>.stride }
    }
}
