import CKernels
import ModelIR

/// Row-major matrix products for the Conv/Gemm/MatMul family: float32 and float64 through
/// OpenBLAS (`cblas_sgemm`/`cblas_dgemm`), every other element type through a plain loop.
///
/// Threading: these functions never start threads of their own. `blasThreads` is the number
/// of threads OpenBLAS may use for this call (OpenBLAS's setting is process-wide; it is set
/// before each call). Callers that parallelize themselves (`parallelFor` over images, groups
/// or column tiles) pass 1 and run several single-threaded products at once.
public enum GEMM {
    /// The thread count last handed to OpenBLAS (-1: never set). Kernels set it from the
    /// interpreter's thread before calling BLAS, never from inside a `parallelFor` body.
    nonisolated(unsafe) private static var blasThreadSetting = -1

    /// Sets OpenBLAS's process-wide thread count when it differs from the last setting.
    static func setBLASThreads(_ n: Int) {
        let n = max(1, n)
        if blasThreadSetting != n {
            mc_blas_set_threads(Int32(n))
            blasThreadSetting = n
        }
    }

    /// OpenBLAS's name for the kernels in use (`Haswell`, `SkylakeX`, ...; `Prescott` means
    /// SSE3 kernels), or `none` when the products run through the fallback loops.
    public static var blasCoreName: String { String(cString: mc_blas_core()) }

    /// Loads the BLAS now (it is loaded at first use otherwise): the loader sets and removes
    /// an environment variable, which is best done before other threads run.
    public static func load() { _ = mc_blas_load() }

    /// Whether the BLAS runs FMA vector kernels (AVX2 or AVX-512: Haswell and later, Zen).
    /// With the SSE kernels OpenBLAS falls back to, or the reference loops, Winograd's
    /// 2.25x fewer multiplications pay for its transforms; with these they do not.
    public static let hasFMAKernels: Bool = {
        ["Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen"].contains(blasCoreName)
    }()

    /// What runs the float products, and how its kernels were chosen (for `--stats`).
    public static var blasBackend: String { String(cString: mc_blas_backend()) }

    /// `C = alpha * op(A) * op(B) + beta * C` in float32, row-major; `op(A)` is `m x k`,
    /// `op(B)` is `k x n`. With `beta == 0`, C is not read (NaNs in it do not propagate).
    @inline(__always)
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            scale(c, rows: m, cols: n, ld: ldc, by: beta)
            return
        }
        // One row (a classifier's Gemm, a MatMul of a vector): stream B once instead of packing it.
        if m == 1, !transA || lda == 1, mc_sgemv_f32(Int32(n), Int32(k), alpha, a, b, ldb, transB ? 1 : 0, beta, c) != 0 {
            return
        }
        mc_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                 beta, c, Int32(ldc))
    }

    /// `C = alpha * op(A) * op(B) + beta * C` in float64 (see `sgemm`).
    @inline(__always)
    static func dgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Double = 1,
                      a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                      beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            scale(c, rows: m, cols: n, ld: ldc, by: beta)
            return
        }
        mc_dgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                 beta, c, Int32(ldc))
    }

    /// `C += op(A) * op(B)` for integer elements, wrapping on overflow like NumPy's C loops.
    static func integerGEMM<T: FixedWidthInteger>(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                                   a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                                   c: UnsafeMutablePointer<T>, ldc: Int) {
        guard m > 0, n > 0, k > 0 else { return }
        if transB {
            for i in 0..<m {
                for j in 0..<n {
                    var acc: T = 0
                    for p in 0..<k {
                        let x = transA ? a[p * lda + i] : a[i * lda + p]
                        acc = acc &+ x &* b[j * ldb + p]
                    }
                    c[i * ldc + j] = c[i * ldc + j] &+ acc
                }
            }
            return
        }
        for i in 0..<m {
            let row = c + i * ldc
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                if x == 0 { continue }
                let brow = b + p * ldb
                for j in 0..<n { row[j] = row[j] &+ x &* brow[j] }
            }
        }
    }

    /// `C *= beta` over an `rows x cols` block (beta 0 writes zeros without reading C).
    static func scale<T: BinaryFloatingPoint>(_ c: UnsafeMutablePointer<T>, rows: Int, cols: Int, ld: Int, by beta: T) {
        for i in 0..<rows {
            let row = c + i * ld
            if beta == 0 {
                row.update(repeating: 0, count: cols)
            } else if beta != 1 {
                for j in 0..<cols { row[j] *= beta }
            }
        }
    }

    /// How many threads a product of `flops` multiply-adds is worth: 1 below about a
    /// million (thread hand-off costs more than it saves), else `threads`.
    static func threadsWorth(flops: Int, threads: Int) -> Int {
        flops < 1 << 20 ? 1 : max(1, threads)
    }
}

