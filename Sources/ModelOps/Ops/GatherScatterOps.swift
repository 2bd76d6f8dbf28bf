import ModelIR

/// Gather, GatherElements, GatherND, ScatterND, ScatterElements and the deprecated Scatter
/// (opset 9-10, ScatterElements without reduction). Indices may be negative (counted from
/// the end of their axis); an index out of range throws naming it. Scatter reductions
/// (add, mul from opset 16; max, min from 18) apply in index order, like the reference.
enum GatherScatterOps {
    static let schemas: [OpSchema] = [
        OpSchema("Gather", versions: [1, 11, 13]) { ctx in
            let data = try ctx.tensor(0), indices = try ctx.tensor(1)
            guard data.dims.count >= 1 else { throw OpError.invalid("input 0 (data) must have rank >= 1") }
            let axis = try Movement.axis(ctx.int("axis", default: 0), rank: data.dims.count, what: "attribute 'axis'")
            let idx = try Movement.indices(indices, size: data.dims[axis], "input 1 (indices)")
            return [.tensor(try Movement.take(data, axis: axis, indices: idx, indexDims: indices.dims))]
        },
        OpSchema("GatherElements", versions: [11, 13]) { ctx in
            let data = try ctx.tensor(0), indices = try ctx.tensor(1)
            let axis = try Movement.axis(ctx.int("axis", default: 0), rank: data.dims.count, what: "attribute 'axis'")
            let offsets = try elementOffsets(data.dims, indices, axis: axis)
            return [.tensor(try Movement.map([data], dtype: data.dtype, dims: indices.dims, BlockGatherMover(offsets: offsets, block: 1)))]
        },
        OpSchema("GatherND", versions: [11, 12, 13]) { ctx in [.tensor(try gatherND(ctx))] },
        OpSchema("ScatterND", versions: [11, 13, 16, 18]) { ctx in
            let data = try ctx.tensor(0), indices = try ctx.tensor(1), updates = try ctx.tensor(2)
            let (offsets, block, updateDims) = try ndOffsets(data.dims, indices, batchDims: 0)
            guard updates.dims == updateDims else {
                throw OpError.invalid("input 2 (updates) has shape \(updates.dims), expected \(updateDims)")
            }
            return [.tensor(try scatter(data, updates, offsets: offsets, block: block, reduction: reduction(ctx)))]
        },
        OpSchema("ScatterElements", versions: [11, 13, 16, 18]) { ctx in [.tensor(try scatterElements(ctx))] },
        OpSchema("Scatter", versions: [9, 11]) { ctx in [.tensor(try scatterElements(ctx))] },
        OpSchema("TensorScatter", versions: [24]) { ctx in [.tensor(try tensorScatter(ctx))] },
    ]

    /// TensorScatter (a KV-cache update): for every index prefix before `axis` (whose first
    /// coordinate is the batch b), update's slices 0..<L along `axis` are written at
    /// write_indices[b] + 0..<L of the cache (modulo its length in "circular" mode).
    static func tensorScatter(_ ctx: KernelContext) throws -> Tensor {
        let cache = try ctx.tensor(0), update = try ctx.tensor(1)
        let r = cache.dims.count
        let axis = try Movement.axis(ctx.int("axis", default: -2), rank: r, what: "attribute 'axis'")
        guard axis >= 1 else { throw OpError.invalid("attribute 'axis' must not be the batch axis 0") }
        let mode = ctx.string("mode", default: "linear")
        guard mode == "linear" || mode == "circular" else { throw OpError.invalid("attribute 'mode' must be linear or circular, got '\(mode)'") }
        guard update.dims.count == r, (0..<r).allSatisfy({ $0 == axis ? update.dims[$0] <= cache.dims[$0] : update.dims[$0] == cache.dims[$0] }) else {
            throw OpError.invalid("input 1 (update) shape \(update.dims) does not fit cache \(cache.dims) along axis \(axis)")
        }
        let batch = cache.dims[0], maxLength = cache.dims[axis], length = update.dims[axis]
        let writes = try ctx.optionalTensor(2).map { try Movement.integers($0, "input 2 (write_indices)") } ?? [Int](repeating: 0, count: batch)
        guard writes.count == batch else { throw OpError.invalid("input 2 (write_indices) has \(writes.count) entries, batch is \(batch)") }
        let inner = cache.dims[(axis + 1)...].reduce(1, *)
        let prefixes = cache.dims[..<axis].reduce(1, *)
        let perBatch = batch > 0 ? prefixes / batch : 0
        var offsets: [Int] = []
        offsets.reserveCapacity(prefixes * length)
        for p in 0..<prefixes {
            let start = writes[p / perBatch]
            for s in 0..<length {
                var k = start + s
                if mode == "circular" { k = ((k % maxLength) + maxLength) % maxLength }
                guard k >= 0 && k < maxLength else {
                    throw OpError.invalid("write index \(start) + \(s) is outside the cache length \(maxLength)")
                }
                offsets.append((p * maxLength + k) * inner)
            }
        }
        return try scatter(cache, update, offsets: offsets, block: inner, reduction: .none)
    }

