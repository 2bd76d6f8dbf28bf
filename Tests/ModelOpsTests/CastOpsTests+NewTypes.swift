import Testing
import ModelIR
@testable import ModelOps

/// int2/uint2 (packed four per byte) and float8e8m0 in Cast and Quantize/DequantizeLinear.
/// Expected values come from `onnx.reference` with ml_dtypes 0.6 in the venv (`ref(op, inputs,
/// opset, **attrs)` as in AttentionOpsTests); packed bytes from `numpy_helper.from_array(y).raw_data`.
@Suite("Cast and quantization: int2, uint2, float8e8m0")
struct CastNewTypesTests {
    static func to(_ t: DType) -> Attribute { Attribute("to", .int(Int64(t.rawValue))) }
    func bytes(_ t: Tensor) -> [UInt8] { t.withUnsafeBytes { Array($0) } }

    @Test func floatToTwoBitsKeepsTheLowBits() throws {
        // x = [-5.7,-2.5,1.5,2,3,300,nan] (float32); ref('Cast', [x], 25, to=INT2) -> [-1,-2,1,-2,-1,0,0], raw [155, 3]
        let x = Tensor.of([Float(-5.7), -2.5, 1.5, 2, 3, 300, .nan])
        let i2 = try runKernel("Cast", opset: 25, [x], [Self.to(.int2)])[0]
        #expect(i2.dtype == .int2 && i2.dims == [7] && bytes(i2) == [155, 3])
        // ref('Cast', [x], 25, to=UINT2) -> [3,2,1,2,3,0,0], raw [155, 3]
        let u2 = try runKernel("Cast", opset: 25, [x], [Self.to(.uint2)])[0]
        #expect(u2.dtype == .uint2 && bytes(u2) == [155, 3])
        // Back: int2 sign-extends, uint2 does not.
        #expect(try runKernel("Cast", opset: 25, [i2], [Self.to(.float32)])[0].elements(Float.self) == [-1, -2, 1, -2, -1, 0, 0])
        #expect(try runKernel("Cast", opset: 25, [u2], [Self.to(.int8)])[0].elements(Int8.self) == [3, 2, 1, 2, 3, 0, 0])
    }

    @Test func float8e8m0RoundingModesAndSaturation() throws {
        // v = [1, 1.5, 0.75, 3, 2**-127, 0, -4, inf, nan, 3e38, 1.75, 1.25] (float32)
        // ref('Cast', [v], 25, to=FLOAT8E8M0, round_mode=mode, saturate=s).view(np.uint8)
        let v = Tensor.of([Float(1), 1.5, 0.75, 3, Float(sign: .plus, exponent: -127, significand: 1), 0, -4, .infinity, .nan, 3e38, 1.75, 1.25])
        let cases: [(String, Int, [UInt8])] = [
            ("up", 1, [127, 128, 127, 129, 1, 0, 129, 255, 255, 254, 128, 128]),
            ("up", 0, [127, 128, 127, 129, 1, 0, 129, 255, 255, 255, 128, 128]),
            ("down", 1, [127, 127, 126, 128, 0, 0, 129, 255, 255, 254, 127, 127]),
            ("nearest", 1, [127, 128, 127, 129, 0, 0, 129, 255, 255, 254, 128, 127]),
            ("nearest", 0, [127, 128, 127, 129, 0, 0, 129, 255, 255, 255, 128, 127]),
        ]
        for (mode, saturate, want) in cases {
            let y = try runKernel("Cast", opset: 25, [v], [Self.to(.float8e8m0), Attribute("round_mode", .string(Array(mode.utf8))),
                                                          Attribute("saturate", .int(Int64(saturate)))])[0]
            #expect(y.dtype == .float8e8m0 && bytes(y) == want, "round_mode \(mode), saturate \(saturate)")
        }
        // e = np.array([0,1,126,127,128,254,255], np.uint8).view(ml_dtypes.float8_e8m0fnu)
        // ref('Cast', [e], 25, to=FLOAT) -> [2**-127, 2**-126, 0.5, 1, 2, 2**127, nan]; to=FLOAT16 -> [0, 0, 0.5, 1, 2, inf, nan]
        let e = Tensor(unchecked: .float8e8m0, dims: [7], storage: .owned([0, 1, 126, 127, 128, 254, 255]))
        let f = try runKernel("Cast", opset: 25, [e], [Self.to(.float32)])[0].elements(Float.self)
        #expect(Array(f[..<6]) == [Float(sign: .plus, exponent: -127, significand: 1), Float(sign: .plus, exponent: -126, significand: 1),
                                   0.5, 1, 2, Float(sign: .plus, exponent: 127, significand: 1)] && f[6].isNaN)
        let h = try runKernel("Cast", opset: 25, [e], [Self.to(.float16)])[0].elements(Float16.self)
        #expect(Array(h[..<6]) == [0, 0, 0.5, 1, 2, .infinity] && h[6].isNaN)
    }

    @Test func quantizeAndDequantizeTwoBits() throws {
        // x = [[-3,-0.6,0.4,2.6],[1,-1,0.2,5]] (float32); s = [0.5, 1]
        // ref('QuantizeLinear', [x, s, np.array([1,0], ml_dtypes.uint2)], 25, axis=0) -> [[0,0,2,3],[1,0,0,3]], raw [224, 193]
        let x = Tensor.of([Float(-3), -0.6, 0.4, 2.6, 1, -1, 0.2, 5], dims: [2, 4]), s = Tensor.of([Float(0.5), 1])
        let zu = Tensor(unchecked: .uint2, dims: [2], storage: .owned([0b0000_0001]))
        let qu = try runKernel("QuantizeLinear", opset: 25, [x, s, zu], [Attribute("axis", .int(0))])[0]
        #expect(qu.dtype == .uint2 && qu.dims == [2, 4] && bytes(qu) == [224, 193])
        // ref('QuantizeLinear', [x, s, np.array([-1,0], ml_dtypes.int2)], 25, axis=0) -> [[-2,-2,0,1],[1,-1,0,1]], raw [74, 77]
        let zi = Tensor(unchecked: .int2, dims: [2], storage: .owned([0b0000_0011]))
        let qi = try runKernel("QuantizeLinear", opset: 25, [x, s, zi], [Attribute("axis", .int(0))])[0]
        #expect(qi.dtype == .int2 && bytes(qi) == [74, 77])
        // q = np.array([-2,-1,0,1,1], ml_dtypes.int2) (raw [78, 1])
        // ref('DequantizeLinear', [q, np.float32(0.25), np.array([-1], ml_dtypes.int2)], 25, axis=0) -> [-0.25, 0, 0.25, 0.5, 0.5]
        let q = Tensor(unchecked: .int2, dims: [5], storage: .owned([78, 1]))
        let z = Tensor(unchecked: .int2, dims: [1], storage: .owned([0b11]))
        let y = try runKernel("DequantizeLinear", opset: 25, [q, Tensor.scalar(Float(0.25)), z], [Attribute("axis", .int(0))])[0]
        #expect(y.elements(Float.self) == [-0.25, 0, 0.25, 0.5, 0.5])
    }
}