/// Element types the batched matrix product handles: float32/float64 through BLAS,
/// integers through `GEMM.integerGEMM`.
protocol MatMulElement: NumericElement {
    /// `C[m x n] = A[m x k] * B[k x n]` (row-major, leading dimensions given): C overwritten,
    /// or added to with `accumulate`.
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                        c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool)
    /// Whether `product` goes through BLAS (which then may use its own threads).
    static var usesBLAS: Bool { get }
}

extension Float: MatMulElement {
    static var usesBLAS: Bool { true }
    @inline(__always)
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        GEMM.sgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
    }
}

extension Double: MatMulElement {
    static var usesBLAS: Bool { true }
    @inline(__always)
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                        c: UnsafeMutablePointer<Double>, ldc: Int, accumulate: Bool = false) {
        GEMM.dgemm(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: accumulate ? 1 : 0, c: c, ldc: ldc)
    }
}

extension MatMulElement where Self: FixedWidthInteger {
    static var usesBLAS: Bool { false }
    static func product(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                        c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool = false) {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        GEMM.integerGEMM(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }
}

extension Int8: MatMulElement {}
extension UInt8: MatMulElement {}
extension Int16: MatMulElement {}
extension UInt16: MatMulElement {}
extension Int32: MatMulElement {}
extension UInt32: MatMulElement {}
extension Int64: MatMulElement {}
extension UInt64: MatMulElement {}

/// NumPy `matmul` over broadcast batch dims, for C-order operands already promoted to rank
/// >= 2: `a` is `[...a, m, k]`, `b` is `[...b, k, n]`; the result is `[broadcast(...a, ...b), m, n]`.
struct BatchedMatMul {
    let m: Int, n: Int, k: Int
    /// The broadcast batch dims.
    let batchDims: [Int]
    let batchCount: Int
    /// Element offset of batch `i` in `a` / `b` (empty: the operand is not batched).
    private let aStrides: [Int], bStrides: [Int]

    /// Plans the product; throws `OpError.invalid` naming both shapes when the inner dims
    /// differ or the batch dims do not broadcast.
    init(aDims: [Int], bDims: [Int]) throws {
        precondition(aDims.count >= 2 && bDims.count >= 2)
        let (m, k, n) = (aDims[aDims.count - 2], aDims[aDims.count - 1], bDims[bDims.count - 1])
        (self.m, self.k, self.n) = (m, k, n)
        guard bDims[bDims.count - 2] == k else {
            throw OpError.invalid("MatMul: inner dims differ: \(Shape(aDims)) x \(Shape(bDims))")
        }
        let aBatch = Array(aDims.dropLast(2)), bBatch = Array(bDims.dropLast(2))
        batchDims = try Broadcast.shape(aBatch, bBatch)
        batchCount = Shape.elementCount(of: batchDims) ?? 0
        aStrides = Broadcast.strides(of: aBatch, to: batchDims).map { $0 * m * k }
        bStrides = Broadcast.strides(of: bBatch, to: batchDims).map { $0 * k * n }
    }

    var outDims: [Int] { batchDims + [m, n] }

    /// The element offsets of batch `index` in `a` and `b`.
    @inline(__always)
    func offsets(_ index: Int) -> (Int, Int) {
        var rest = index, oa = 0, ob = 0
        for d in stride(from: batchDims.count - 1, through: 0, by: -1) {
            let i = rest % batchDims[d]
            rest /= batchDims[d]
            oa += i * aStrides[d]
            ob += i * bStrides[d]
        }
        return (oa, ob)
    }