    // MARK: Gather

    static func gatherND(_ ctx: KernelContext) throws -> Tensor {
        let data = try ctx.tensor(0), indices = try ctx.tensor(1)
        let b = ctx.opset >= 12 ? ctx.int("batch_dims", default: 0) : 0
        let (offsets, block, outDims) = try ndOffsets(data.dims, indices, batchDims: b)
        return try Movement.map([data], dtype: data.dtype, dims: outDims, BlockGatherMover(offsets: offsets, block: block))
    }

    /// For GatherND/ScatterND: the data offset of each indexed slice, the slice size, and the
    /// gathered shape (batch dims + indices.dims[b..<q-1] + data.dims[b+k...]).
    static func ndOffsets(_ dataDims: [Int], _ indices: Tensor, batchDims b: Int) throws -> (offsets: [Int], block: Int, dims: [Int]) {
        let r = dataDims.count, q = indices.dims.count
        guard q >= 1, r >= 1 else { throw OpError.invalid("data and indices must have rank >= 1, got \(dataDims) and \(indices.dims)") }
        guard b >= 0, b < min(q, r) else { throw OpError.invalid("batch_dims \(b) must be less than both ranks (\(r), \(q))") }
        guard Array(indices.dims[..<b]) == Array(dataDims[..<b]) else {
            throw OpError.invalid("the first \(b) dims of indices \(indices.dims) and data \(dataDims) differ")
        }
        let k = indices.dims[q - 1]
        guard k >= 1, k <= r - b else { throw OpError.invalid("indices last dim \(k) must be in 1...\(r - b) for data \(dataDims)") }
        let idx = try Movement.integers(indices, "input 1 (indices)")
        let strides = Movement.strides(dataDims)
        let block = dataDims[(b + k)...].reduce(1, *)
        let batches = dataDims[..<b].reduce(1, *)
        let batchStride = b > 0 ? strides[b - 1] : 0
        let rows = idx.count / k
        let perBatch = batches > 0 ? rows / batches : 0
        var offsets = [Int](repeating: 0, count: rows)
        for row in 0..<rows {
            var off = perBatch > 0 ? (row / perBatch) * batchStride : 0
            for l in 0..<k {
                let n = dataDims[b + l]
                var v = idx[row * k + l]
                if v < 0 { v += n }
                guard v >= 0 && v < n else {
                    throw OpError.invalid("input 1 (indices): index \(idx[row * k + l]) is out of range for dim \(b + l) of size \(n)")
                }
                off += v * strides[b + l]
            }
            offsets[row] = off
        }
        return (offsets, block, Array(indices.dims.dropLast()) + Array(dataDims[(b + k)...]))
    }

    /// For GatherElements/ScatterElements: the data offset of each element of `indices`
    /// (whose dims may not exceed data's except along `axis`).
    static func elementOffsets(_ dataDims: [Int], _ indices: Tensor, axis: Int) throws -> [Int] {
        let r = dataDims.count
        guard indices.dims.count == r else { throw OpError.invalid("indices rank \(indices.dims.count) must equal data rank \(r)") }
        for a in 0..<r where a != axis && indices.dims[a] > dataDims[a] {
            throw OpError.invalid("indices shape \(indices.dims) exceeds data shape \(dataDims) at dim \(a)")
        }
        let idx = try Movement.integers(indices, "input 1 (indices)")
        let strides = Movement.strides(dataDims)
        let n = dataDims[axis], axisStride = strides[axis]
        var offsets = [Int](repeating: 0, count: idx.count)
        var position = [Int](repeating: 0, count: r)
        var base = 0  // offset of `position` without its axis coordinate
        for i in 0..<idx.count {
            var v = idx[i]
            if v < 0 { v += n }
            guard v >= 0 && v < n else { throw OpError.invalid("input 1 (indices): index \(idx[i]) is out of range for axis \(axis) of size \(n)") }
            offsets[i] = base + v * axisStride
            var a = r - 1
            while a >= 0 {
                position[a] += 1
                if a != axis { base += strides[a] }
                if position[a] < indices.dims[a] { break }
                if a != axis { base -= strides[a] * position[a] }
                position[a] = 0
                a -= 1
            }
        }
        return offsets
    }

