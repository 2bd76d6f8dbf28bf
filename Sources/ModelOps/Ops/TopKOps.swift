import ModelIR

/// TopK (opset 1: `k` attribute; 10: `K` input; 11: `largest`, `sorted`; 24): the `K`
/// largest (or smallest) elements along `axis` (default -1) and their int64 indices, in
/// sorted order (also when `sorted` = 0, which leaves the order open). Ties go to the lower
/// index; NaN ranks above every number (NumPy's sort order), so it comes first for
/// `largest` and last otherwise.
enum TopKOps {
    static let schemas: [OpSchema] = [
        OpSchema("TopK", versions: [1, 10, 11, 24]) { ctx in
            var x = try ctx.tensor(0)
            let k: Int
            if ctx.opset < 10 {
                guard let v = ctx.int("k") else { throw OpError.invalid("attribute 'k' is required") }
                k = v
            } else {
                let t = try ctx.tensor(1)
                guard let v = t.integers(), v.count == 1 else {
                    throw OpError.invalid("input 'K' must hold one integer, got \(t.dtype)\(Shape(t.dims))")
                }
                k = v[0]
            }
            let rank = x.dims.count
            let given = ctx.int("axis", default: -1)
            guard rank > 0, given >= -rank, given < rank else {
                throw OpError.invalid("attribute 'axis' \(given) is out of range for rank \(rank)")
            }
            let axis = given < 0 ? given + rank : given
            let n = x.dims[axis]
            guard k >= 0, k <= n else { throw OpError.invalid("K = \(k) is outside [0, \(n)] (axis \(axis) of \(Shape(x.dims)))") }
            let largest = ctx.opset < 11 || ctx.int("largest", default: 1) != 0
            let originalType = x.dtype
            if x.dtype == .bfloat16 { x = try CastOps.cast(x, to: .float32, saturate: true, threads: ctx.threads) }
            var outDims = x.dims
            outDims[axis] = k
            let visitor = TopKVisitor(x: x, outer: x.dims[..<axis].reduce(1, *), n: n, inner: x.dims[(axis + 1)...].reduce(1, *),
                                      k: k, largest: largest, outDims: outDims)
            guard var (values, indices) = try x.dtype.visitNumeric(visitor) else {
                throw OpError.unsupported("input X is \(x.dtype); expected a numeric type")
            }
            if originalType == .bfloat16 { values = try CastOps.cast(values, to: .bfloat16, saturate: true, threads: ctx.threads) }
            return [.tensor(values), .tensor(indices)]
        },
    ]

    struct TopKVisitor: NumericVisitor {
        let x: Tensor
        let outer: Int, n: Int, inner: Int, k: Int
        let largest: Bool
        let outDims: [Int]

        func visit<T: NumericElement>(_: T.Type) throws -> (Tensor, Tensor) {
            var indices = Tensor.make(Int64.self, dims: outDims) { _ in }
            let values = x.withElements(T.self) { src in
                Tensor.make(T.self, dims: outDims) { vout in
                    indices = Tensor.make(Int64.self, dims: outDims) { iout in
                        var order = [Int](repeating: 0, count: n)
                        var line = [T](repeating: T.zero, count: n)
                        for o in 0..<outer {
                            for i in 0..<inner {
                                for j in 0..<n { line[j] = src[(o * n + j) * inner + i]; order[j] = j }
                                // x != x: NaN, above every number.
                                let before: (Int, Int) -> Bool = largest
                                    ? { a, b in
                                        let u = line[a], v = line[b]
                                        if u != u { return v == v || a < b }
                                        if v != v { return false }
                                        return u > v || (u == v && a < b)
                                    }
                                    : { a, b in
                                        let u = line[a], v = line[b]
                                        if v != v { return u == u || a < b }
                                        if u != u { return false }
                                        return u < v || (u == v && a < b)
                                    }
                                if k < n / 8 {
                                    partialSort(&order, k, by: before)
                                } else {
                                    order.sort(by: before)
                                }
                                for j in 0..<k {
                                    let at = (o * k + j) * inner + i
                                    vout[at] = line[order[j]]
                                    iout[at] = Int64(order[j])
                                }
                            }
                        }
                    }
                }
            }
            return (values, indices)
        }
    }

    /// Puts the `k` first elements of `order` under `before` at its front, sorted: a max-heap
    /// of the best `k` seen so far (O(n log k)).
    static func partialSort(_ order: inout [Int], _ k: Int, by before: (Int, Int) -> Bool) {
        guard k > 0 else { return }
        var heap = Array(order[0..<k])
        // The heap's root is the worst of the kept elements.
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var worst = i
                if l < heap.count && before(heap[worst], heap[l]) { worst = l }
                if r < heap.count && before(heap[worst], heap[r]) { worst = r }
                if worst == i { return }
                heap.swapAt(i, worst)
                i = worst
            }
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i) }
        for j in k..<order.count where before(order[j], heap[0]) {
            heap[0] = order[j]
            siftDown(0)
        }
        heap.sort(by: before)
        for j in 0..<k { order[j] = heap[j] }
    }
}
