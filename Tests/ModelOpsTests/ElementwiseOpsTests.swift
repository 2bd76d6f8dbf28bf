import Testing
import Foundation
import ModelIR
@testable import ModelOps

/// Runs `op` at `opset` on `inputs` (nil: an absent optional input) through its registered
/// kernel and returns the output tensors.
func runMathOp(_ op: String, opset: Int = 18, _ inputs: [Tensor?], _ attributes: [Attribute] = [],
           outputs: Int = 1, threads: Int = 1) throws -> [Tensor] {
    var g = Graph()
    let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
    let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
    let id = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
    guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
    let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) },
                            threads: threads)
    return try schema.kernel(ctx).map { v in
        guard let t = v.tensor else { throw OpError.invalid("output is not a tensor") }
        return t
    }
}

/// Whether `a` and `b` agree within `rtol` (relative) or `atol`, NaN matching NaN.
func mathClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        (x.isNaN && y.isNaN) || x == y || abs(x - y) <= atol + rtol * abs(y)
    }
}

/// Elementwise math, activations and broadcasting binary ops. Expected values come from
/// `onnx.reference` (`ref(op, inputs, attrs, opset)`: a one-node model run by
/// `onnx.reference.ReferenceEvaluator`), onnxruntime 1.32 (`ort(...)`, the same model run by
/// `onnxruntime.InferenceSession`) or NumPy 2.4, each with the Python that produced it.
@Suite("Elementwise kernels")
struct ElementwiseOpsTests {
    func f32(_ v: [Float], _ dims: [Int]? = nil) -> Tensor { Tensor.of(v, dims: dims) }
    func i32(_ v: [Int32], _ dims: [Int]? = nil) -> Tensor { Tensor.of(v, dims: dims) }
    func floats(_ t: Tensor) -> [Float] { t.elements(Float.self) }

    // MARK: Broadcasting

