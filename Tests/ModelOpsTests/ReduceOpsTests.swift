import Testing
import ModelIR
@testable import ModelOps

/// Reductions, ArgMax/ArgMin, CumSum, Softmax family and TopK. Expected values come from
/// `onnx.reference` (`ref(...)`) or onnxruntime 1.32 (`ort(...)`), see ElementwiseOpsTests.
/// `x` below is `np.arange(24, dtype=np.float32).reshape(2,3,4) - 10`.
@Suite("Reduction kernels")
struct ReduceOpsTests {
    let x = Tensor.of((0..<24).map { Float($0) - 10 }, dims: [2, 3, 4])
    func floats(_ t: Tensor) -> [Float] { t.elements(Float.self) }
    func axes(_ v: [Int64]) -> Tensor { Tensor.of(v) }

    @Test func axesAsInputAndAttribute() throws {
        // ref("ReduceSum", [x, int64 [0,2]], keepdims=0, opset 13) -> [-20, 12, 44]
        let s = try runMathOp("ReduceSum", opset: 13, [x, axes([0, 2])], [Attribute("keepdims", .int(0))])[0]
        #expect(s.dims == [3] && floats(s) == [-20, 12, 44])
        // ref("ReduceMean", [x], axes=[-2,0], keepdims=0, opset 13) -> [0, 1, 2, 3]
        let m = try runMathOp("ReduceMean", opset: 13, [x], [Attribute("axes", .ints([-2, 0])), Attribute("keepdims", .int(0))])[0]
        #expect(m.dims == [4] && floats(m) == [0, 1, 2, 3])
        // ref("ReduceL2", [x, int64 []], keepdims=1, opset 18) -> [[[34.698704]]]
        let l2 = try runMathOp("ReduceL2", opset: 18, [x, axes([])])[0]
        #expect(l2.dims == [1, 1, 1] && mathClose(floats(l2), [34.698704]))
        // ref("ReduceLogSum", [abs(x)+1], axes=[1], opset 11).ravel()
        let ls = try runMathOp("ReduceLogSum", opset: 11, [try runMathOp("Abs", [x])[0].mathAdding(1)], [Attribute("axes", .ints([1]))])[0]
        #expect(ls.dims == [2, 1, 4])
        #expect(mathClose(floats(ls), [3.0445225, 2.8903718, 2.7080503, 2.6390574, 3.0445225, 3.1780539, 3.295837, 3.4011974]))
        #expect(throws: OpError.self) { try runMathOp("ReduceSum", opset: 13, [x, axes([3])]) }
        #expect(throws: OpError.self) { try runMathOp("ReduceSum", opset: 13, [Tensor.scalar(Float(3)), axes([0])]) }
        // A 0-d input reduces over no axes: ref("ReduceSum", [f32 3.0], opset 13) -> 3.0, shape ()
        let scalar = try runMathOp("ReduceSum", opset: 13, [Tensor.scalar(Float(3))])[0]
        #expect(scalar.dims == [] && floats(scalar) == [3])
    }