    /// Output block i is data[offsets[i] ..< offsets[i] + block].
    struct BlockGatherMover: ElementMover {
        var writesEveryElement: Bool { true }
        let offsets: [Int]
        let block: Int
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let s = src[0].baseAddress, var d = dst.baseAddress, block > 0 else { return }
            if block == 1 {
                for off in offsets { d.pointee = s[off]; d += 1 }
                return
            }
            for off in offsets {
                d.update(from: s + off, count: block)
                d += block
            }
        }
    }

    // MARK: Scatter

    enum Reduction: String { case none, add, mul, max, min }

    static func reduction(_ ctx: KernelContext) throws -> Reduction {
        let name = ctx.opset >= 16 ? ctx.string("reduction", default: "none") : "none"
        guard let r = Reduction(rawValue: name), ctx.opset >= 18 || (r != .max && r != .min) else {
            throw OpError.invalid("attribute 'reduction' '\(name)' is not supported at opset \(ctx.opset)")
        }
        return r
    }

    static func scatterElements(_ ctx: KernelContext) throws -> Tensor {
        let data = try ctx.tensor(0), indices = try ctx.tensor(1), updates = try ctx.tensor(2)
        let axis = try Movement.axis(ctx.int("axis", default: 0), rank: data.dims.count, what: "attribute 'axis'")
        guard updates.dims == indices.dims else {
            throw OpError.invalid("input 2 (updates) has shape \(updates.dims), indices have \(indices.dims)")
        }
        let offsets = try elementOffsets(data.dims, indices, axis: axis)
        return try scatter(data, updates, offsets: offsets, block: 1, reduction: ctx.node.opType == "Scatter" ? .none : reduction(ctx))
    }

    /// A copy of `data` where block i at offsets[i] is combined with updates block i.
    static func scatter(_ data: Tensor, _ updates: Tensor, offsets: [Int], block: Int, reduction: Reduction) throws -> Tensor {
        guard updates.dtype == data.dtype else { throw OpError.invalid("updates are \(updates.dtype), data is \(data.dtype)") }
        if reduction == .none {
            return try Movement.map([data, updates], dtype: data.dtype, dims: data.dims, ScatterMover(offsets: offsets, block: block))
        }
        let visitor = ReduceVisitor(data: data, updates: updates, offsets: offsets, block: block, reduction: reduction)
        if data.dtype == .bool {
            // NumPy's bool arithmetic: add and max are or, mul and min are and.
            let or = reduction == .add || reduction == .max
            return Tensor.make(Bool.self, dims: data.dims) { out in
                data.withElements(Bool.self) { d in _ = out.initialize(from: d) }
                updates.withElements(Bool.self) { u in
                    for (i, off) in offsets.enumerated() {
                        for j in 0..<block { out[off + j] = or ? (out[off + j] || u[i * block + j]) : (out[off + j] && u[i * block + j]) }
                    }
                }
            }
        }
        if let t = try data.dtype.visitFloat(visitor) { return t }
        if let t = try data.dtype.visitInteger(IntegerReduceVisitor(base: visitor)) { return t }
        throw OpError.unsupported("scatter reduction '\(reduction.rawValue)' on \(data.dtype)")
    }

    struct ScatterMover: ElementMover {
        var writesEveryElement: Bool { true }
        let offsets: [Int]
        let block: Int
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let d = dst.baseAddress, let data = src[0].baseAddress else { return }
            d.update(from: data, count: dst.count)
            guard let u = src[1].baseAddress, block > 0 else { return }
            for (i, off) in offsets.enumerated() { (d + off).update(from: u + i * block, count: block) }
        }
    }

    struct ReduceVisitor: FloatVisitor {
        let data: Tensor, updates: Tensor
        let offsets: [Int]
        let block: Int
        let reduction: Reduction

        func visit<T: FloatElement>(_: T.Type) throws -> Tensor {
            switch reduction {
            case .add: return apply(T.self) { $0 + $1 }
            case .mul: return apply(T.self) { $0 * $1 }
            case .max: return apply(T.self) { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
            case .min: return apply(T.self) { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
            case .none: return apply(T.self) { $1 }
            }
        }

        func apply<T: NumericElement>(_: T.Type, _ combine: (T, T) -> T) -> Tensor {
            Tensor.make(T.self, dims: data.dims) { out in
                data.withElements(T.self) { d in _ = out.initialize(from: d) }
                updates.withElements(T.self) { u in
                    for (i, off) in offsets.enumerated() {
                        for j in 0..<block { out[off + j] = combine(out[off + j], u[i * block + j]) }
                    }
                }
            }
        }
    }

    struct IntegerReduceVisitor: IntegerVisitor {
        let base: ReduceVisitor
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            switch base.reduction {
            case .add: return base.apply(T.self) { $0 &+ $1 }
            case .mul: return base.apply(T.self) { $0 &* $1 }
            case .max: return base.apply(T.self) { Swift.max($0, $1) }
            case .min: return base.apply(T.self) { Swift.min($0, $1) }
            case .none: return base.apply(T.self) { $1 }
            }
        }
    }
}