    /// Whether `a` advances by `m*k` per batch and `b` is shared: the batches then form
    /// one `[batch*m, k] x [k, n]` product.
    var isStackedOverSharedB: Bool {
        guard bStrides.allSatisfy({ $0 == 0 }) else { return false }
        var expect = m * k
        for d in stride(from: batchDims.count - 1, through: 0, by: -1) {
            if batchDims[d] != 1 && aStrides[d] != expect { return false }
            expect *= batchDims[d]
        }
        return true
    }

    /// Computes `c = a x b` (c holds `batchCount * m * n` elements, overwritten).
    func run<T: MatMulElement>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>, threads: Int) {
        guard batchCount > 0, m > 0, n > 0 else { return }
        if k == 0 {
            c.update(repeating: T.zero, count: batchCount * m * n)
            return
        }
        if isStackedOverSharedB {
            GEMM.rowSplitProduct(m: batchCount * m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, threads: threads)
            return
        }
        let flops = m * n * k
        if batchCount >= 2 && threads > 1 && flops * batchCount >= 1 << 18 {
            // Whole products per thread, each single-threaded.
            if T.usesBLAS { GEMM.setBLASThreads(1) }
            parallelFor(batchCount, threads: threads) { range in
                for i in range {
                    let (oa, ob) = offsets(i)
                    T.product(m: m, n: n, k: k, a: a + oa, lda: k, b: b + ob, ldb: n, c: c + i * m * n, ldc: n, accumulate: false)
                }
            }
            return
        }
        for i in 0..<batchCount {
            let (oa, ob) = offsets(i)
            GEMM.rowSplitProduct(m: m, n: n, k: k, a: a + oa, lda: k, b: b + ob, ldb: n, c: c + i * m * n, ldc: n,
                                 threads: threads)
        }
    }
}

extension GEMM {
    /// `C = A x B` (or `C += A x B` with `accumulate`) using up to `threads` threads: one single-threaded product per thread over
    /// a split of the rows of A (or of the columns of B when A has few rows). Small products
    /// run on the calling thread.
    static func rowSplitProduct<T: MatMulElement>(m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int,
                                                  b: UnsafePointer<T>, ldb: Int, c: UnsafeMutablePointer<T>, ldc: Int,
                                                  accumulate: Bool = false, threads: Int) {
        let workers = threadsWorth(flops: m * n * k, threads: threads)
        if T.usesBLAS { setBLASThreads(1) }
        if workers <= 1 {
            T.product(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accumulate: accumulate)
            return
        }
        if m >= 16 * workers || m >= n {
            parallelFor(m, threads: workers) { rows in
                T.product(m: rows.count, n: n, k: k, a: a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                          c: c + rows.lowerBound * ldc, ldc: ldc, accumulate: accumulate)
            }
        } else {
            parallelFor(n, threads: workers) { cols in
                T.product(m: m, n: cols.count, k: k, a: a, lda: lda, b: b + cols.lowerBound, ldb: ldb,
                          c: c + cols.lowerBound, ldc: ldc, accumulate: accumulate)
            }
        }
    }
}

extension Tensor {
    /// Calls `body` with a pointer to the elements for handing to BLAS (C code that loads
    /// unaligned), without the copy `withElements` makes of storage that is not aligned for
    /// `T` (weights mapped from a model file usually are not). Swift code must not read
    /// through the pointer: use `withElements` for that.
    func withBLASPointer<T: TensorElement, R>(_: T.Type, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
        precondition(T.dtype == dtype, "tensor '\(name)' is \(dtype), read as \(T.dtype)")
        return try withUnsafeBytes { raw in
            try body(raw.baseAddress.map { UnsafePointer<T>(OpaquePointer($0)) })
        }
    }

    /// Like `make`, without zero-filling first: `fill` must write every element.
    static func makeUninitialized<T: TensorElement>(_: T.Type, dims: [Int],
                                                   _ fill: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> Tensor {
        let count = Shape.elementCount(of: dims) ?? 0
        let byteCount = count * MemoryLayout<T>.stride
        let bytes = try [UInt8](unsafeUninitializedCapacity: byteCount) { raw, initialized in
            let typed = UnsafeMutableRawPointer(raw.baseAddress)?.assumingMemoryBound(to: T.self)
            try fill(UnsafeMutableBufferPointer(start: typed, count: count))
            initialized = byteCount
        }
        return Tensor(unchecked: T.dtype, dims: dims, storage: .owned(bytes))
    }
}