    @Test func noopWithEmptyAxesStillAppliesTheElementwisePart() throws {
        // ref("ReduceSum", [x[0,0], int64 []], noop_with_empty_axes=1, opset 13) -> [-10,-9,-8,-7]
        let row = Tensor.of([Float(-10), -9, -8, -7])
        #expect(floats(try runMathOp("ReduceSum", opset: 13, [row, axes([])], [Attribute("noop_with_empty_axes", .int(1))])[0])
                == [-10, -9, -8, -7])
        // ref("ReduceL2", [f32 [-3,4], int64 []], noop_with_empty_axes=1, opset 18) -> [3, 4]
        #expect(floats(try runMathOp("ReduceL2", opset: 18, [Tensor.of([Float(-3), 4]), axes([])],
                                     [Attribute("noop_with_empty_axes", .int(1))])[0]) == [3, 4])
    }

    @Test func emptyReductionsGiveTheIdentity() throws {
        // ref("ReduceMax", [zeros((2,0,3)), int64 [1]], keepdims=1, opset 18) -> -inf, shape (2,1,3)
        let mx = try runMathOp("ReduceMax", opset: 18, [Tensor.of([Float](), dims: [2, 0, 3]), axes([1])])[0]
        #expect(mx.dims == [2, 1, 3] && floats(mx).allSatisfy { $0 == -.infinity })
        // ref("ReduceMin", [int32 zeros((2,0)), int64 [1]], keepdims=0, opset 18) -> [2147483647, 2147483647]
        let mn = try runMathOp("ReduceMin", opset: 18, [Tensor.of([Int32](), dims: [2, 0]), axes([1])], [Attribute("keepdims", .int(0))])[0]
        #expect(mn.elements(Int32.self) == [.max, .max])
    }

    @Test func integerMeanTruncatesAndProdAlongLastAxis() throws {
        // ref("ReduceMean", [int32 [[1,2],[3,5]], int64 [1]], keepdims=0, opset 18) -> [1, 4]
        #expect(try runMathOp("ReduceMean", opset: 18, [Tensor.of([Int32(1), 2, 3, 5], dims: [2, 2]), axes([1])],
                              [Attribute("keepdims", .int(0))])[0].elements(Int32.self) == [1, 4])
        // ref("ReduceProd", [x[:,:,:2]+0.5, int64 [-1]], opset 18).ravel() -> [80.75,24.75,0.75,8.75,48.75,120.75]
        let pairs = Tensor.of([Float(-9.5), -8.5, -5.5, -4.5, -1.5, -0.5, 2.5, 3.5, 6.5, 7.5, 10.5, 11.5], dims: [2, 3, 2])
        let p = try runMathOp("ReduceProd", opset: 18, [pairs, axes([-1])])[0]
        #expect(p.dims == [2, 3, 1] && floats(p) == [80.75, 24.75, 0.75, 8.75, 48.75, 120.75])
    }

    /// Long rows take the eight-accumulator path; L1/L2/SumSquare merge partial sums of
    /// transformed elements. Oracle: the same sums in Double, computed here.
    @Test func longRowsMergePartialAccumulations() throws {
        let row = (0..<37).map { Float(($0 * 13) % 17) - 8.5 }
        let t = Tensor.of(row + row.map { -$0 * 2 }, dims: [2, 37])
        let l1 = [row.reduce(0.0) { $0 + Double(abs($1)) }, row.reduce(0.0) { $0 + Double(abs($1 * 2)) }]
        let ss = [row.reduce(0.0) { $0 + Double($1 * $1) }, row.reduce(0.0) { $0 + Double(4 * $1 * $1) }]
        let keep0 = [Attribute("keepdims", .int(0))]
        #expect(mathClose(floats(try runMathOp("ReduceL1", [t, axes([1])], keep0)[0]), l1.map(Float.init)))
        #expect(mathClose(floats(try runMathOp("ReduceSumSquare", [t, axes([1])], keep0)[0]), ss.map(Float.init)))
        #expect(mathClose(floats(try runMathOp("ReduceL2", [t, axes([1])], keep0)[0]), ss.map { Float($0.squareRoot()) }))
        #expect(floats(try runMathOp("ReduceMax", [t, axes([1])], keep0)[0]) == [row.max()!, row.map { -$0 * 2 }.max()!])
        let ints = Tensor.of((0..<40).map { Int32($0 - 20) }, dims: [40])
        #expect(try runMathOp("ReduceL1", [ints, axes([0])], keep0)[0].elements(Int32.self) == [400])
    }

    @Test func logSumExpIsStable() throws {
        // ref("ReduceLogSumExp", [f32 [1000,1000,-inf,0], int64 [0]], keepdims=0, opset 18) -> 1000.6932
        let y = try runMathOp("ReduceLogSumExp", opset: 18, [Tensor.of([Float(1000), 1000, -.infinity, 0]), axes([0])],
                              [Attribute("keepdims", .int(0))])[0]
        #expect(y.dims == [] && mathClose(floats(y), [1000.6932]))
    }

    /// Threaded reductions over a kept outer axis agree with the single-threaded result.
    @Test func threadedReductionAgrees() throws {
        let big = Tensor.of((0..<(64 * 50 * 40)).map { Float($0 % 101) }, dims: [64, 50, 40])
        for a in [[1], [2], [1, 2]] as [[Int64]] {
            let one = try runMathOp("ReduceSum", opset: 13, [big, axes(a)])[0]
            let four = try runMathOp("ReduceSum", opset: 13, [big, axes(a)], threads: 4)[0]
            #expect(one.isBitwiseEqual(to: four), "axes \(a)")
        }
    }

    @Test func argMaxTiesAndNaN() throws {
        // m = f32 [[1,3,3],[nan,2,nan]]
        // ref("ArgMax", [m], axis=1, select_last_index=1, opset 13) -> [[2],[2]]; without: [[1],[0]]
        let m = Tensor.of([Float(1), 3, 3, .nan, 2, .nan], dims: [2, 3])
        let last = try runMathOp("ArgMax", opset: 13, [m], [Attribute("axis", .int(1)), Attribute("select_last_index", .int(1))])[0]
        #expect(last.dims == [2, 1] && last.elements(Int64.self) == [2, 2])
        #expect(try runMathOp("ArgMax", opset: 13, [m], [Attribute("axis", .int(1))])[0].elements(Int64.self) == [1, 0])
        // ref("ArgMin", [f32 [[1,3,1],[0,2,0]]], axis=1, keepdims=0, select_last_index=1, opset 13) -> [2, 2]
        let n = try runMathOp("ArgMin", opset: 13, [Tensor.of([Float(1), 3, 1, 0, 2, 0], dims: [2, 3])],
                              [Attribute("axis", .int(1)), Attribute("keepdims", .int(0)), Attribute("select_last_index", .int(1))])[0]
        #expect(n.dims == [2] && n.elements(Int64.self) == [2, 2])
    }

    @Test func cumSumExclusiveReverse() throws {
        // ref("CumSum", [f32 [[1,2,3],[4,5,6]], int32 1], exclusive=1, reverse=1, opset 14) -> [[5,3,0],[11,6,0]]
        let y = try runMathOp("CumSum", opset: 14, [Tensor.of([Float(1), 2, 3, 4, 5, 6], dims: [2, 3]), Tensor.scalar(Int32(1))],
                              [Attribute("exclusive", .int(1)), Attribute("reverse", .int(1))])[0]
        #expect(floats(y) == [5, 3, 0, 11, 6, 0])
        // ref("CumSum", [int64 [[1,2,3],[4,5,6]], int64 -2], opset 14) -> [[1,2,3],[5,7,9]]
        let z = try runMathOp("CumSum", opset: 14, [Tensor.of([Int64(1), 2, 3, 4, 5, 6], dims: [2, 3]), Tensor.scalar(Int64(-2))])[0]
        #expect(z.elements(Int64.self) == [1, 2, 3, 5, 7, 9])
    }

    @Test func softmaxCoercesTo2DBeforeOpset13() throws {
        let y = Tensor.of([Float(1), 2, 3, 4, 5, 1, 1, 1, 0, 0, 0, 0], dims: [1, 3, 4])
        // ort("Softmax", [y], axis=1, opset 11).ravel(): one softmax over all 12 values
        #expect(mathClose(floats(try runMathOp("Softmax", opset: 11, [y], [Attribute("axis", .int(1))])[0]),
                          [0.01107879, 0.03011528, 0.08186182, 0.22252351, 0.6048816, 0.01107879,
                           0.01107879, 0.01107879, 0.00407566, 0.00407566, 0.00407566, 0.00407566]))
        // ref("Softmax", [y], axis=1, opset 13).ravel(): along axis 1 only
        #expect(mathClose(floats(try runMathOp("Softmax", opset: 13, [y], [Attribute("axis", .int(1))])[0]),
                          [0.01786798, 0.66524094, 0.8437947, 0.93623954, 0.9755587, 0.24472846,
                           0.1141952, 0.04661262, 0.00657326, 0.09003057, 0.04201007, 0.01714783]))
        // ref("LogSoftmax", [y], axis=-1, opset 13).ravel()
        #expect(mathClose(floats(try runMathOp("LogSoftmax", opset: 13, [y])[0]),
                          [-3.4401896, -2.4401896, -1.4401897, -0.44018966, -0.05349055, -4.0534906,
                           -4.0534906, -4.0534906, -1.3862944, -1.3862944, -1.3862944, -1.3862944]))
        // ort("Hardmax", [y], axis=1, opset 11).ravel() -> 1 only at the global maximum (index 4)
        #expect(floats(try runMathOp("Hardmax", opset: 11, [y], [Attribute("axis", .int(1))])[0])
                == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        // ref("Hardmax", [f32 [[1,3,3],[0,nan,5]]], axis=1, opset 13).ravel() -> [0,1,0,0,1,0]
        #expect(floats(try runMathOp("Hardmax", opset: 13, [Tensor.of([Float(1), 3, 3, 0, .nan, 5], dims: [2, 3])],
                                     [Attribute("axis", .int(1))])[0]) == [0, 1, 0, 0, 1, 0])
    }

    @Test func topKTiesAndNaN() throws {
        let v = Tensor.of([Float(1), 3, 3, .nan, 2, 3])
        // ref("TopK", [v, int64 [4]], axis=0, opset 11) -> values [nan,3,3,3], indices [3,1,2,5]
        let big = try runMathOp("TopK", opset: 11, [v, Tensor.of([Int64(4)])], [Attribute("axis", .int(0))], outputs: 2)
        let bv = floats(big[0])
        #expect(bv[0].isNaN && Array(bv[1...]) == [3, 3, 3] && big[1].elements(Int64.self) == [3, 1, 2, 5])
        // ref(..., largest=0) -> values [1,2,3,3], indices [0,4,1,2]
        let small = try runMathOp("TopK", opset: 11, [v, Tensor.of([Int64(4)])], [Attribute("largest", .int(0))], outputs: 2)
        #expect(floats(small[0]) == [1, 2, 3, 3] && small[1].elements(Int64.self) == [0, 4, 1, 2])
        // ref("TopK", [int32 [[5,0],[1,9],[5,9],[2,9]], int64 [2]], axis=0, opset 11) -> [[5,9],[5,9]], [[0,1],[2,2]]
        let m = try runMathOp("TopK", opset: 11, [Tensor.of([Int32(5), 0, 1, 9, 5, 9, 2, 9], dims: [4, 2]), Tensor.of([Int64(2)])],
                              [Attribute("axis", .int(0))], outputs: 2)
        #expect(m[0].dims == [2, 2] && m[0].elements(Int32.self) == [5, 9, 5, 9] && m[1].elements(Int64.self) == [0, 1, 2, 2])
        // The heap path (k < n/8) agrees with a full sort of distinct values.
        let long = Tensor.of((0..<1000).map { Float(($0 * 7919) % 1000) })
        let top = try runMathOp("TopK", opset: 11, [long, Tensor.of([Int64(5)])], outputs: 2)
        #expect(floats(top[0]) == [999, 998, 997, 996, 995])
        #expect(throws: OpError.self) { try runMathOp("TopK", opset: 11, [v, Tensor.of([Int64(7)])], outputs: 2) }
    }
}

