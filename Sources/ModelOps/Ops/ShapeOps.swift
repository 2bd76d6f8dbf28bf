import ModelIR

/// Shape and layout ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split,
/// Shape, Size, Tile, DepthToSpace, SpaceToDepth, Trilu, OneHot, NonZero, Compress,
/// ReverseSequence, Unique.
///
/// These ops move elements without computing them, so their kernels work on `Movement`
/// carriers (Movement.swift: one implementation per element size) and handle every
/// fixed-width dtype and strings alike. Reshape, Flatten, Squeeze and Unsqueeze never copy:
/// they return the input's bytes with new dims.
enum ShapeOps {
    static let schemas: [OpSchema] = [
        OpSchema("Reshape", versions: [1, 5, 13, 14, 19, 21, 23, 24, 25]) { ctx in [.tensor(try reshape(ctx))] },
        OpSchema("Flatten", versions: [1, 9, 11, 13, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            let axis = try Movement.axis(ctx.int("axis", default: 1), rank: x.dims.count, inclusive: true, what: "attribute 'axis'")
            let outer = x.dims[..<axis].reduce(1, *), inner = x.dims[axis...].reduce(1, *)
            return [.tensor(x.reshaped([outer, inner]))]
        },
        OpSchema("Squeeze", versions: [1, 11, 13, 21, 23, 24, 25]) { ctx in [.tensor(try squeeze(ctx))] },
        OpSchema("Unsqueeze", versions: [1, 11, 13, 21, 23, 24, 25]) { ctx in [.tensor(try unsqueeze(ctx))] },
        OpSchema("Transpose", versions: [1, 13, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            let perm = ctx.ints("perm").flatMap { $0.isEmpty ? nil : $0 } ?? Array((0..<x.dims.count).reversed())
            return [.tensor(try Movement.transpose(x, perm: perm))]
        },
        OpSchema("Concat", versions: [1, 4, 11, 13]) { ctx in [.tensor(try concat(ctx))] },
        OpSchema("Split", versions: [1, 2, 11, 13, 18]) { ctx in try split(ctx).map { .tensor($0) } },
        OpSchema("Shape", versions: [1, 13, 15, 19, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            let r = x.dims.count
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
            let start = clamp(ctx.opset >= 15 ? ctx.int("start", default: 0) : 0)
            let end = clamp(ctx.opset >= 15 ? ctx.int("end", default: r) : r)
            let dims = start < end ? x.dims[start..<end].map { Int64($0) } : []
            return [.tensor(Tensor.of(dims))]
        },
        OpSchema("Size", versions: [1, 13, 19, 21, 23, 24, 25]) { ctx in
            let x = try ctx.tensor(0)
            guard let n = x.elementCount else { throw OpError.invalid("input 0 has an invalid shape \(x.dims)") }
            return [.tensor(Tensor.scalar(Int64(n)))]
        },
        OpSchema("Tile", versions: [1, 6, 13]) { ctx in [.tensor(try tile(ctx))] },
        OpSchema("DepthToSpace", versions: [1, 11, 13, 28]) { ctx in [.tensor(try depthToSpace(ctx))] },
        OpSchema("SpaceToDepth", versions: [1, 13, 28]) { ctx in [.tensor(try spaceToDepth(ctx))] },
        OpSchema("Trilu", versions: [14]) { ctx in [.tensor(try trilu(ctx))] },
        OpSchema("OneHot", versions: [9, 11, 28]) { ctx in [.tensor(try oneHot(ctx))] },
        OpSchema("NonZero", versions: [9, 13]) { ctx in [.tensor(try nonZero(try ctx.tensor(0)))] },
        OpSchema("Compress", versions: [9, 11, 28]) { ctx in [.tensor(try compress(ctx))] },
        OpSchema("ReverseSequence", versions: [10, 28]) { ctx in [.tensor(try reverseSequence(ctx))] },
        OpSchema("Unique", versions: [11, 28]) { ctx in try unique(ctx).map { .tensor($0) } },
    ]

    // MARK: Reshape family (no copies)

    /// Reshape: `0` copies the input dim at that position (unless `allowzero`), `-1` is
    /// inferred from the element count.
    static func reshape(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let requested: [Int]
        if ctx.opset < 5 {
            guard let s = ctx.ints("shape") else { throw OpError.invalid("attribute 'shape' is required") }
            requested = s
        } else {
            requested = try Movement.integers(ctx.tensor(1), "input 1 (shape)")
        }
        let allowZero = ctx.opset >= 14 && ctx.int("allowzero", default: 0) != 0
        var dims = requested
        var inferred: Int? = nil
        for (i, d) in requested.enumerated() {
            if d == -1 {
                guard inferred == nil else { throw OpError.invalid("shape \(requested) has more than one -1") }
                inferred = i
            } else if d == 0 && !allowZero {
                guard i < x.dims.count else {
                    throw OpError.invalid("shape \(requested) copies dim \(i) (0) but the input has rank \(x.dims.count)")
                }
                dims[i] = x.dims[i]
            } else if d < 0 {
                throw OpError.invalid("shape \(requested) has a negative dim \(d)")
            }
        }
        guard let total = x.elementCount else { throw OpError.invalid("input 0 has an invalid shape \(x.dims)") }
        if let k = inferred {
            var known = 1
            for (i, d) in dims.enumerated() where i != k {
                let (p, o) = known.multipliedReportingOverflow(by: d)
                guard !o else { throw OpError.invalid("shape \(requested) overflows") }
                known = p
            }
            guard known != 0, total % known == 0 else {
                throw OpError.invalid("cannot reshape \(x.dims) (\(total) elements) to \(requested)")
            }
            dims[k] = total / known
        }
        guard Shape.elementCount(of: dims) == total else {
            throw OpError.invalid("cannot reshape \(x.dims) (\(total) elements) to \(requested) (resolved \(dims))")
        }
        return x.reshaped(dims)
    }

    /// The axes of Squeeze/Unsqueeze: an attribute before opset 13, input 1 from then on.
    static func axesOperand(_ ctx: KernelContext) throws -> [Int]? {
        if ctx.opset < 13 { return ctx.ints("axes") }
        guard let t = ctx.optionalTensor(1) else { return nil }
        return try Movement.integers(t, "input 1 (axes)")
    }

    static func squeeze(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let r = x.dims.count
        guard let axes = try axesOperand(ctx), !axes.isEmpty else { return x.reshaped(x.dims.filter { $0 != 1 }) }
        var drop = Set<Int>()
        for a in axes {
            let axis = try Movement.axis(a, rank: r, what: "axes \(axes)")
            guard x.dims[axis] == 1 else {
                throw OpError.invalid("cannot squeeze axis \(a): input dim is \(x.dims[axis]) in \(x.dims)")
            }
            drop.insert(axis)
        }
        return x.reshaped(x.dims.enumerated().filter { !drop.contains($0.offset) }.map(\.element))
    }

    static func unsqueeze(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard let axes = try axesOperand(ctx) else { throw OpError.invalid("Unsqueeze needs 'axes'") }
        let outRank = x.dims.count + axes.count
        var inserted = [Bool](repeating: false, count: outRank)
        for a in axes {
            let axis = try Movement.axis(a, rank: outRank, what: "axes \(axes)")
            guard !inserted[axis] else { throw OpError.invalid("axes \(axes) repeat axis \(axis)") }
            inserted[axis] = true
        }
        var dims: [Int] = []
        var next = x.dims.makeIterator()
        for i in 0..<outRank { dims.append(inserted[i] ? 1 : (next.next() ?? 1)) }
        return x.reshaped(dims)
    }

    // MARK: Concat, Split, Tile

    static func concat(_ ctx: KernelContext) throws -> Tensor {
        let xs = try (0..<ctx.inputCount).map { try ctx.tensor($0) }
        guard let first = xs.first else { throw OpError.invalid("Concat needs at least one input") }
        let r = first.dims.count
        guard r > 0 else { throw OpError.invalid("Concat inputs must have rank >= 1, input 0 is a scalar") }
        let axisAttr = ctx.opset < 4 ? ctx.int("axis", default: 1) : ctx.int("axis")
        guard let axisAttr else { throw OpError.invalid("attribute 'axis' is required") }
        let axis = try Movement.axis(axisAttr, rank: r, what: "attribute 'axis'")
        var outDims = first.dims
        outDims[axis] = 0
        for (i, x) in xs.enumerated() {
            guard x.dtype == first.dtype else { throw OpError.invalid("input \(i) is \(x.dtype), input 0 is \(first.dtype)") }
            guard x.dims.count == r, zip(x.dims, first.dims).enumerated().allSatisfy({ $0.offset == axis || $0.element.0 == $0.element.1 }) else {
                throw OpError.invalid("input \(i) has shape \(x.dims), incompatible with input 0 \(first.dims) for axis \(axis)")
            }
            outDims[axis] += x.dims[axis]
        }
        if xs.count == 1 { return first }
        let outer = first.dims[..<axis].reduce(1, *)
        let inner = first.dims[(axis + 1)...].reduce(1, *)
        let rows = xs.map { $0.dims[axis] * inner }
        return try Movement.map(xs, dtype: first.dtype, dims: outDims, ConcatMover(outer: outer, rows: rows))
    }

    struct ConcatMover: ElementMover {
        var writesEveryElement: Bool { true }
        let outer: Int
        /// Elements each input contributes per outer index.
        let rows: [Int]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard var out = dst.baseAddress else { return }
            for o in 0..<outer {
                for (k, n) in rows.enumerated() where n > 0 {
                    guard let base = src[k].baseAddress else { continue }
                    out.update(from: base + o * n, count: n)
                    out += n
                }
            }
        }
    }

    static func split(_ ctx: KernelContext) throws -> [Tensor] {
        let x = try ctx.tensor(0)
        let r = x.dims.count
        let axis = try Movement.axis(ctx.int("axis", default: 0), rank: r, what: "attribute 'axis'")
        let d = x.dims[axis]
        var sizes: [Int]?
        if ctx.opset >= 13 {
            sizes = try ctx.optionalTensor(1).map { try Movement.integers($0, "input 1 (split)") }
        } else {
            sizes = ctx.ints("split")
            if sizes == nil, ctx.opset < 2, let t = ctx.optionalTensor(1) { sizes = try Movement.integers(t, "input 1 (split)") }
        }
        if let s = sizes, s.isEmpty { sizes = nil }
        let n: Int
        if let s = sizes {
            n = s.count
            guard s.allSatisfy({ $0 >= 0 && $0 <= d }), s.reduce(0, &+) == d else {
                throw OpError.invalid("split sizes \(s) do not sum to dim \(d) of axis \(axis) in \(x.dims)")
            }
        } else {
            let numOutputs = ctx.opset >= 18 ? ctx.int("num_outputs") : nil
            n = numOutputs ?? ctx.outputCount
            guard n > 0 else { throw OpError.invalid("Split needs at least one output") }
            if d % n == 0 {
                sizes = Array(repeating: d / n, count: n)
            } else {
                guard ctx.opset >= 18 else {
                    throw OpError.invalid("dim \(d) of axis \(axis) does not split evenly into \(n) outputs")
                }
                let chunk = d / n + 1
                let last = d - chunk * (n - 1)
                guard last >= 0 else { throw OpError.invalid("dim \(d) cannot be split into \(n) chunks of \(chunk)") }
                sizes = Array(repeating: chunk, count: n - 1) + [last]
            }
        }
        guard let sizes else { return [] }
        var outputs: [Tensor] = []
        var start = 0
        for s in sizes {
            var starts = [Int](repeating: 0, count: r), shape = x.dims
            starts[axis] = start
            shape[axis] = s
            outputs.append(try Movement.window(x, starts: starts, steps: [Int](repeating: 1, count: r), shape: shape))
            start += s
        }
        return outputs
    }

    static func tile(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let r = x.dims.count
        var repeats: [Int]
        if ctx.opset < 6 {
            let tiles = try Movement.integers(ctx.tensor(1), "input 1 (tiles)")
            let axisValue = try Movement.integers(ctx.tensor(2), "input 2 (axis)")
            guard tiles.count == 1, axisValue.count == 1 else { throw OpError.invalid("tiles and axis must be scalars") }
            repeats = [Int](repeating: 1, count: r)
            repeats[try Movement.axis(axisValue[0], rank: r, what: "input 2 (axis)")] = tiles[0]
        } else {
            repeats = try Movement.integers(ctx.tensor(1), "input 1 (repeats)")
        }
        guard repeats.count == r else { throw OpError.invalid("repeats \(repeats) must have one entry per input dim \(x.dims)") }
        guard repeats.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("repeats \(repeats) must be non-negative") }
        guard Shape.elementCount(of: x.dims + repeats) != nil else { throw OpError.invalid("repeats \(repeats) of \(x.dims) overflow") }
        // View the output as [r0, d0, r1, d1, ...] and broadcast the input along the r's.
        var shape: [Int] = [], strides: [Int] = []
        let inStrides = Movement.strides(x.dims)
        for i in 0..<r {
            shape += [repeats[i], x.dims[i]]
            strides += [0, inStrides[i]]
        }
        let outDims = (0..<r).map { x.dims[$0] * repeats[$0] }
        return try Movement.strided(x, offset: 0, strides: strides, shape: shape, outDims: outDims)
    }

    // MARK: DepthToSpace, SpaceToDepth

    static func blockOperands(_ ctx: KernelContext, _ x: Tensor) throws -> (b: Int, c: Int, h: Int, w: Int, bs: Int, crd: Bool) {
        guard x.dims.count == 4 else { throw OpError.invalid("input 0 must be 4-D (N,C,H,W), got \(x.dims)") }
        guard let bs = ctx.int("blocksize"), bs > 0, bs <= 1 << 20 else {
            throw OpError.invalid("attribute 'blocksize' must be a positive integer of sane size, got \(ctx.int("blocksize").map(String.init) ?? "none")")
        }
        let mode = ctx.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else { throw OpError.invalid("attribute 'mode' must be DCR or CRD, got '\(mode)'") }
        return (x.dims[0], x.dims[1], x.dims[2], x.dims[3], bs, mode == "CRD")
    }

    static func depthToSpace(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let (b, c, h, w, bs, crd) = try blockOperands(ctx, x)
        guard c % (bs * bs) == 0 else { throw OpError.invalid("channels \(c) are not divisible by blocksize^2 = \(bs * bs)") }
        let oc = c / (bs * bs)
        let y = crd ? try Movement.transpose(x.reshaped([b, oc, bs, bs, h, w]), perm: [0, 1, 4, 2, 5, 3])
                    : try Movement.transpose(x.reshaped([b, bs, bs, oc, h, w]), perm: [0, 3, 4, 1, 5, 2])
        return y.reshaped([b, oc, h * bs, w * bs])
    }

    static func spaceToDepth(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let (b, c, h, w, bs, crd) = try blockOperands(ctx, x)
        guard h % bs == 0, w % bs == 0 else { throw OpError.invalid("spatial dims \(h)x\(w) are not divisible by blocksize \(bs)") }
        let v = x.reshaped([b, c, h / bs, bs, w / bs, bs])
        let y = try Movement.transpose(v, perm: crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4])
        return y.reshaped([b, c * bs * bs, h / bs, w / bs])
    }

