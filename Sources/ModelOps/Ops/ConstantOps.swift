import ModelIR

/// Ops that make tensors from attributes and shapes: Constant (every attribute form; a
/// sparse value is densified), ConstantOfShape, EyeLike, Range.
enum ConstantOps {
    static let schemas: [OpSchema] = [
        OpSchema("Constant", versions: [1, 9, 11, 12, 13, 19, 21, 23, 24, 25]) { ctx in [.tensor(try constant(ctx))] },
        OpSchema("ConstantOfShape", versions: [9, 20, 21, 23, 24, 25]) { ctx in
            let dims = try Movement.integers(ctx.tensor(0), "input 0 (shape)")
            guard dims.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("input 0 (shape) \(dims) has a negative dim") }
            let value = ctx.tensorAttribute("value") ?? Tensor.of([Float(0)])
            guard value.elementCount == 1 else { throw OpError.invalid("attribute 'value' must hold one element, got shape \(value.dims)") }
            return [.tensor(try Movement.map([value.reshaped([1])], dtype: value.dtype, dims: dims, FillMover()))]
        },
        OpSchema("EyeLike", versions: [9, 22]) { ctx in
            let x = try ctx.tensor(0)
            guard x.dims.count == 2 else { throw OpError.invalid("input 0 must be 2-D, got \(x.dims)") }
            var dtype = x.dtype
            if let code = ctx.int("dtype") {
                guard let d = DType(rawValue: Int32(truncatingIfNeeded: code)) else { throw OpError.invalid("attribute 'dtype' \(code) is not a data type") }
                dtype = d
            }
            let one = try Movement.scalar(1, dtype: dtype)
            return [.tensor(try Movement.map([one], dtype: dtype, dims: x.dims,
                                             EyeMover(rows: x.dims[0], cols: x.dims[1],
                                                      k: min(max(ctx.int("k", default: 0), -x.dims[0]), x.dims[1]))))]
        },
        OpSchema("Range", versions: [11, 27]) { ctx in
            let start = try ctx.tensor(0), limit = try ctx.tensor(1), delta = try ctx.tensor(2)
            for (i, t) in [start, limit, delta].enumerated() {
                guard t.elementCount == 1 else { throw OpError.invalid("input \(i) must be a scalar, got shape \(t.dims)") }
                guard t.dtype == start.dtype else { throw OpError.invalid("input \(i) is \(t.dtype), input 0 is \(start.dtype)") }
            }
            if let t = try start.dtype.visitInteger(IntegerRange(start: start, limit: limit, delta: delta)) { return [.tensor(t)] }
            let s = try Movement.doubles(start, "input 0 (start)")[0]
            let l = try Movement.doubles(limit, "input 1 (limit)")[0]
            let d = try Movement.doubles(delta, "input 2 (delta)")[0]
            guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw OpError.invalid("Range(\(s), \(l), \(d)) is not a finite range") }
            let count = ((l - s) / d).rounded(.up)
            guard count <= Double(Movement.maxElements) else { throw OpError.invalid("Range(\(s), \(l), \(d)) has \(count) elements") }
            let n = max(0, Int(count))
            if start.dtype == .bfloat16 {
                let values = (0..<n).map { Float(s + Double($0) * d) }
                return [.tensor(Tensor(unchecked: .bfloat16, dims: [n], storage: .owned(Movement.bfloat16Bytes(values))))]
            }
            guard let t = try start.dtype.visitFloat(FloatRange(start: s, delta: d, count: n)) else {
                throw OpError.unsupported("Range of \(start.dtype)")
            }
            return [.tensor(t)]
        },
    ]

    static func constant(_ ctx: KernelContext) throws -> Tensor {
        for attr in ctx.node.attributes {
            switch (attr.name, attr.value) {
            case ("value", .tensor(let t)): return t
            case ("sparse_value", .sparseTensor(let s)): return try densify(s)
            case ("value_float", .float(let v)): return Tensor.scalar(v)
            case ("value_floats", .floats(let v)): return Tensor.of(v)
            case ("value_int", .int(let v)): return Tensor.scalar(v)
            case ("value_ints", .ints(let v)): return Tensor.of(v)
            case ("value_string", .string(let v)): return Tensor(unchecked: .string, dims: [], storage: .strings([v]))
            case ("value_strings", .strings(let v)): return Tensor(unchecked: .string, dims: [v.count], storage: .strings(v))
            default: continue
            }
        }
        throw OpError.invalid("Constant has none of value, sparse_value, value_float(s), value_int(s), value_string(s)")
    }

    /// The dense tensor of a COO sparse tensor (zeros elsewhere; a repeated index keeps the last value).
    static func densify(_ s: SparseTensor) throws -> Tensor {
        let nnz = s.values.elementCount ?? 0
        let idx = try Movement.integers(s.indices, "sparse_value indices")
        guard let total = Shape.elementCount(of: s.dims) else { throw OpError.invalid("sparse_value dims \(s.dims) are invalid") }
        var positions = [Int](repeating: 0, count: nnz)
        if idx.count == nnz {
            positions = idx
        } else if idx.count == nnz * s.dims.count {
            let strides = Movement.strides(s.dims)
            for i in 0..<nnz {
                for a in 0..<s.dims.count {
                    let v = idx[i * s.dims.count + a]
                    guard v >= 0 && v < s.dims[a] else { throw OpError.invalid("sparse_value index \(v) is out of range for dim \(a) of \(s.dims)") }
                    positions[i] += v * strides[a]
                }
            }
        } else {
            throw OpError.invalid("sparse_value indices have shape \(s.indices.dims) for \(nnz) values of dims \(s.dims)")
        }
        if let bad = positions.first(where: { $0 < 0 || $0 >= total }) {
            throw OpError.invalid("sparse_value index \(bad) is out of range for \(total) elements")
        }
        return try Movement.map([s.values.reshaped([nnz])], dtype: s.values.dtype, dims: s.dims, PlaceMover(positions: positions))
    }

    /// Every output element is input element 0.
    struct FillMover: ElementMover {
        var writesEveryElement: Bool { true }
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            dst.update(repeating: src[0][0])
        }
    }

    /// Output element positions[i] is input element i; the rest stay zero.
    struct PlaceMover: ElementMover {
        let positions: [Int]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            for (i, p) in positions.enumerated() { dst[p] = src[0][i] }
        }
    }

    /// Ones (input element 0) on diagonal k, zeros elsewhere.
    struct EyeMover: ElementMover {
        let rows: Int, cols: Int, k: Int
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            let one = src[0][0]
            for i in 0..<rows {
                let j = i + k
                if j >= 0 && j < cols { dst[i * cols + j] = one }
            }
        }
    }

    /// Integer Range, exact: ceil((limit - start) / delta) elements start + i * delta.
    struct IntegerRange: IntegerVisitor {
        let start: Tensor, limit: Tensor, delta: Tensor
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let s = Int64(start.elements(T.self)[0]), l = Int64(limit.elements(T.self)[0]), d = Int64(delta.elements(T.self)[0])
            guard d != 0 else { throw OpError.invalid("input 2 (delta) is 0") }
            let (span, overflow) = l.subtractingReportingOverflow(s)
            guard !overflow else { throw OpError.invalid("Range(\(s), \(l), \(d)) overflows") }
            var n = span / d
            if span % d != 0 && (span > 0) == (d > 0) { n += 1 }
            n = max(0, n)
            guard n <= Int64(Movement.maxElements) else { throw OpError.invalid("Range(\(s), \(l), \(d)) has \(n) elements") }
            return Tensor.make(T.self, dims: [Int(n)]) { out in
                var v = s
                for i in 0..<out.count {
                    out[i] = T(truncatingIfNeeded: v)
                    v &+= d
                }
            }
        }
    }

    /// Floating-point Range, computed in Double as NumPy's arange does, rounded once to T.
    struct FloatRange: FloatVisitor {
        let start: Double, delta: Double, count: Int
        func visit<T: FloatElement>(_: T.Type) throws -> Tensor {
            Tensor.make(T.self, dims: [count]) { out in
                for i in 0..<count { out[i] = T.from(start + Double(i) * delta) }
            }
        }
    }
}