    /// Broadcasting through every path (equal shapes, scalar, trailing, middle, both sides,
    /// rank-changing) against a naive per-element index computation, single- and
    /// multi-threaded.
    @Test(arguments: [
        ([3, 37, 1, 129], [37, 5, 1]), ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], []), ([], [4]), ([5, 1], [1, 7]),
        ([4, 1, 3, 1], [1, 6, 1, 5]), ([200, 300], [300]), ([200, 300], [200, 1]), ([0, 3], [1, 3]),
    ])
    func broadcastAddMatchesNaiveIndexing(_ aDims: [Int], _ bDims: [Int]) throws {
        let a = f32((0..<(Shape.elementCount(of: aDims)!)).map { Float($0 % 97) }, aDims)
        let b = f32((0..<(Shape.elementCount(of: bDims)!)).map { Float($0 % 89) * 1000 }, bDims)
        let out = try Broadcast.shape(aDims, bDims)
        // Naive: for each output index, the operands' indices with broadcast dims pinned to 0.
        let rank = out.count
        func source(_ flat: Int, _ dims: [Int]) -> Int {
            var rest = flat, index = 0, step = 1
            var coords = [Int](repeating: 0, count: rank)
            for i in stride(from: rank - 1, through: 0, by: -1) { coords[i] = rest % out[i]; rest /= out[i] }
            for i in stride(from: dims.count - 1, through: 0, by: -1) {
                let c = dims[i] == 1 ? 0 : coords[rank - dims.count + i]
                index += c * step
                step *= dims[i]
            }
            return index
        }
        let av = floats(a), bv = floats(b)
        let expected = (0..<(Shape.elementCount(of: out)!)).map { av[source($0, aDims)] + bv[source($0, bDims)] }
        for threads in [1, 3] {
            let y = try runMathOp("Add", [a, b], threads: threads)[0]
            #expect(y.dims == out)
            #expect(floats(y) == expected, "threads \(threads)")
        }
    }

    @Test func broadcastErrorNamesBothShapes() {
        #expect {
            try runMathOp("Mul", [f32([1, 2, 3], [3]), f32([1, 2], [2])])
        } throws: { error in
            "\(error)".contains("[3]") && "\(error)".contains("[2]")
        }
    }

    @Test func legacyAxisBroadcast() throws {
        // Opset 6 aligns B at `axis`; numpy of the spec's definition:
        // (np.arange(24).reshape(2,3,4) + np.array([100,200,300]).reshape(3,1)).ravel()[[0,5,11,23]]
        //   -> [100, 205, 311, 323]
        let y = try runMathOp("Add", opset: 6, [f32((0..<24).map(Float.init), [2, 3, 4]), f32([100, 200, 300])],
                          [Attribute("broadcast", .int(1)), Attribute("axis", .int(1))])[0]
        let v = floats(y)
        #expect(y.dims == [2, 3, 4])
        #expect([v[0], v[5], v[11], v[23]] == [100, 205, 311, 323])
    }

    // MARK: Integer arithmetic

    @Test func integerDivisionTruncatesAndZeroDivisorGivesZero() throws {
        // ref("Div", [int32 [-7,7,-7,7,5,-2147483648], [2,-2,-2,2,0,-1]]) -> [-3,-3,3,3,0,-2147483648]
        let y = try runMathOp("Div", [i32([-7, 7, -7, 7, 5, .min]), i32([2, -2, -2, 2, 0, -1])])[0]
        #expect(y.elements(Int32.self) == [-3, -3, 3, 3, 0, .min])
    }

    @Test func modFollowsDivisorOrDividendSign() throws {
        // ref("Mod", [int32 [-7,7,-7,7,5], [2,-2,-2,2,0]]) -> [1,-1,-1,1,0]; with fmod=1 -> [-1,1,-1,1,0]
        let a = i32([-7, 7, -7, 7, 5]), b = i32([2, -2, -2, 2, 0])
        #expect(try runMathOp("Mod", [a, b])[0].elements(Int32.self) == [1, -1, -1, 1, 0])
        #expect(try runMathOp("Mod", [a, b], [Attribute("fmod", .int(1))])[0].elements(Int32.self) == [-1, 1, -1, 1, 0])
        // ref("Mod", [f32 [-7.5,7.5,-0.0,3,inf], [2,-2,3,inf,1]]) -> [0.5,-0.5,0.,3.,nan]
        let f = try runMathOp("Mod", [f32([-7.5, 7.5, -0.0, 3, .infinity]), f32([2, -2, 3, .infinity, 1])])[0]
        let v = floats(f)
        #expect(Array(v[0..<4]) == [0.5, -0.5, 0, 3] && v[2].sign == .plus && v[4].isNaN)
    }

    @Test func powMixedTypes() throws {
        // ref("Pow", [int32 [2,3,-2,5], f32 [0.5,2,3,-1]], opset 15) -> int32 [1,9,-8,0]
        #expect(try runMathOp("Pow", opset: 15, [i32([2, 3, -2, 5]), f32([0.5, 2, 3, -1])])[0].elements(Int32.self) == [1, 9, -8, 0])
        // ref("Pow", [f32 [2,3,-2,5], int64 [3,-1,2,0]]) -> f32 [8, 0.33333334, 4, 1]
        let y = try runMathOp("Pow", opset: 15, [f32([2, 3, -2, 5]), Tensor.of([Int64(3), -1, 2, 0])])[0]
        #expect(y.dtype == .float32 && mathClose(floats(y), [8, 0.33333334, 4, 1]))
        // ref("Pow", [int32 [2,3,-2,5], int32 [10,3,31,0]]) -> [1024, 27, -2147483648, 1]
        #expect(try runMathOp("Pow", opset: 15, [i32([2, 3, -2, 5]), i32([10, 3, 31, 0])])[0].elements(Int32.self)
                == [1024, 27, .min, 1])
        // ref("Pow", [f16 [1.1,2.3,-3], f16 [2.5,3.1,3]]).view(uint16) -> [15634, 19102, 52928]
        let h = try runMathOp("Pow", opset: 15, [Tensor.of([Float16(1.1), 2.3, -3]), Tensor.of([Float16(2.5), 3.1, 3])])[0]
        #expect(h.elements(Float16.self).map(\.bitPattern) == [15634, 19102, 52928])
    }

    @Test func bitShiftSignedAndOutOfRange() throws {
        // ref("BitShift", [int32 [-8,8,-1,5], [1,33,40,-1]], direction=RIGHT, opset 28) -> [-4,0,-1,0]
        #expect(try runMathOp("BitShift", opset: 28, [i32([-8, 8, -1, 5]), i32([1, 33, 40, -1])],
                          [Attribute("direction", .string(Array("RIGHT".utf8)))])[0].elements(Int32.self) == [-4, 0, -1, 0])
        // ref("BitShift", [int8 [1,-128,64,3], [7,1,1,8]], direction=LEFT, opset 28) -> [-128,0,-128,0]
        #expect(try runMathOp("BitShift", opset: 28, [Tensor.of([Int8(1), -128, 64, 3]), Tensor.of([Int8(7), 1, 1, 8])],
                          [Attribute("direction", .string(Array("LEFT".utf8)))])[0].elements(Int8.self) == [-128, 0, -128, 0])
    }

    // MARK: Variadic, Where, Expand

    @Test func maxPropagatesNaNAndMeanBroadcasts() throws {
        // ref("Max", [f32 [1,nan,3], [nan,2,1], [0,0,5]], opset 13) -> [nan, nan, 5]
        let m = floats(try runMathOp("Max", opset: 13, [f32([1, .nan, 3]), f32([.nan, 2, 1]), f32([0, 0, 5])])[0])
        #expect(m[0].isNaN && m[1].isNaN && m[2] == 5)
        // ort("Mean", [f32 [1,2,3], f32 [[10,20,30],[40,50,60]]], opset 13) -> [[5.5,11,16.5],[20.5,26,31.5]]
        let y = try runMathOp("Mean", opset: 13, [f32([1, 2, 3]), f32([10, 20, 30, 40, 50, 60], [2, 3])])[0]
        #expect(y.dims == [2, 3] && floats(y) == [5.5, 11, 16.5, 20.5, 26, 31.5])
    }

    @Test func whereBroadcastsAllThree() throws {
        // ref("Where", [bool [[T],[F]], int64 [1,2,3], int64 [[10],[20]]], opset 16) -> [[1,2,3],[20,20,20]]
        let y = try runMathOp("Where", opset: 16, [Tensor.of([true, false], dims: [2, 1]), Tensor.of([Int64(1), 2, 3]),
                                                Tensor.of([Int64(10), 20], dims: [2, 1])])[0]
        #expect(y.dims == [2, 3] && y.elements(Int64.self) == [1, 2, 3, 20, 20, 20])
    }

    @Test func expandIsBidirectional() throws {
        // ref("Expand", [f32 [[1],[2],[3]], int64 [2,1,2]], opset 13).ravel() -> [1,1,2,2,3,3,1,1,2,2,3,3]
        let y = try runMathOp("Expand", opset: 13, [f32([1, 2, 3], [3, 1]), Tensor.of([Int64(2), 1, 2])])[0]
        #expect(y.dims == [2, 3, 2] && floats(y) == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        #expect(throws: OpError.self) { try runMathOp("Expand", opset: 13, [f32([1, 2, 3], [3]), Tensor.of([Int64(2)])]) }
    }

    @Test func equalOnStrings() throws {
        // ref("Equal", [object ['a','bc'], object ['a']], opset 19) -> [True, False]
        let a = Tensor(unchecked: .string, dims: [2], storage: .strings([Array("a".utf8), Array("bc".utf8)]))
        let b = Tensor(unchecked: .string, dims: [1], storage: .strings([Array("a".utf8)]))
        #expect(try runMathOp("Equal", opset: 19, [a, b])[0].elements(Bool.self) == [true, false])
    }

    // MARK: Unary and activations

    @Test func roundHalfToEvenAndSign() throws {
        // ref("Round", [f32 [0.5,1.5,2.5,-0.5,-2.5,2.4999]]) -> [0,2,2,-0,-2,2]
        let r = floats(try runMathOp("Round", opset: 11, [f32([0.5, 1.5, 2.5, -0.5, -2.5, 2.4999])])[0])
        #expect(r == [0, 2, 2, -0, -2, 2] && r[3].sign == .minus)
        // ref("Sign", [f32 [-2,-0.0,0,3,nan]]) -> [-1,0,0,1,nan]
        let s = floats(try runMathOp("Sign", opset: 13, [f32([-2, -0.0, 0, 3, .nan])])[0])
        #expect(Array(s[0..<4]) == [-1, 0, 0, 1] && s[4].isNaN)
        // ref("Abs", [int8 [-128,-1,5]]) -> [-128, 1, 5] (wraps like NumPy)
        #expect(try runMathOp("Abs", opset: 13, [Tensor.of([Int8(-128), -1, 5])])[0].elements(Int8.self) == [-128, 1, 5])
        // ref("IsInf", [f32 [-inf,inf,nan,1]], detect_positive=0, opset 20) -> [True,False,False,False]
        #expect(try runMathOp("IsInf", opset: 20, [f32([-.infinity, .infinity, .nan, 1])],
                          [Attribute("detect_positive", .int(0))])[0].elements(Bool.self) == [true, false, false, false])
    }

    @Test func clipBoundsAndVersions() throws {
        // ref("Clip", [int8 [-128,-5,0,5,127], int8 3, int8 -3], opset 13) -> all -3 (min > max gives max)
        #expect(try runMathOp("Clip", opset: 13, [Tensor.of([Int8(-128), -5, 0, 5, 127]), Tensor.scalar(Int8(3)),
                                               Tensor.scalar(Int8(-3))])[0].elements(Int8.self) == [-3, -3, -3, -3, -3])
        // ref("Clip", [f32 [nan,-2,2,0.5], -1, 1], opset 13) -> [nan,-1,1,0.5]
        let c = floats(try runMathOp("Clip", opset: 13, [f32([.nan, -2, 2, 0.5]), Tensor.scalar(Float(-1)), Tensor.scalar(Float(1))])[0])
        #expect(c[0].isNaN && Array(c[1...]) == [-1, 1, 0.5])
        // Absent min: ref("Clip", [f32 [-5, 5], None, 1], opset 13) -> [-5, 1]
        #expect(floats(try runMathOp("Clip", opset: 13, [f32([-5, 5]), nil, Tensor.scalar(Float(1))])[0]) == [-5, 1])
        // ref("Clip", [f32 [-2,2,0.5]], min=-1, max=1.5, opset 6) -> [-1,1.5,0.5]
        #expect(floats(try runMathOp("Clip", opset: 6, [f32([-2, 2, 0.5])],
                                 [Attribute("min", .float(-1)), Attribute("max", .float(1.5))])[0]) == [-1, 1.5, 0.5])
    }

    @Test func preluChannelSlopeOfOpset6() throws {
        // ref("PRelu", [arange(-6,6).reshape(1,3,2,2), f32 [0.1,0.2,0.3]], opset 6).ravel()
        //   -> [-0.6,-0.5,-0.4,-0.3, -0.4,-0.2,0,1, 2,3,4,5]
        let y = try runMathOp("PRelu", opset: 6, [f32((-6..<6).map(Float.init), [1, 3, 2, 2]), f32([0.1, 0.2, 0.3])])[0]
        #expect(y.dims == [1, 3, 2, 2])
        #expect(mathClose(floats(y), [-0.6, -0.5, -0.4, -0.3, -0.4, -0.2, 0, 1, 2, 3, 4, 5]))
    }

    @Test func activationsMatchReference() throws {
        let x: [Float] = [-3, -0.5, 0, 0.7, 2.5]
        // ref("Gelu", [f32 [-3,-0.5,0,0.7,2.5]], approximate='tanh', opset 20)
        #expect(mathClose(floats(try runMathOp("Gelu", opset: 20, [f32(x)], [Attribute("approximate", .string(Array("tanh".utf8)))])[0]),
                      [-0.00363734, -0.154286, 0, 0.53057015, 2.4849157]))
        // ref("Gelu", same, opset 20)
        #expect(mathClose(floats(try runMathOp("Gelu", opset: 20, [f32(x)])[0]), [-0.00404969, -0.15426877, 0, 0.53062546, 2.4844759]))
        // ref("HardSwish", [f32 [-4,-3,-1,0,1,3,4]], opset 14) -> [-0,-0,-0.3333333,0,0.6666667,3,4]
        #expect(mathClose(floats(try runMathOp("HardSwish", opset: 14, [f32([-4, -3, -1, 0, 1, 3, 4])])[0]),
                      [-0, -0, -0.3333333, 0, 0.6666667, 3, 4]))
        // ref("Softplus", [f32 [-100,-1,0,1,100]]) -> [3.7835059e-44, 0.31326169, 0.69314718, 1.3132617, 100]
        #expect(mathClose(floats(try runMathOp("Softplus", [f32([-100, -1, 0, 1, 100])])[0]),
                      [3.7835059e-44, 0.31326169, 0.69314718, 1.3132617, 100], atol: 0))
        // ref("Celu", [f32 [-3,-1,0,2]], alpha=2) -> [-1.5537397,-0.78693867,0,2]
        #expect(mathClose(floats(try runMathOp("Celu", [f32([-3, -1, 0, 2])], [Attribute("alpha", .float(2))])[0]),
                      [-1.5537397, -0.78693867, 0, 2]))
        // ref("Selu", [f32 [-3,-1,0,2]]) -> [-1.6705687,-1.1113307,0,2.101402]
        #expect(mathClose(floats(try runMathOp("Selu", [f32([-3, -1, 0, 2])])[0]), [-1.6705687, -1.1113307, 0, 2.101402]))
        // ref("Mish", [f32 [-3,-1,0,2]]) -> [-0.14564747,-0.30340147,0,1.9439589]
        #expect(mathClose(floats(try runMathOp("Mish", [f32([-3, -1, 0, 2])])[0]), [-0.14564747, -0.30340147, 0, 1.9439589]))
        // ref("Shrink", [int8 [-3,-1,0,1,3]], lambd=1.5, bias=0.5, opset 9) -> [-2,0,0,0,2]
        #expect(try runMathOp("Shrink", opset: 9, [Tensor.of([Int8(-3), -1, 0, 1, 3])],
                          [Attribute("lambd", .float(1.5)), Attribute("bias", .float(0.5))])[0].elements(Int8.self) == [-2, 0, 0, 0, 2])
    }

    /// The vectorizable Float exp and tanh against libm in Double (the oracle), over a dense
    /// sweep: exp within 2 ulp (relative 2.4e-7) where the result is normal, tanh within 4e-7 (3 ulp)
    /// relative or 1e-9 absolute; and the special values.
    @Test func fastExpAndTanhAccuracy() {
        var worstExp = 0.0, worstTanh = 0.0
        var x = -87.0
        while x < 88.7 {
            let f = Float(x)
            let e = Double(fastExp(f)), want = Foundation.exp(Double(f))
            worstExp = max(worstExp, abs(e - want) / want)
            x += 0.00137
        }
        x = -10
        while x < 10 {
            let f = Float(x)
            let t = Double(fastTanh(f)), want = Foundation.tanh(Double(f))
            worstTanh = max(worstTanh, max(0, abs(t - want) - 1e-9) / abs(want))
            x += 0.0000731
        }
        #expect(worstExp < 2.4e-7, "exp relative error \(worstExp)")
        #expect(worstTanh < 4e-7, "tanh relative error \(worstTanh)")
        #expect(fastExp(.infinity) == .infinity && fastExp(100) == .infinity && fastExp(-.infinity) == 0 && fastExp(.nan).isNaN)
        #expect(fastExp(-100) > 0 && abs(Double(fastExp(-100)) - Foundation.exp(-100.0)) <= 1.5e-45)
        #expect(fastTanh(.infinity) == 1 && fastTanh(-.infinity) == -1 && fastTanh(.nan).isNaN && fastTanh(1e-6) == 1e-6)
    }

    @Test func floatOpsRefuseIntegers() {
        #expect(throws: OpError.self) { try runMathOp("Exp", opset: 13, [i32([1])]) }
        #expect(throws: OpError.self) { try runMathOp("Add", [i32([1]), f32([1])]) }
    }

    /// Large tensors take the threaded paths: they must agree with the single-threaded run.
    @Test func threadedElementwiseAgrees() throws {
        let n = 300_001
        let x = f32((0..<n).map { Float($0 % 1000) / 100 - 5 }, [n])
        for op in ["Sigmoid", "Relu", "Exp"] {
            let one = try runMathOp(op, opset: 13, [x])[0], four = try runMathOp(op, opset: 13, [x], threads: 4)[0]
            #expect(one.isBitwiseEqual(to: four), "\(op)")
        }
        let w = try runMathOp("Where", opset: 16, [Tensor.of((0..<n).map { $0 % 3 == 0 }), x, f32([7])], threads: 4)[0]
        let wv = floats(w), xv = floats(x)
        #expect((0..<n).allSatisfy { wv[$0] == ($0 % 3 == 0 ? xv[$0] : 7) })
    }
}
