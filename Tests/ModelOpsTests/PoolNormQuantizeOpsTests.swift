import Foundation
import Testing
import ModelIR
import ModelOps

/// Pooling, normalization and quantization semantics the backend tests leave loose. Expected
/// values come from onnx.reference 1.23 or NumPy 2.4 in the venv: `ref(op, inputs, opset,
/// attrs)` is a one-node model run by `onnx.reference.ReferenceEvaluator`.
@Suite("Pooling, normalization, quantization")
struct PoolNormQuantizeOpsTests {
    func run(_ op: String, opset: Int, _ inputs: [Tensor?], _ attributes: [Attribute] = [], outputs: Int = 1) throws -> [Tensor] {
        var g = Graph()
        let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
        let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
        let id = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
        guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
        let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) })
        return try Array(schema.kernel(ctx).prefix(outputs)).map { v in
            guard let t = v.tensor else { throw OpError.invalid("output is not a tensor") }
            return t
        }
    }

    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map(Int64.init))) }
    func close(_ got: [Float], _ want: [Float], tol: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
        ConvOpsTests.expectClose(got, want, rtol: tol, atol: tol, "values", sourceLocation: sourceLocation)
    }

    /// x = np.arange(20, dtype=np.float32).reshape(1,1,4,5); x[0,0,1,3] = 30
    var image: Tensor {
        var v = (0..<20).map(Float.init)
        v[8] = 30
        return Tensor.of(v, dims: [1, 1, 4, 5])
    }

    // MARK: Pooling

    /// The float32 2-D path (C, no Indices output) against the reference loops (taken when
    /// Indices are asked for), value for value, bit for bit: padding, strides, dilations,
    /// ceil mode, windows partly or wholly outside the input, NaNs first and later in a window.
    @Test func maxPoolFastPathMatchesTheReferenceLoops() throws {
        let cases: [(x: [Int], k: [Int], s: [Int], p: [Int], d: [Int], ceil: Int)] = [
            ([1, 3, 112, 112], [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 0),
            ([2, 2, 17, 23], [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 0),
            ([1, 2, 19, 21], [2, 3], [2, 3], [0, 2, 1, 2], [2, 1], 1),
            ([1, 1, 9, 40], [5, 5], [1, 2], [2, 2, 2, 2], [1, 2], 0),
            ([1, 1, 4, 4], [3, 3], [3, 3], [2, 2, 2, 2], [1, 1], 1),
            ([1, 1, 6, 7], [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 0),
        ]
        for (n, c) in cases.enumerated() {
            let count = c.x.reduce(1, *)
            var values = (0..<count).map { i in Float((i * 7919 + n * 31) % 997) / 97 - 5 }
            for i in stride(from: n, to: count, by: 13) { values[i] = .nan }
            let x = Tensor.of(values, dims: c.x)
            let attrs = [Self.ints("kernel_shape", c.k), Self.ints("strides", c.s), Self.ints("pads", c.p),
                         Self.ints("dilations", c.d), Attribute("ceil_mode", .int(Int64(c.ceil)))]
            let fast = try run("MaxPool", opset: 12, [x], attrs, outputs: 1)[0]
            let reference = try run("MaxPool", opset: 12, [x], attrs, outputs: 2)[0]
            #expect(fast.dims == reference.dims, "case \(n)")
            let a = fast.elements(Float.self).map(\.bitPattern), b = reference.elements(Float.self).map(\.bitPattern)
            #expect(a == b, "case \(n): \(zip(a, b).filter { $0 != $1 }.count) of \(a.count) differ")
        }
    }

    @Test func maxPoolIndicesColumnMajorWithCeilMode() throws {
        // ref("MaxPool", x, opset 12, kernel_shape=[2,2], strides=[2,2], storage_order=1, ceil_mode=1)
        let out = try run("MaxPool", opset: 12, [image], [Self.ints("kernel_shape", [2, 2]), Self.ints("strides", [2, 2]),
                                                         Attribute("storage_order", .int(1)), Attribute("ceil_mode", .int(1))],
                          outputs: 2)
        #expect(out[0].dims == [1, 1, 2, 3])
        #expect(out[0].elements(Float.self) == [6, 30, 9, 16, 18, 19])
        #expect(out[1].elements(Int64.self) == [5, 13, 17, 7, 15, 19])
    }

    @Test func averagePoolCountsPaddingButNotTheCeilOverhang() throws {
        // ref("AveragePool", x, opset 19, kernel_shape=[3,3], strides=[2,2], pads=[1,1,1,1], ceil_mode=1, count_include_pad=1)
        let y = try run("AveragePool", opset: 19, [image], [Self.ints("kernel_shape", [3, 3]), Self.ints("strides", [2, 2]),
                                                           Self.ints("pads", [1, 1, 1, 1]), Attribute("ceil_mode", .int(1)),
                                                           Attribute("count_include_pad", .int(1))])[0]
        #expect(y.dims == [1, 1, 3, 3])
        close(y.elements(Float.self), [1.3333333730697632, 5.44444465637207, 5.111111164093018, 7.0, 14.44444465637207,
                                       11.44444465637207, 5.166666507720947, 8.5, 6.166666507720947])
        // ref("AveragePool", x, opset 19, kernel_shape=[2,2], dilations=[2,2], pads=[0,0,1,1])
        let d = try run("AveragePool", opset: 19, [image], [Self.ints("kernel_shape", [2, 2]), Self.ints("dilations", [2, 2]),
                                                           Self.ints("pads", [0, 0, 1, 1])])[0]
        #expect(d.dims == [1, 1, 3, 4])
        close(d.elements(Float.self), [6, 7, 8, 8, 11, 17.5, 13, 24, 11, 12, 13, 13])
    }

    @Test func lpPools() throws {
        // ref("LpPool", x, opset 18, kernel_shape=[2,2], p=3)
        let y = try run("LpPool", opset: 18, [image], [Self.ints("kernel_shape", [2, 2]), Attribute("p", .int(3))])[0]
        close(y.elements(Float.self), [6.993190765380859, 8.281635284423828, 30.13935089111328, 30.30068016052246,
                                       13.876463890075684, 15.351690292358398, 31.504072189331055, 31.968067169189453,
                                       21.40120506286621, 22.937448501586914, 24.479923248291016, 26.027584075927734])
        // (np.abs(x) ** 3).sum() ** (1/3) = 39.703648
        let g = try run("GlobalLpPool", opset: 2, [image], [Attribute("p", .int(3))])[0]
        #expect(g.dims == [1, 1, 1, 1])
        close(g.elements(Float.self), [39.703648])
    }

    @Test func maxUnpoolWithOutputShapeEmbedsTheInferredBlock() throws {
        // The backend test's case: indices refer to the inferred 4x4 shape, placed at the origin of 5x5.
        let y = try run("MaxUnpool", opset: 11, [Tensor.of([Float(5), 6, 7, 8], dims: [1, 1, 2, 2]),
                                                 Tensor.of([Int64(5), 7, 13, 15], dims: [1, 1, 2, 2]),
                                                 Tensor.of([Int64(1), 1, 5, 5])],
                        [Self.ints("kernel_shape", [2, 2]), Self.ints("strides", [2, 2])])[0]
        #expect(y.dims == [1, 1, 5, 5])
        #expect(y.elements(Float.self) == [0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0])
        #expect(throws: OpError.self) {
            try run("MaxUnpool", opset: 11, [Tensor.of([Float(5)], dims: [1, 1, 1, 1]), Tensor.of([Int64(99)], dims: [1, 1, 1, 1])],
                    [Self.ints("kernel_shape", [2, 2])])
        }
    }

    // MARK: Normalization

    /// xg = (np.arange(24, dtype=np.float32).reshape(1,4,2,3) ** 1.3) / 5
    var groupInput: Tensor {
        Tensor.of((0..<24).map { Float(pow(Double($0), 1.3) / 5) }, dims: [1, 4, 2, 3])
    }

    @Test func groupNormalizationScalesPerGroupAtOpset18AndPerChannelAt21() throws {
        // ref("GroupNormalization", xg, [2,.5], [1,-1], opset 18, num_groups=2, epsilon=1e-3)
        let attrs = [Attribute("num_groups", .int(2)), Attribute("epsilon", .float(1e-3))]
        let y18 = try run("GroupNormalization", opset: 18, [groupInput, Tensor.of([Float(2), 0.5]), Tensor.of([Float(1), -1])], attrs)[0]
        close(y18.elements(Float.self), [-1.7392852306365967, -1.4641735553741455, -1.0618813037872314, -0.5917493104934692,
                                         -0.07132124900817871, 0.4900204539299011, 1.0862791538238525, 1.7132335901260376,
                                         2.3677234649658203, 3.047278881072998, 3.749908685684204, 4.473968505859375,
                                         -1.7723259925842285, -1.6411348581314087, -1.50687837600708, -1.3697117567062378,
                                         -1.2297724485397339, -1.0871829986572266, -0.9420533180236816, -0.7944839596748352,
                                         -0.6445651054382324, -0.49237966537475586, -0.3380036950111389, -0.18150758743286133],
              tol: 1e-4)
        // ref(..., [2,.5,1,3], [1,-1,0,2], opset 21)
        let y21 = try run("GroupNormalization", opset: 21, [groupInput, Tensor.of([Float(2), 0.5, 1, 3]),
                                                            Tensor.of([Float(1), -1, 0, 2])], attrs)[0]
        close(y21.elements(Float.self), [-1.7392852306365967, -1.4641735553741455, -1.0618813037872314, -0.5917493104934692,
                                         -0.07132124900817871, 0.4900204539299011, -0.9784302115440369, -0.821691632270813,
                                         -0.6580691337585449, -0.4881802797317505, -0.312522828578949, -0.13150781393051147,
                                         -1.5446521043777466, -1.2822697162628174, -1.0137566328048706, -0.7394235134124756,
                                         -0.4595448970794678, -0.1743660420179367, 2.34768009185791, 3.233096122741699,
                                         4.1326093673706055, 5.045722007751465, 5.971977710723877, 6.910954475402832],
              tol: 1e-4)
    }

    @Test func layerNormalizationReturnsMeanAndInverseStdDev() throws {
        // ref("LayerNormalization", (arange(12).reshape(2,3,2) ** 1.5) / 7, [1,2], [.5,-.5], opset 17, axis=-1), 3 outputs
        let x = Tensor.of((0..<12).map { Float(pow(Double($0), 1.5) / 7) }, dims: [2, 3, 2])
        let out = try run("LayerNormalization", opset: 17, [x, Tensor.of([Float(1), 2]), Tensor.of([Float(0.5), -0.5])], outputs: 3)
        close(out[0].elements(Float.self), [-0.49902135133743286, 1.4980427026748657, -0.49982506036758423, 1.4996508359909058,
                                            -0.49990314245224, 1.49980628490448, -0.49993258714675903, 1.4998668432235718,
                                            -0.49994879961013794, 1.4998975992202759, -0.4999578595161438, 1.4999184608459473],
              tol: 1e-4)
        #expect(out[1].dims == [2, 3, 1])
        close(out[1].elements(Float.self), [0.0714285746216774, 0.5731842517852783, 1.37002432346344, 2.37265682220459,
                                            3.5448155403137207, 4.864688873291016])
        close(out[2].elements(Float.self), [13.986298561096191, 5.911813735961914, 4.401618957519531, 3.6614935398101807,
                                            3.2016046047210693, 2.8804829120635986], tol: 1e-4)
        // ref("RMSNormalization", same x, [1,2], opset 23, axis=1): Scale broadcast over [3, 2].
        let r = try run("RMSNormalization", opset: 23, [x, Tensor.of([Float(1), 2])], [Attribute("axis", .int(1))])[0]
        close(r.elements(Float.self), [0.0, 0.3265964984893799, 0.4618771970272064, 1.6970453262329102, 1.3063859939575195,
                                       3.6514599323272705, 0.5601118803024292, 1.411643147468567, 0.8623486161231995,
                                       2.0579824447631836, 1.2051688432693481, 2.7807817459106445], tol: 1e-4)
    }

    @Test func batchNormalizationTrainingModeUpdatesRunningStatistics() throws {
        // ref("BatchNormalization", arange(12).reshape(2,2,3) ** 1.2, scale [1,2], B [0,1], mean [.5,1], var [2,3],
        //     opset 15, training_mode=1, momentum=0.8), 3 outputs
        let x = Tensor.of((0..<12).map { Float(pow(Double($0), 1.2)) }, dims: [2, 2, 3])
        let out = try run("BatchNormalization", opset: 15, [x, Tensor.of([Float(1), 2]), Tensor.of([Float(0), 1]),
                                                            Tensor.of([Float(0.5), 1]), Tensor.of([Float(2), 3])],
                          [Attribute("training_mode", .int(1)), Attribute("momentum", .float(0.8))], outputs: 3)
        close(out[0].elements(Float.self), [-1.196791648864746, -0.9876802563667297, -0.7163798809051514, -1.5039260387420654,
                                            -0.9403581619262695, -0.34761154651641846, 0.5985996127128601, 0.9634149670600891,
                                            1.3388370275497437, 2.237522840499878, 2.9259889125823975, 3.628384590148926],
              tol: 1e-4)
        close(out[1].elements(Float.self), [1.5446451902389526, 2.9166250228881836], tol: 1e-4)
        close(out[2].elements(Float.self), [6.17377233505249, 8.380151748657227], tol: 1e-4)
    }

    // MARK: Quantization

    @Test func quantizeRoundsHalfToEvenAndSaturates() throws {
        // ref("QuantizeLinear", [-2.5,-1.5,-.5,.5,1.5,2.5,300,-300,1000,nan], 1.0, uint8 128 / int8 0, opset 13)
        let x = Tensor.of([Float(-2.5), -1.5, -0.5, 0.5, 1.5, 2.5, 300, -300, 1000, .nan])
        let u = try run("QuantizeLinear", opset: 13, [x, Tensor.scalar(Float(1)), Tensor.scalar(UInt8(128))])[0]
        #expect(u.elements(UInt8.self) == [126, 126, 128, 128, 130, 130, 255, 0, 255, 0])
        let s = try run("QuantizeLinear", opset: 13, [x, Tensor.scalar(Float(1)), Tensor.scalar(Int8(0))])[0]
        #expect(s.elements(Int8.self) == [-2, -2, 0, 0, 2, 2, 127, -128, 127, -128])
    }

    @Test func quantizePerAxisAndBlocked() throws {
        // ref("QuantizeLinear", arange(12).reshape(2,3,2) - 5, [1,2,4], int8 [0,1,-1], opset 13, axis=1)
        let xa = Tensor.of((0..<12).map { Float($0 - 5) }, dims: [2, 3, 2])
        let a = try run("QuantizeLinear", opset: 13, [xa, Tensor.of([Float(1), 2, 4]), Tensor.of([Int8(0), 1, -1])],
                        [Attribute("axis", .int(1))])[0]
        #expect(a.elements(Int8.self) == [-5, -4, -1, 0, -1, -1, 1, 2, 3, 3, 0, 1])
        // ref("QuantizeLinear", arange(12).reshape(2,6) * 1.3 - 6, [[1,2],[.5,4]], int8 [[0,1],[-1,2]], opset 21, axis=1, block_size=4)
        let xb = Tensor.of((0..<12).map { Float($0) * 1.3 - 6 }, dims: [2, 6])
        let b = try run("QuantizeLinear", opset: 21, [xb, Tensor.of([Float(1), 2, 0.5, 4], dims: [2, 2]),
                                                      Tensor.of([Int8(0), 1, -1, 2], dims: [2, 2])],
                        [Attribute("axis", .int(1)), Attribute("block_size", .int(4))])[0]
        #expect(b.elements(Int8.self) == [-6, -5, -3, -2, 1, 1, 3, 5, 8, 10, 4, 4])
        // A scale whose blocks do not fit is refused.
        #expect(throws: OpError.self) {
            try run("QuantizeLinear", opset: 21, [xb, Tensor.of([Float(1), 2, 3], dims: [1, 3])],
                    [Attribute("axis", .int(1)), Attribute("block_size", .int(4))])
        }
    }

    @Test func quantizeToFloat8SaturatesAndInt4Packs() throws {
        // ref("QuantizeLinear", [.3,-1000,500,1e9,inf], 2.0, float8e4m3fn 0, opset 21): codes [34,254,120,126,126]
        let zero8 = Tensor(unchecked: .float8e4m3fn, dims: [], storage: .owned([0]))
        let f = try run("QuantizeLinear", opset: 21, [Tensor.of([Float(0.3), -1000, 500, 1e9, .infinity]), Tensor.scalar(Float(2)), zero8])[0]
        #expect(f.dtype == .float8e4m3fn)
        #expect(f.withUnsafeBytes { Array($0) } == [34, 254, 120, 126, 126])
        // ref(..., [-9,-1.4,2.6,7,20], 1.0, int4 0, opset 21) -> [-8,-1,3,7,7], packed low nibble first
        let zero4 = Tensor(unchecked: .int4, dims: [], storage: .owned([0]))
        let q = try run("QuantizeLinear", opset: 21, [Tensor.of([Float(-9), -1.4, 2.6, 7, 20]), Tensor.scalar(Float(1)), zero4])[0]
        #expect(q.dtype == .int4)
        #expect(q.withUnsafeBytes { Array($0) } == [0xF8, 0x73, 0x07])
    }

    @Test func dequantizeInt32BlockedAndFloat16() throws {
        // ref("DequantizeLinear", int32 [-2**31, 5, 2**31-1], 0.5, opset 19)
        let i = try run("DequantizeLinear", opset: 19, [Tensor.of([Int32.min, 5, Int32.max]), Tensor.scalar(Float(0.5))])[0]
        #expect(i.elements(Float.self) == [-1073741824, 2.5, 1073741824])
        // ref("DequantizeLinear", uint8 [[1..5],[6..10]], [[.5,2],[1,3]], uint8 [[1,2],[3,4]], opset 21, axis=1, block_size=3)
        let b = try run("DequantizeLinear", opset: 21, [Tensor.of((1...10).map { UInt8($0) }, dims: [2, 5]),
                                                        Tensor.of([Float(0.5), 2, 1, 3], dims: [2, 2]),
                                                        Tensor.of([UInt8(1), 2, 3, 4], dims: [2, 2])],
                        [Attribute("axis", .int(1)), Attribute("block_size", .int(3))])[0]
        #expect(b.elements(Float.self) == [0, 0.5, 1, 4, 6, 3, 4, 5, 15, 18])
        // ref("DequantizeLinear", uint8 [0,100,255], float16 0.1, uint8 3, opset 19) -> float16 [-0.2998, 9.695, 25.19]
        let h = try run("DequantizeLinear", opset: 19, [Tensor.of([UInt8(0), 100, 255]), Tensor.scalar(Float16(0.1)), Tensor.scalar(UInt8(3))])[0]
        #expect(h.dtype == .float16)
        #expect(h.elements(Float16.self) == [-0.2998046875, 9.6953125, 25.1875])
    }

    @Test func dynamicQuantizeAndQLinearMatMul() throws {
        // ref("DynamicQuantizeLinear", [-1.2, 0, .7, 3.3, 2.05], opset 11) -> [0,68,108,255,184], 0.01764706, 68
        let d = try run("DynamicQuantizeLinear", opset: 11, [Tensor.of([Float(-1.2), 0, 0.7, 3.3, 2.05])], outputs: 3)
        #expect(d[0].elements(UInt8.self) == [0, 68, 108, 255, 184])
        #expect(d[1].elements(Float.self) == [0.01764705963432789])
        #expect(d[2].elements(UInt8.self) == [68])
        // ref("QLinearMatMul", uint8 [[208,236,0],[77,11,255]], .0066, 113, uint8 [[152,51],[244,60],[26,255]], .00705, 114,
        //     .0107, 118, opset 10) -> [[246, 0], [0, 239]]
        let q = try run("QLinearMatMul", opset: 10, [
            Tensor.of([UInt8(208), 236, 0, 77, 11, 255], dims: [2, 3]), Tensor.scalar(Float(0.0066)), Tensor.scalar(UInt8(113)),
            Tensor.of([UInt8(152), 51, 244, 60, 26, 255], dims: [3, 2]), Tensor.scalar(Float(0.00705)), Tensor.scalar(UInt8(114)),
            Tensor.scalar(Float(0.0107)), Tensor.scalar(UInt8(118)),
        ])[0]
        #expect(q.elements(UInt8.self) == [246, 0, 0, 239])
    }
}