extension ReduceOpsTests {
    /// s = np.arange(24, dtype=np.float32).reshape(2,3,4)/10 - 1; t = int64 [[0,2,1,1],[2,-1,0,1]]
    var scores: Tensor { Tensor.of((0..<24).map { Float($0) / 10 - 1 }, dims: [2, 3, 4]) }
    var labels: Tensor { Tensor.of([Int64(0), 2, 1, 1, 2, -1, 0, 1], dims: [2, 4]) }

    @Test func negativeLogLikelihoodLoss() throws {
        // ref("NegativeLogLikelihoodLoss", [s, t, f32 [0.5,1,2]], reduction='mean', ignore_index=-1, opset 13) -> -0.21249998
        let m = try runMathOp("NegativeLogLikelihoodLoss", opset: 13, [scores, labels, Tensor.of([Float(0.5), 1, 2])],
                              [Attribute("reduction", .string(Array("mean".utf8))), Attribute("ignore_index", .int(-1))])[0]
        #expect(m.dims == [] && mathClose(floats(m), [-0.21249998]))
        // ref(..., [s, where(t<0, 0, t)], reduction='none') -> [1, 0.1, 0.4, 0.3, -1, -0.3, -0.4, -0.9]
        let clipped = Tensor.of([Int64(0), 2, 1, 1, 2, 0, 0, 1], dims: [2, 4])
        let n = try runMathOp("NegativeLogLikelihoodLoss", opset: 13, [scores, clipped], [Attribute("reduction", .string(Array("none".utf8)))])[0]
        #expect(n.dims == [2, 4] && mathClose(floats(n), [1, 0.1, 0.4, 0.3, -1, -0.3, -0.4, -0.9]))
        // A target outside [0, C) that is not ignore_index is an error.
        #expect(throws: OpError.self) { try runMathOp("NegativeLogLikelihoodLoss", opset: 13, [scores, labels]) }
    }