    // MARK: Trilu

    static func trilu(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard x.dims.count >= 2 else { throw OpError.invalid("input 0 must have rank >= 2, got \(x.dims)") }
        var k = 0
        if let kt = ctx.optionalTensor(1) {
            let v = try Movement.integers(kt, "input 1 (k)")
            guard v.count == 1 else { throw OpError.invalid("input 1 (k) must be a scalar, got \(v.count) values") }
            k = v[0]
        }
        let rows = x.dims[x.dims.count - 2], cols = x.dims[x.dims.count - 1]
        k = min(max(k, -rows - 1), cols + 1)  // beyond the matrix every k acts alike
        return try Movement.map([x], dtype: x.dtype, dims: x.dims,
                                TriluMover(rows: rows, cols: cols, k: k, upper: ctx.int("upper", default: 1) != 0))
    }

    struct TriluMover: ElementMover {
        let rows: Int, cols: Int, k: Int, upper: Bool
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            let s = src[0]
            let plane = rows * cols
            guard plane > 0 else { return }
            for base in stride(from: 0, to: dst.count, by: plane) {
                for i in 0..<rows {
                    // Keep j - i >= k (upper) or j - i <= k (lower); the rest stays zero.
                    let lo = upper ? min(max(i + k, 0), cols) : 0
                    let hi = upper ? cols : min(max(i + k + 1, 0), cols)
                    let row = base + i * cols
                    for j in lo..<hi { dst[row + j] = s[row + j] }
                }
            }
        }
    }

    // MARK: OneHot

    static func oneHot(_ ctx: KernelContext) throws -> Tensor {
        let indices = try ctx.tensor(0), depthT = try ctx.tensor(1), values = try ctx.tensor(2)
        let depthValues = try Movement.doubles(depthT, "input 1 (depth)")
        guard depthValues.count == 1, let depthD = depthValues.first, depthD.isFinite, abs(depthD) <= Double(Movement.maxElements) else {
            throw OpError.invalid("input 1 (depth) must hold one value of reasonable size, got \(depthValues)")
        }
        let depth = Int(depthD)
        guard depth >= 0 else { throw OpError.invalid("input 1 (depth) must be non-negative, got \(depth)") }
        guard values.elementCount == 2 else { throw OpError.invalid("input 2 (values) must hold [off, on], got shape \(values.dims)") }
        let r = indices.dims.count
        let axis = try Movement.axis(ctx.int("axis", default: -1), rank: r + 1, what: "attribute 'axis'")
        let idx = try Movement.doubles(indices, "input 0 (indices)")
        var outDims = indices.dims
        outDims.insert(depth, at: axis)
        let outer = indices.dims[..<axis].reduce(1, *), inner = indices.dims[axis...].reduce(1, *)
        // hot[o, j, i] is on where idx[o, i] (negative wrapped) == j.
        var hot = [Int](repeating: -1, count: idx.count)
        for (n, v) in idx.enumerated() {
            let w = v < 0 ? v + Double(depth) : v
            if w >= 0, w < Double(depth), w == w.rounded(.towardZero) { hot[n] = Int(w) }
        }
        return try Movement.map([values.reshaped([2])], dtype: values.dtype, dims: outDims,
                                OneHotMover(outer: outer, depth: depth, inner: inner, hot: hot))
    }

    struct OneHotMover: ElementMover {
        var writesEveryElement: Bool { true }
        let outer: Int, depth: Int, inner: Int
        let hot: [Int]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            let on = src[0][1]
            dst.update(repeating: src[0][0])
            for o in 0..<outer {
                for i in 0..<inner {
                    let j = hot[o * inner + i]
                    if j >= 0 { dst[(o * depth + j) * inner + i] = on }
                }
            }
        }
    }

    // MARK: NonZero

    static func nonZero(_ x: Tensor) throws -> Tensor {
        let flags = try Movement.nonZeroFlags(x)
        let positions = flags.indices.filter { flags[$0] }
        let r = x.dims.count
        if r == 0 { return Tensor.make(Int64.self, dims: [0, positions.count]) { _ in } }
        let strides = Movement.strides(x.dims)
        let nnz = positions.count
        return Tensor.make(Int64.self, dims: [r, nnz]) { out in
            for (n, p) in positions.enumerated() {
                var rem = p
                for a in 0..<r {
                    out[a * nnz + n] = Int64(rem / strides[a])
                    rem %= strides[a]
                }
            }
        }
    }

    // MARK: Compress

    static func compress(_ ctx: KernelContext) throws -> Tensor {
        var x = try ctx.tensor(0)
        let cond = try ctx.tensor(1)
        guard cond.dtype == .bool else { throw OpError.invalid("input 1 (condition) must be bool, got \(cond.dtype)") }
        guard cond.dims.count == 1 else { throw OpError.invalid("input 1 (condition) must be 1-D, got \(cond.dims)") }
        var axis = 0
        if let a = ctx.int("axis") {
            axis = try Movement.axis(a, rank: x.dims.count, what: "attribute 'axis'")
        } else {
            x = x.reshaped([x.elementCount ?? 0])
        }
        let d = x.dims[axis]
        let flags = cond.elements(Bool.self)
        var keep: [Int] = []
        for (i, f) in flags.enumerated() where f {
            guard i < d else { throw OpError.invalid("condition selects index \(i) but axis \(axis) has size \(d)") }
            keep.append(i)
        }
        return try Movement.take(x, axis: axis, indices: keep, indexDims: [keep.count])
    }

    // MARK: ReverseSequence

    static func reverseSequence(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let lens = try Movement.integers(ctx.tensor(1), "input 1 (sequence_lens)")
        guard x.dims.count >= 2 else { throw OpError.invalid("input 0 must have rank >= 2, got \(x.dims)") }
        let batchAxis = ctx.int("batch_axis", default: 1), timeAxis = ctx.int("time_axis", default: 0)
        guard (batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0) else {
            throw OpError.invalid("batch_axis \(batchAxis) and time_axis \(timeAxis) must be 0 and 1 in some order")
        }
        let batch = x.dims[batchAxis], time = x.dims[timeAxis]
        guard lens.count == batch else { throw OpError.invalid("sequence_lens has \(lens.count) entries, batch is \(batch)") }
        if let bad = lens.first(where: { $0 < 0 || $0 > time }) {
            throw OpError.invalid("sequence length \(bad) is outside [0, \(time)]")
        }
        let inner = x.dims[2...].reduce(1, *)
        return try Movement.map([x], dtype: x.dtype, dims: x.dims,
                                ReverseSequenceMover(batchMajor: batchAxis == 0, batch: batch, time: time, inner: inner, lens: lens))
    }

    struct ReverseSequenceMover: ElementMover {
        var writesEveryElement: Bool { true }
        let batchMajor: Bool
        let batch: Int, time: Int, inner: Int
        let lens: [Int]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let s = src[0].baseAddress, let d = dst.baseAddress, inner > 0 else { return }
            for b in 0..<batch {
                for t in 0..<time {
                    let from = t < lens[b] ? lens[b] - 1 - t : t
                    let dstRow = batchMajor ? (b * time + t) : (t * batch + b)
                    let srcRow = batchMajor ? (b * time + from) : (from * batch + b)
                    (d + dstRow * inner).update(from: s + srcRow * inner, count: inner)
                }
            }
        }
    }

    // MARK: Unique

    static func unique(_ ctx: KernelContext) throws -> [Tensor] {
        var x = try ctx.tensor(0)
        let sorted = ctx.int("sorted", default: 1) != 0
        var axis = 0
        if let a = ctx.int("axis") {
            axis = try Movement.axis(a, rank: x.dims.count, what: "attribute 'axis'")
        } else {
            x = x.reshaped([x.elementCount ?? 0])
        }
        let n = x.dims[axis]
        let inner = x.dims[(axis + 1)...].reduce(1, *)
        let outer = x.dims[..<axis].reduce(1, *)
        // Slice k of the axis is the elements (o, k, i): compare slices lexicographically.
        let keys = try Movement.sortKeys(x)
        func less(_ a: Int, _ b: Int) -> Bool {
            for o in 0..<outer {
                for i in 0..<inner {
                    let u = keys[(o * n + a) * inner + i], v = keys[(o * n + b) * inner + i]
                    if u != v { return u < v }
                }
            }
            return false
        }
        func equal(_ a: Int, _ b: Int) -> Bool { !less(a, b) && !less(b, a) }
        // Stable order by value, ties by position: the first of each run is the first occurrence.
        let order = (0..<n).sorted { less($0, $1) || (!less($1, $0) && $0 < $1) }
        var groups: [(first: Int, count: Int)] = []
        var groupOf = [Int](repeating: 0, count: n)
        for (pos, k) in order.enumerated() {
            if pos == 0 || !equal(order[pos - 1], k) { groups.append((k, 0)) }
            groups[groups.count - 1].count += 1
            groupOf[k] = groups.count - 1
        }
        var rank = Array(0..<groups.count)  // output position of each group
        if !sorted {
            let byFirst = groups.indices.sorted { groups[$0].first < groups[$1].first }
            for (p, g) in byFirst.enumerated() { rank[g] = p }
        }
        var firsts = [Int](repeating: 0, count: groups.count), counts = firsts
        for (g, group) in groups.enumerated() {
            firsts[rank[g]] = group.first
            counts[rank[g]] = group.count
        }
        let y = try Movement.take(x, axis: axis, indices: firsts, indexDims: [firsts.count])
        return [y, Tensor.of(firsts.map { Int64($0) }), Tensor.of((0..<n).map { Int64(rank[groupOf[$0]]) }),
                Tensor.of(counts.map { Int64($0) })]
    }
}
