import Testing
import ModelIR
import ModelOps

/// Tricky semantics of the element-moving kernels (ShapeOps, SliceOps, PadOps,
/// GatherScatterOps, ConstantOps, Dropout). Expected values come from onnxruntime 1.32
/// (`ort(...)`), onnx.reference (`ref(...)`) or NumPy 2.4, each with the Python that made it:
/// `ort(op, inputs, attrs)` / `ref(op, inputs, attrs)` mean a one-node ONNX model of `op`
/// (opset 18 unless the test says otherwise) run by `onnxruntime.InferenceSession` /
/// `onnx.reference.ReferenceEvaluator` on those inputs.
@Suite("Element-moving kernels")
struct ShapeOpsTests {
    /// Runs op `op` at `opset` on `inputs` (nil: absent optional input).
    func run(_ op: String, opset: Int = 18, _ inputs: [Tensor?], _ attributes: [Attribute] = [],
             outputs: Int = 1) throws -> [Tensor] {
        var g = Graph()
        let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
        let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
        let id = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
        guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
        let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) })
        return try schema.kernel(ctx).map { v in
            guard let t = v.tensor else { throw OpError.invalid("output is not a tensor") }
            return t
        }
    }

    func floats(_ t: Tensor) -> [Float] { t.elements(Float.self) }
    func ints(_ t: Tensor) -> [Int64] { t.elements(Int64.self) }
    func arange(_ n: Int, dims: [Int]) -> Tensor { Tensor.of((0..<n).map { Float($0) }, dims: dims) }

    // MARK: Slice

    @Test func sliceNegativeStepClampsStartLikeTheSpec() throws {
        // ort("Slice", x=arange(5), starts=[-10], ends=[INT64_MIN], axes=[0], steps=[-1]) -> [0.]
        // (NumPy's x[-10::-1] is empty: the spec clamps start to [0, dim-1] for negative steps.)
        let y = try run("Slice", opset: 13, [arange(5, dims: [5]), Tensor.of([Int64(-10)]), Tensor.of([Int64.min]),
                                            Tensor.of([Int64(0)]), Tensor.of([Int64(-1)])])[0]
        #expect(y.dims == [1])
        #expect(floats(y) == [0])
    }

    @Test func sliceStepsAndNegativeAxes() throws {
        // ort("Slice", x=arange(24).reshape(2,3,4), starts=[10,-1], ends=[INT64_MIN,0], axes=[2,-2],
        //     steps=[-3,-2]) -> [[[11, 8]], [[23, 20]]]
        let y = try run("Slice", opset: 13, [arange(24, dims: [2, 3, 4]), Tensor.of([Int64(10), -1]),
                                            Tensor.of([Int64.min, 0]), Tensor.of([Int64(2), -2]), Tensor.of([Int64(-3), -2])])[0]
        #expect(y.dims == [2, 1, 2])
        #expect(floats(y) == [11, 8, 23, 20])
    }

    @Test func sliceAttributesBeforeOpset10() throws {
        // numpy: arange(24).reshape(2,3,4)[:, 1:100, -3:-1] -> shape (2,2,2) [5,6,9,10,17,18,21,22]
        let y = try run("Slice", opset: 1, [arange(24, dims: [2, 3, 4])],
                        [Attribute("starts", .ints([1, -3])), Attribute("ends", .ints([100, -1])), Attribute("axes", .ints([1, 2]))])[0]
        #expect(y.dims == [2, 2, 2])
        #expect(floats(y) == [5, 6, 9, 10, 17, 18, 21, 22])
    }

    // MARK: Pad

    @Test func padReflectBeyondTheEdgeFollowsNumPy() throws {
        // np.pad(arange(6).reshape(2,3), ((1,0),(4,3)), mode="reflect") (onnx.reference uses np.pad;
        // onnxruntime refuses pads this large)
        let y = try run("Pad", [arange(6, dims: [2, 3]), Tensor.of([Int64(1), 4, 0, 3])], [Attribute("mode", .string(Array("reflect".utf8)))])[0]
        #expect(y.dims == [3, 10])
        #expect(floats(y) == [3, 4, 5, 4, 3, 4, 5, 4, 3, 4,
                              0, 1, 2, 1, 0, 1, 2, 1, 0, 1,
                              3, 4, 5, 4, 3, 4, 5, 4, 3, 4])
    }

    @Test func padWrapAndEdge() throws {
        // ort("Pad", arange(6).reshape(2,3), pads=[0,4,1,2], mode="wrap", opset 19)
        let w = try run("Pad", opset: 19, [arange(6, dims: [2, 3]), Tensor.of([Int64(0), 4, 1, 2])],
                        [Attribute("mode", .string(Array("wrap".utf8)))])[0]
        #expect(w.dims == [3, 9])
        #expect(floats(w) == [2, 0, 1, 2, 0, 1, 2, 0, 1, 5, 3, 4, 5, 3, 4, 5, 3, 4, 2, 0, 1, 2, 0, 1, 2, 0, 1])
        // np.pad(arange(6).reshape(2,3), ((2,0),(1,1)), mode="edge")
        let e = try run("Pad", opset: 2, [arange(6, dims: [2, 3])],
                        [Attribute("mode", .string(Array("edge".utf8))), Attribute("pads", .ints([2, 1, 0, 1]))])[0]
        #expect(e.dims == [4, 5])
        #expect(floats(e) == [0, 0, 1, 2, 2, 0, 0, 1, 2, 2, 0, 0, 1, 2, 2, 3, 3, 4, 5, 5])
    }

    @Test func padNegativePadsCropAndFillTheRest() throws {
        // ort("Pad", arange(6).reshape(2,3), pads=[-1,2,0,-1], constant_value=7.5) -> [[7.5, 7.5, 3, 4]]
        let y = try run("Pad", [arange(6, dims: [2, 3]), Tensor.of([Int64(-1), 2, 0, -1]), Tensor.scalar(Float(7.5))])[0]
        #expect(y.dims == [1, 4])
        #expect(floats(y) == [7.5, 7.5, 3, 4])
    }

    @Test func padFloat16WithAxes() throws {
        // ort("Pad", arange(4, float16).reshape(1,4), pads=[1,2], constant_value=f16(-0.5), axes=[-1])
        let x = Tensor.of((0..<4).map { Float16($0) }, dims: [1, 4])
        let y = try run("Pad", [x, Tensor.of([Int64(1), 2]), Tensor.scalar(Float16(-0.5)), Tensor.of([Int64(-1)])])[0]
        #expect(y.dims == [1, 7])
        #expect(y.elements(Float16.self) == [-0.5, 0, 1, 2, 3, -0.5, -0.5])
    }

    @Test func centerCropPadCropsAndPadsCentred() throws {
        // ref("CenterCropPad", arange(20).reshape(4,5), shape=[7,2])
        let y = try run("CenterCropPad", [arange(20, dims: [4, 5]), Tensor.of([Int64(7), 2])])[0]
        #expect(y.dims == [7, 2])
        #expect(floats(y) == [0, 0, 1, 2, 6, 7, 11, 12, 16, 17, 0, 0, 0, 0])
    }

    // MARK: Reshape, Split, Transpose

    @Test func reshapeZeroCopiesAndAllowZeroKeeps() throws {
        // ort("Reshape", zeros(2,3,4), [0,-1,2]).shape == (2,6,2)
        #expect(try run("Reshape", [arange(24, dims: [2, 3, 4]), Tensor.of([Int64(0), -1, 2])])[0].dims == [2, 6, 2])
        // ort("Reshape", zeros(0,3), [3,0], allowzero=1, opset 14).shape == (3,0)
        #expect(try run("Reshape", opset: 14, [Tensor.of([Float](), dims: [0, 3]), Tensor.of([Int64(3), 0])],
                        [Attribute("allowzero", .int(1))])[0].dims == [3, 0])
        #expect(throws: OpError.self) { try run("Reshape", [arange(6, dims: [6]), Tensor.of([Int64(4), -1])]) }
    }

    @Test func splitUnevenNumOutputs() throws {
        // ort("Split", arange(7, int64), num_outputs=3, opset 18) -> [0,1,2], [3,4,5], [6]
        let parts = try run("Split", [Tensor.of((0..<7).map { Int64($0) })], [Attribute("num_outputs", .int(3))], outputs: 3)
        #expect(parts.map(ints) == [[0, 1, 2], [3, 4, 5], [6]])
        #expect(throws: OpError.self) { try run("Split", opset: 13, [Tensor.of((0..<7).map { Int64($0) })], outputs: 3) }
    }

    static let transposeCases: [([Int], [Int], Int64)] = [
        ([0, 2, 3, 1], [2, 5, 7, 3], 2_941_225), ([0, 3, 1, 2], [2, 7, 3, 5], 2_912_105),
        ([3, 2, 1, 0], [7, 5, 3, 2], 2_351_405), ([1, 0, 3, 2], [3, 2, 7, 5], 2_836_330),
    ]

    @Test(arguments: transposeCases)
    func transposeMatchesNumPy(perm: [Int], dims: [Int], checksum: Int64) throws {
        // y = np.transpose(np.arange(210).reshape(2,3,5,7), perm); (y.flatten() * np.arange(210)).sum()
        let x = Tensor.of((0..<210).map { Int64($0) }, dims: [2, 3, 5, 7])
        let y = try run("Transpose", [x], [Attribute("perm", .ints(perm.map { Int64($0) }))])[0]
        #expect(y.dims == dims)
        #expect(ints(y).enumerated().reduce(Int64(0)) { $0 + Int64($1.offset) * $1.element } == checksum)
    }

    @Test func depthToSpaceModes() throws {
        // ort("DepthToSpace", arange(16).reshape(1,8,1,2), blocksize=2, mode=...)
        let x = arange(16, dims: [1, 8, 1, 2])
        let crd = try run("DepthToSpace", [x], [Attribute("blocksize", .int(2)), Attribute("mode", .string(Array("CRD".utf8)))])[0]
        #expect(crd.dims == [1, 2, 2, 4])
        #expect(floats(crd) == [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15])
        let dcr = try run("DepthToSpace", [x], [Attribute("blocksize", .int(2))])[0]
        #expect(floats(dcr) == [0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15])
    }

    @Test func tileAndCompressAndReverseSequence() throws {
        // np.tile([[1,2],[3,4]], (2,3))
        let t = try run("Tile", [Tensor.of([Int64(1), 2, 3, 4], dims: [2, 2]), Tensor.of([Int64(2), 3])])[0]
        #expect(t.dims == [4, 6])
        #expect(ints(t) == [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4])
        // np.compress([False,True,True], arange(12).reshape(3,4), axis=0); np.compress([1,0,0,1], arange(12)...)
        let x = Tensor.of((0..<12).map { Int64($0) }, dims: [3, 4])
        #expect(ints(try run("Compress", [x, Tensor.of([false, true, true])], [Attribute("axis", .int(0))])[0]) == [4, 5, 6, 7, 8, 9, 10, 11])
        #expect(ints(try run("Compress", [x, Tensor.of([true, false, false, true])])[0]) == [0, 3])
        // ort("ReverseSequence", arange(12).reshape(3,4), [3,1,0,2], batch_axis=1, time_axis=0)
        let r = try run("ReverseSequence", [arange(12, dims: [3, 4]), Tensor.of([Int64(3), 1, 0, 2])],
                        [Attribute("batch_axis", .int(1)), Attribute("time_axis", .int(0))])[0]
        #expect(floats(r) == [8, 1, 2, 7, 4, 5, 6, 3, 0, 9, 10, 11])
    }

    // MARK: Gather, Scatter

    @Test func gatherNDWithBatchDimsAndNegativeIndices() throws {
        // ort("GatherND", arange(24).reshape(2,3,4), [[[1,-1]],[[-2,0]]], batch_dims=1) -> [[7], [16]]
        let y = try run("GatherND", [arange(24, dims: [2, 3, 4]), Tensor.of([Int64(1), -1, -2, 0], dims: [2, 1, 2])],
                        [Attribute("batch_dims", .int(1))])[0]
        #expect(y.dims == [2, 1])
        #expect(floats(y) == [7, 16])
    }

    @Test func gatherElementsNegativeIndices() throws {
        // ort("GatherElements", arange(9).reshape(3,3), [[2,-1],[0,1]], axis=0) -> [[6, 7], [0, 4]]
        let y = try run("GatherElements", [arange(9, dims: [3, 3]), Tensor.of([Int64(2), -1, 0, 1], dims: [2, 2])])[0]
        #expect(floats(y) == [6, 7, 0, 4])
        #expect(throws: OpError.self) { try run("GatherElements", [arange(9, dims: [3, 3]), Tensor.of([Int64(3)], dims: [1, 1])]) }
    }

    @Test func gatherStrings() throws {
        // np.take(np.array(['a','bc','','def']), [[3,-4]], axis=0) -> [['def', 'a']]
        let s = Tensor(unchecked: .string, dims: [4], storage: .strings(["a", "bc", "", "def"].map { Array($0.utf8) }))
        let y = try run("Gather", [s, Tensor.of([Int64(3), -4], dims: [1, 2])])[0]
        #expect(y.dims == [1, 2])
        guard case .strings(let v) = y.storage else { Issue.record("not strings"); return }
        #expect(v.map { String(decoding: $0, as: UTF8.self) } == ["def", "a"])
    }

    @Test func scatterElementsMulWithDuplicates() throws {
        // ort("ScatterElements", 2*ones(2,3), [[0,0,2],[1,1,-3]], [[3,5,7],[.5,4,10]], axis=1, reduction="mul")
        let y = try run("ScatterElements", [Tensor.of([Float](repeating: 2, count: 6), dims: [2, 3]),
                                            Tensor.of([Int64(0), 0, 2, 1, 1, -3], dims: [2, 3]),
                                            Tensor.of([Float(3), 5, 7, 0.5, 4, 10], dims: [2, 3])],
                        [Attribute("axis", .int(1)), Attribute("reduction", .string(Array("mul".utf8)))])[0]
        #expect(floats(y) == [30, 2, 14, 20, 4, 2])
    }

    @Test func scatterNDMax() throws {
        // ort("ScatterND", [[1,5],[3,2]], [[1],[0],[1]], [[4,1],[0,9],[2,2]], reduction="max") -> [[1,9],[4,2]]
        let y = try run("ScatterND", [Tensor.of([Float(1), 5, 3, 2], dims: [2, 2]), Tensor.of([Int64(1), 0, 1], dims: [3, 1]),
                                      Tensor.of([Float(4), 1, 0, 9, 2, 2], dims: [3, 2])],
                        [Attribute("reduction", .string(Array("max".utf8)))])[0]
        #expect(floats(y) == [1, 9, 4, 2])
    }

    @Test func tensorScatterCircular() throws {
        // ref("TensorScatter", zeros(2,1,4,2), arange(1,13).reshape(2,1,3,2), write_indices=[2,0], mode="circular", opset 24)
        let y = try run("TensorScatter", opset: 24, [Tensor.of([Float](repeating: 0, count: 16), dims: [2, 1, 4, 2]),
                                                    Tensor.of((1...12).map { Float($0) }, dims: [2, 1, 3, 2]), Tensor.of([Int64(2), 0])],
                        [Attribute("mode", .string(Array("circular".utf8)))])[0]
        #expect(floats(y) == [5, 6, 0, 0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 0, 0])
    }

    // MARK: Unique, Trilu, OneHot, NonZero

    @Test func uniqueUnsorted() throws {
        // ort("Unique", [2,1,1,3,4,3], sorted=0) -> [2,1,3,4], [0,1,3,4], [0,1,1,2,3,2], [1,2,2,1]
        let out = try run("Unique", [Tensor.of([Float(2), 1, 1, 3, 4, 3])], [Attribute("sorted", .int(0))], outputs: 4)
        #expect(floats(out[0]) == [2, 1, 3, 4])
        #expect(ints(out[1]) == [0, 1, 3, 4])
        #expect(ints(out[2]) == [0, 1, 1, 2, 3, 2])
        #expect(ints(out[3]) == [1, 2, 2, 1])
    }

    @Test func uniqueAlongAxis() throws {
        // ref("Unique", x=[[1,1,2,0],[0,0,3,5],[0,0,4,1]] int32, axis=1)
        //   -> [[0,1,2],[5,0,3],[1,0,4]], [3,0,2], [1,1,2,0], [1,2,1]
        let x = Tensor.of([Int32(1), 1, 2, 0, 0, 0, 3, 5, 0, 0, 4, 1], dims: [3, 4])
        let out = try run("Unique", [x], [Attribute("axis", .int(1))], outputs: 4)
        #expect(out[0].dims == [3, 3])
        #expect(out[0].elements(Int32.self) == [0, 1, 2, 5, 0, 3, 1, 0, 4])
        #expect(ints(out[1]) == [3, 0, 2])
        #expect(ints(out[2]) == [1, 1, 2, 0])
        #expect(ints(out[3]) == [1, 2, 1])
    }

    @Test func triluBothWays() throws {
        // np.tril(arange(1,13).reshape(3,4), -1); np.triu(..., 2)
        let x = Tensor.of((1...12).map { Int64($0) }, dims: [3, 4])
        let lower = try run("Trilu", opset: 14, [x, Tensor.scalar(Int64(-1))], [Attribute("upper", .int(0))])[0]
        #expect(ints(lower) == [0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0])
        let upper = try run("Trilu", opset: 14, [x, Tensor.scalar(Int64(2))])[0]
        #expect(ints(upper) == [0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0])
    }

    @Test func oneHotNegativeAndOutOfRange() throws {
        // ref("OneHot", [[0,-1],[5,2]] int64, depth=3, values=[-1,7] int32, axis=1)
        let y = try run("OneHot", opset: 11, [Tensor.of([Int64(0), -1, 5, 2], dims: [2, 2]), Tensor.scalar(Int64(3)),
                                             Tensor.of([Int32(-1), 7])], [Attribute("axis", .int(1))])[0]
        #expect(y.dims == [2, 3, 2])
        #expect(y.elements(Int32.self) == [7, -1, -1, -1, -1, 7, -1, -1, -1, -1, -1, 7])
    }

    @Test func nonZeroTreatsNegativeZeroAsZero() throws {
        // np.vstack(np.nonzero(np.array([[0., -0., nan], [1e-30, 0, -2]], float32))) -> [[0,1,1],[2,0,2]]
        let x = Tensor.of([Float(0), -0.0, .nan, 1e-30, 0, -2], dims: [2, 3])
        let y = try run("NonZero", opset: 13, [x])[0]
        #expect(y.dims == [2, 3])
        #expect(ints(y) == [0, 1, 1, 2, 0, 2])
    }

    // MARK: Constants, Dropout

    @Test func rangeAndEyeLike() throws {
        // f = np.float32; np.arange(f(1).item(), f(2.05).item(), f(0.3).item()).astype(f) (onnx.reference's
        // Range); np.arange(10, -7, -4)
        let f = try run("Range", opset: 11, [Tensor.scalar(Float(1)), Tensor.scalar(Float(2.05)), Tensor.scalar(Float(0.3))])[0]
        #expect(floats(f) == [1.0, 1.2999999523162842, 1.600000023841858, 1.9000000953674316])
        let i = try run("Range", opset: 11, [Tensor.scalar(Int32(10)), Tensor.scalar(Int32(-7)), Tensor.scalar(Int32(-4))])[0]
        #expect(i.elements(Int32.self) == [10, 6, 2, -2, -6])
        // np.eye(3, 4, k=1)
        let e = try run("EyeLike", opset: 9, [Tensor.of([Int64](repeating: 5, count: 12), dims: [3, 4])],
                        [Attribute("k", .int(1)), Attribute("dtype", .int(1))])[0]
        #expect(floats(e) == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
    }

    @Test func constantOfShapeAndSparseConstant() throws {
        let c = try run("ConstantOfShape", opset: 9, [Tensor.of([Int64(2), 2])], [Attribute("value", .tensor(Tensor.of([Int32(7)])))])[0]
        #expect(c.dtype == .int32 && c.dims == [2, 2] && c.elements(Int32.self) == [7, 7, 7, 7])
        // A COO sparse tensor with values [5, 6] at (0,2) and (1,0) of a 2x3 matrix.
        let sparse = SparseTensor(values: Tensor.of([Float(5), 6]), indices: Tensor.of([Int64(0), 2, 1, 0], dims: [2, 2]), dims: [2, 3])
        let d = try run("Constant", opset: 13, [], [Attribute("sparse_value", .sparseTensor(sparse))])[0]
        #expect(floats(d) == [0, 0, 5, 6, 0, 0])
    }

    @Test func trainingDropoutMatchesNumPySeed() throws {
        // np.random.seed(0); m = np.random.uniform(0, 1, (3,4)) >= 0.5; y = m * x * 2, x = arange(12)*0.5
        let x = Tensor.of((0..<12).map { Float($0) * 0.5 }, dims: [3, 4])
        let out = try run("Dropout", opset: 13, [x, Tensor.scalar(Float(0.5)), Tensor.scalar(true)],
                          [Attribute("seed", .int(0))], outputs: 2)
        #expect(out[1].elements(Bool.self) == [true, true, true, true, false, true, false, true, true, false, true, true])
        #expect(floats(out[0]) == [0, 1, 2, 3, 0, 5, 0, 7, 8, 0, 10, 11])
    }

    // MARK: Bad operands

    @Test func badOperandsThrowInsteadOfTrapping() throws {
        let x = arange(6, dims: [2, 3])
        let i64 = { (v: [Int64]) in Tensor.of(v) }
        let cases: [(String, Int, [Tensor?], [Attribute])] = [
            ("Gather", 13, [x, i64([2])], []),
            ("Gather", 13, [x, i64([-3])], []),
            ("Slice", 13, [x, i64([0]), i64([1]), i64([0]), i64([0])], []),
            ("Slice", 13, [x, i64([0, 0]), i64([1, 1]), i64([1, 1]), nil], []),
            ("Pad", 18, [x, i64([Int64.max, 0, 1, 0])], []),
            ("Pad", 18, [x, i64([0, -4, 0, 0])], []),
            ("Pad", 18, [x, i64([1 << 40, 0, 0, 1 << 40])], [Attribute("mode", .string(Array("edge".utf8)))]),
            ("Tile", 13, [x, i64([Int64.max, 2])], []),
            ("Reshape", 14, [x, i64([Int64.max, 2, -1])], []),
            ("Reshape", 14, [x, i64([-1, -1])], []),
            ("OneHot", 11, [i64([1]), Tensor.scalar(Float(1e30)), Tensor.of([Float(0), 1])], []),
            ("Range", 11, [Tensor.scalar(Float(0)), Tensor.scalar(Float(1e30)), Tensor.scalar(Float(1e-30))], []),
            ("Range", 11, [Tensor.scalar(Int64.min), Tensor.scalar(Int64.max), Tensor.scalar(Int64(1))], []),
            ("Unsqueeze", 13, [x, i64([5])], []),
            ("Squeeze", 13, [x, i64([0])], []),
            ("Split", 13, [x, i64([Int64.max, Int64.min + 2])], []),
            ("Transpose", 13, [x], [Attribute("perm", .ints([0, 0]))]),
            ("ScatterND", 13, [x, i64([2]).reshaped([1, 1]), arange(3, dims: [1, 3])], []),
            ("GatherND", 13, [x, i64([0, 0]).reshaped([1, 2])], [Attribute("batch_dims", .int(2))]),
            ("GatherElements", 13, [x, Tensor.of([Int64](repeating: 0, count: 8), dims: [2, 4])], [Attribute("axis", .int(0))]),
            ("ConstantOfShape", 9, [i64([-1])], []),
            ("DepthToSpace", 13, [arange(4, dims: [1, 4, 1, 1])], [Attribute("blocksize", .int(1 << 40))]),
            ("Concat", 13, [x, arange(4, dims: [2, 2])], [Attribute("axis", .int(0))]),
            ("Compress", 11, [x, Tensor.of([false, false, true])], [Attribute("axis", .int(0))]),
            ("ReverseSequence", 10, [x, i64([4, 1, 1])], []),
        ]
        for (op, opset, inputs, attributes) in cases {
            #expect(throws: OpError.self, "\(op) \(inputs.map { $0?.dims ?? [] })") { try run(op, opset: opset, inputs, attributes) }
        }
        // Huge k is fine: Trilu and EyeLike keep everything or nothing.
        #expect(floats(try run("Trilu", opset: 14, [x, Tensor.scalar(Int64.min)])[0]) == [0, 1, 2, 3, 4, 5])
        #expect(floats(try run("EyeLike", opset: 9, [x], [Attribute("k", .int(Int64.max))])[0]) == [0, 0, 0, 0, 0, 0])
    }
}