    @Test func softmaxCrossEntropyLoss() throws {
        // ref("SoftmaxCrossEntropyLoss", [s, where(t<0,0,t)], reduction='sum', opset 13, 2 outputs)
        //   -> 9.610004, log_prob.ravel()[:5] = [-1.5512506,-1.5512505,-1.5512506,-1.5512506,-1.1512505]
        let clipped = Tensor.of([Int64(0), 2, 1, 1, 2, 0, 0, 1], dims: [2, 4])
        let r = try runMathOp("SoftmaxCrossEntropyLoss", opset: 13, [scores, clipped], [Attribute("reduction", .string(Array("sum".utf8)))],
                              outputs: 2)
        #expect(mathClose(floats(r[0]), [9.610004]) && r[1].dims == [2, 3, 4])
        #expect(mathClose(Array(floats(r[1])[0..<5]), [-1.5512506, -1.5512505, -1.5512506, -1.5512506, -1.1512505]))
        // ref("SoftmaxCrossEntropyLoss", [s, t], ignore_index=-1, opset 13) -> 1.1512506 (mean over counted)
        let m = try runMathOp("SoftmaxCrossEntropyLoss", opset: 13, [scores, labels], [Attribute("ignore_index", .int(-1))])[0]
        #expect(mathClose(floats(m), [1.1512506]))
    }

