import ModelIR

/// Det (11, 22): the determinant of each square matrix in `[*, M, M]` (output `[*]`), by
/// LU decomposition with partial pivoting in float64, rounded once to the input's type
/// (float16, bfloat16, float32, float64). An empty matrix (M = 0) has determinant 1.
enum LinearAlgebraOps {
    static let schemas: [OpSchema] = [
        OpSchema("Det", versions: [11, 22]) { ctx in [.tensor(try det(ctx))] },
    ]

    static func det(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        guard [DType.float32, .float16, .float64, .bfloat16].contains(x.dtype) else {
            throw OpError.unsupported("Det of \(x.dtype) (a float type is expected)")
        }
        let rank = x.dims.count
        guard rank >= 2, x.dims[rank - 1] == x.dims[rank - 2] else {
            throw OpError.invalid("input must be [*, M, M], got \(Shape(x.dims))")
        }
        let m = x.dims[rank - 1]
        let outDims = Array(x.dims[..<(rank - 2)])
        let count = outDims.reduce(1, *)
        let values = try QuantizeOps.doubles(x, name: "X")
        var out = [Double](repeating: 0, count: count)
        var a = [Double](repeating: 0, count: m * m)
        for k in 0..<count {
            for i in 0..<(m * m) { a[i] = values[k * m * m + i] }
            out[k] = determinant(&a, m)
        }
        return try NormalizationOps.tensor(out, dtype: x.dtype, dims: outDims)
    }

    /// The determinant of the row-major `m` x `m` matrix `a` (overwritten by its LU factors).
    static func determinant(_ a: inout [Double], _ m: Int) -> Double {
        var result = 1.0
        for col in 0..<m {
            var pivot = col
            for r in (col + 1)..<max(m, col + 1) where abs(a[r * m + col]) > abs(a[pivot * m + col]) { pivot = r }
            if a[pivot * m + col] == 0 { return 0 }
            if pivot != col {
                for c in 0..<m { a.swapAt(pivot * m + c, col * m + c) }
                result = -result
            }
            let p = a[col * m + col]
            result *= p
            for r in (col + 1)..<max(m, col + 1) {
                let factor = a[r * m + col] / p
                if factor == 0 { continue }
                for c in (col + 1)..<m { a[r * m + c] -= factor * a[col * m + c] }
            }
        }
        return result
    }
}
