import Foundation
import Testing
import ModelIR
import ModelOps

/// Gemm, MatMul, MatMulInteger and Einsum. Products large enough for OpenBLAS and the
/// thread splits are checked against plain loops written here (OpenBLAS picks its kernels
/// by CPU type, `OPENBLAS_CORETYPE`); semantic cases against NumPy 2.4 / onnx.reference
/// (`ref(op, inputs, attrs)`: a one-node model run by `onnx.reference.ReferenceEvaluator`).
@Suite("Gemm and MatMul")
struct GemmOpsTests {
    func run(_ op: String, opset: Int = 13, _ inputs: [Tensor?], _ attributes: [Attribute] = [], threads: Int = 1) throws -> Tensor {
        var g = Graph()
        let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
        let id = g.appendNode(op, name: "n", inputs: ins, outputs: [g.addValue(named: "out")], attributes: attributes)
        guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
        let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) },
                                threads: threads)
        guard let t = try schema.kernel(ctx).first?.tensor else { throw OpError.invalid("no tensor output") }
        return t
    }

    func floats(_ t: Tensor) -> [Float] { t.elements(Float.self) }
    func einsum(_ equation: String, _ inputs: [Tensor]) throws -> Tensor {
        try run("Einsum", opset: 12, inputs, [Attribute("equation", .string(Array(equation.utf8)))])
    }

    /// Plain `op(A) op(B)` in float64, row-major.
    static func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            let x = transA ? a[p * m + i] : a[i * k + p]
            let y = transB ? b[j * k + p] : b[p * n + j]
            c[i * n + j] += Double(x) * Double(y)
        } } }
        return c
    }

    /// `Gemm(A, B, C)` with alpha 0.5 and beta 2, every transposition, against `reference`.
    func checkGemm(m: Int, n: Int, k: Int, seed: UInt64, threads: [Int]) throws {
        let a = ConvOpsTests.seeded(m * k, seed: seed), b = ConvOpsTests.seeded(k * n, seed: seed + 1)
        let c = ConvOpsTests.seeded(n, seed: seed + 2)
        for transA in [false, true] {
            for transB in [false, true] {
                let want = Self.reference(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
                    .enumerated().map { Float(0.5 * $0.element + 2 * Double(c[$0.offset % n])) }
                for t in threads {
                    let y = try run("Gemm", [Tensor.of(a, dims: transA ? [k, m] : [m, k]), Tensor.of(b, dims: transB ? [n, k] : [k, n]),
                                             Tensor.of(c)],
                                    [Attribute("transA", .int(transA ? 1 : 0)), Attribute("transB", .int(transB ? 1 : 0)),
                                     Attribute("alpha", .float(0.5)), Attribute("beta", .float(2))], threads: t)
                    #expect(y.dims == [m, n])
                    ConvOpsTests.expectClose(floats(y), want, "Gemm \(m)x\(n)x\(k) transA \(transA) transB \(transB) threads \(t)")
                }
            }
        }
    }

    @Test func gemmMatchesPlainLoopsForEveryTransposition() throws {
        try checkGemm(m: 67, n: 130, k: 129, seed: 11, threads: [1, 2])
    }

    @Test func singleRowProductsMatchPlainLoops() throws {
        // M = 1 (a classifier's Gemm, a vector MatMul) takes the row kernel on AVX-512: K not
        // a multiple of its 16 lanes, N over its 1,024-column block and not a multiple of 4,
        // every transposition, alpha and beta with a C.
        try checkGemm(m: 1, n: 1030, k: 37, seed: 21, threads: [1])
        let (n, k) = (1030, 37)
        let a = ConvOpsTests.seeded(k, seed: 31), b = ConvOpsTests.seeded(k * n, seed: 32)
        let v = try run("MatMul", [Tensor.of(a, dims: [k]), Tensor.of(b, dims: [k, n])])
        #expect(v.dims == [n])
        ConvOpsTests.expectClose(floats(v), Self.reference(a, b, m: 1, n: n, k: k, transA: false, transB: false).map { Float($0) },
                                 "MatMul vector")
    }

    @Test func gemmSemantics() throws {
        // a = arange(6).reshape(2,3); b = arange(12).reshape(3,4) - 5
        let a = (0..<6).map(Float.init), b = (0..<12).map { Float($0 - 5) }
        let aT: [Float] = [0, 3, 1, 4, 2, 5], bT: [Float] = [-5, -1, 3, -4, 0, 4, -3, 1, 5, -2, 2, 6]
        // ref("Gemm", a.T, b.T, C=[1,2,3,4], transA=1, transB=1, alpha=0.5, beta=2)
        let y = try run("Gemm", [Tensor.of(aT, dims: [3, 2]), Tensor.of(bT, dims: [4, 3]), Tensor.of([Float(1), 2, 3, 4])],
                        [Attribute("transA", .int(1)), Attribute("transB", .int(1)), Attribute("alpha", .float(0.5)),
                         Attribute("beta", .float(2))])
        #expect(floats(y) == [4.5, 8, 11.5, 15, 0, 8, 16, 24])
        // ref("Gemm", a, b, C=[[10],[20]]): a column of C broadcast along N.
        let z = try run("Gemm", [Tensor.of(a, dims: [2, 3]), Tensor.of(b, dims: [3, 4]), Tensor.of([Float(10), 20], dims: [2, 1])])
        #expect(floats(z) == [15, 18, 21, 24, 16, 28, 40, 52])
        // A C that does not broadcast to [M, N] is refused.
        #expect(throws: OpError.self) {
            try run("Gemm", [Tensor.of(a, dims: [2, 3]), Tensor.of(b, dims: [3, 4]), Tensor.of([Float(1), 2, 3])])
        }
    }

    @Test func matMulBroadcastsBatchesAndPromotesVectors() throws {
        // np.matmul(arange(12).reshape(2,1,2,3), arange(18).reshape(3,3,2) - 4)
        let a = Tensor.of((0..<12).map(Float.init), dims: [2, 1, 2, 3])
        let b = Tensor.of((0..<18).map { Float($0 - 4) }, dims: [3, 3, 2])
        let y = try run("MatMul", [a, b])
        #expect(y.dims == [2, 3, 2, 2])
        #expect(floats(y) == [-2, 1, -20, -8, 16, 19, 52, 64, 34, 37, 124, 136, -38, -17, -56, -26, 88, 109, 124, 154,
                              214, 235, 304, 334])
        // np.matmul([1,2,3], same b): the promoted row dim is dropped.
        let v = try run("MatMul", [Tensor.of([Float(1), 2, 3]), b])
        #expect(v.dims == [3, 2])
        #expect(floats(v) == [-8, -2, 28, 34, 64, 70])
        // Inner dims that differ are refused.
        #expect(throws: OpError.self) { try run("MatMul", [Tensor.of([Float(1), 2]), b]) }
    }

    @Test func batchedMatMulMatchesPlainLoops() throws {
        // Shared 2-D B (one stacked product) and per-batch B (split over threads).
        let (batch, m, k, n) = (6, 33, 70, 41)
        let a = ConvOpsTests.seeded(batch * m * k, seed: 21), b = ConvOpsTests.seeded(batch * k * n, seed: 22)
        for shared in [true, false] {
            var want: [Float] = []
            for i in 0..<batch {
                let bi = shared ? Array(b[0..<(k * n)]) : Array(b[(i * k * n)..<((i + 1) * k * n)])
                want += Self.reference(Array(a[(i * m * k)..<((i + 1) * m * k)]), bi, m: m, n: n, k: k,
                                       transA: false, transB: false).map(Float.init)
            }
            let bt = shared ? Tensor.of(Array(b[0..<(k * n)]), dims: [k, n]) : Tensor.of(b, dims: [batch, k, n])
            for threads in [1, 2] {
                let y = try run("MatMul", [Tensor.of(a, dims: [batch, m, k]), bt], threads: threads)
                #expect(y.dims == [batch, m, n])
                ConvOpsTests.expectClose(floats(y), want, "MatMul shared \(shared) threads \(threads)")
            }
        }
    }

    @Test func integerMatMulWraps() throws {
        // np.matmul(int32 [[2**31-1, 2]], int32 [[2],[1]]) -> [[0]] (wraps like C)
        let y = try run("MatMul", [Tensor.of([Int32.max, 2], dims: [1, 2]), Tensor.of([Int32(2), 1], dims: [2, 1])])
        #expect(y.elements(Int32.self) == [0])
    }

    @Test func matMulIntegerSubtractsZeroPoints() throws {
        // ref("MatMulInteger", uint8 [[11,7,3],[10,6,2]], uint8 [[1,4],[2,5],[3,6]], a_zp=uint8 12, b_zp=uint8 [0,1])
        let y = try run("MatMulInteger", opset: 10, [
            Tensor.of([UInt8(11), 7, 3, 10, 6, 2], dims: [2, 3]), Tensor.of([UInt8(1), 4, 2, 5, 3, 6], dims: [3, 2]),
            Tensor.scalar(UInt8(12)), Tensor.of([UInt8(0), 1]),
        ])
        #expect(y.dtype == .int32)
        #expect(y.elements(Int32.self) == [-38, -68, -44, -80])
    }

    @Test func einsumForms() throws {
        let a = Tensor.of((0..<6).map(Float.init), dims: [2, 3])
        let b = Tensor.of((0..<12).map { Float($0 - 5) }, dims: [3, 4])
        // np.einsum('ca,ab', a, b): implicit output, labels seen once in alphabetical order ('bc').
        let implicit = try einsum("ca,ab", [a, b])
        #expect(implicit.dims == [4, 2])
        #expect(floats(implicit) == [5, -4, 8, 8, 11, 20, 14, 32])
        // np.einsum('ii->i', arange(9).reshape(3,3)): a diagonal.
        #expect(floats(try einsum("ii->i", [Tensor.of((0..<9).map(Float.init), dims: [3, 3])])) == [0, 4, 8])
        let x = Tensor.of((0..<24).map(Float.init), dims: [2, 3, 4])
        // np.einsum('...ij->...ji', arange(24).reshape(2,3,4))
        #expect(floats(try einsum("...ij->...ji", [x])) == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 16, 20, 13, 17, 21,
                                                              14, 18, 22, 15, 19, 23])
        // np.einsum('bij->j', same x)
        #expect(floats(try einsum("bij->j", [x])) == [60, 66, 72, 78])
        // np.einsum('i,j->ij', [1,2], [3,4,5]); np.einsum('ij,ij->i', a, a)
        #expect(floats(try einsum("i,j->ij", [Tensor.of([Float(1), 2]), Tensor.of([Float(3), 4, 5])])) == [3, 4, 5, 6, 8, 10])
        #expect(floats(try einsum("ij,ij->i", [a, a])) == [5, 50])
        // ref("Einsum", arange(8).reshape(2,2,2), arange(4).reshape(2,2), equation="bii,ij->bj")
        let d = try einsum("bii,ij->bj", [Tensor.of((0..<8).map(Float.init), dims: [2, 2, 2]),
                                          Tensor.of((0..<4).map(Float.init), dims: [2, 2])])
        #expect(floats(d) == [6, 9, 14, 25])
        // np.einsum('ij,jk->ik', int32 [[2**30,3],[1,1]], int32 [[4,1],[2,2]]) wraps: [[6, 1073741830], [6, 3]]
        let w = try einsum("ij,jk->ik", [Tensor.of([Int32(1 << 30), 3, 1, 1], dims: [2, 2]), Tensor.of([Int32(4), 1, 2, 2], dims: [2, 2])])
        #expect(w.elements(Int32.self) == [6, 1073741830, 6, 3])
        #expect(throws: OpError.self) { try einsum("ij,jk->ik", [a, a]) }
        #expect(throws: OpError.self) { try einsum("ij->ik", [a]) }
    }
}

/// The BLAS loader picks OpenBLAS's vector kernels for this CPU when the machine does not
/// set OPENBLAS_CORETYPE, and leaves the environment as it found it.
@Suite("BLAS loading")
struct BLASLoadingTests {
    static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }

    @Test func vectorKernelsAreChosenFromTheCPU() throws {
        GEMM.load()
        let backend = GEMM.blasBackend
        #expect(!backend.hasPrefix("reference loops"), "libopenblas0 is installed by scripts/test: \(backend)")
        if let given = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
            #expect(backend.contains("OPENBLAS_CORETYPE=\(given)"))
            return
        }
        // The variable was set only while the library loaded.
        #expect(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil)
        let flags = Self.cpuFlags()
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) {
            #expect(GEMM.blasCoreName == "SkylakeX", "\(backend)")
        } else if flags.contains("avx2") && flags.contains("fma") {
            #expect(GEMM.blasCoreName == "Haswell", "\(backend)")
        }
    }
}