    @Test func cumProdSwishBitCast() throws {
        // ref("CumProd", [int32 [1,2,3,4], int32 0], exclusive=1, opset 26) -> [1,1,2,6]
        #expect(try runMathOp("CumProd", opset: 26, [Tensor.of([Int32(1), 2, 3, 4]), Tensor.scalar(Int32(0))],
                              [Attribute("exclusive", .int(1))])[0].elements(Int32.self) == [1, 1, 2, 6])
        // ref("Swish", [f32 [-2,0,1.5]], alpha=0.5, opset 24) -> [-0.5378828, 0, 1.0187681]
        #expect(mathClose(floats(try runMathOp("Swish", opset: 24, [Tensor.of([Float(-2), 0, 1.5])], [Attribute("alpha", .float(0.5))])[0]),
                          [-0.5378828, 0, 1.0187681]))
        // ref("BitCast", [f32 [1,-2]], to=INT32, opset 26) -> [1065353216, -1073741824]
        #expect(try runMathOp("BitCast", opset: 26, [Tensor.of([Float(1), -2])], [Attribute("to", .int(6))])[0]
                .elements(Int32.self) == [1_065_353_216, -1_073_741_824])
        #expect(throws: OpError.self) { try runMathOp("BitCast", opset: 26, [Tensor.of([Float(1)])], [Attribute("to", .int(7))]) }
    }
}

extension Tensor {
    /// float32 elements plus `value` (test helper).
    func mathAdding(_ value: Float) -> Tensor {
        Tensor.of(elements(Float.self).map { $0 + value }, dims: dims)
    }
}
