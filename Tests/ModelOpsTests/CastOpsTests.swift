import Testing
import ModelIR
@testable import ModelOps

/// Cast and CastLike. Expected values come from `onnx.reference` (`ref(...)`, see
/// ElementwiseOpsTests) or NumPy 2.4 / ml_dtypes 0.6 on x86-64, with the Python that made them.
@Suite("Cast kernels")
struct CastOpsTests {
    /// x = np.array([0.3, 1e6, -1e6, inf, -inf, nan, 300.0, -129.7, 2.5, 3.5, 1e-10, 2**31, -3e9], float32)
    let x: [Float] = [0.3, 1e6, -1e6, .infinity, -.infinity, .nan, 300, -129.7, 2.5, 3.5, 1e-10, 2_147_483_648, -3e9]

    func cast(_ t: Tensor, _ to: DType, opset: Int = 19, saturate: Int? = nil) throws -> Tensor {
        var attrs = [Attribute("to", .int(Int64(to.rawValue)))]
        if let saturate { attrs.append(Attribute("saturate", .int(Int64(saturate)))) }
        return try runMathOp("Cast", opset: opset, [t], attrs)[0]
    }

    @Test func floatToIntegerTruncatesAndWrapsLikeNumPy() throws {
        let t = Tensor.of(x)
        // x.astype(np.int8) -> [0, 64, -64, 0, 0, 0, 44, 127, 2, 3, 0, 0, 0]
        #expect(try cast(t, .int8).elements(Int8.self) == [0, 64, -64, 0, 0, 0, 44, 127, 2, 3, 0, 0, 0])
        // x.astype(np.int32) -> [0, 1000000, -1000000, min, min, min, 300, -129, 2, 3, 0, min, min]
        let m = Int32.min
        let int32s: [Int32] = [0, 1_000_000, -1_000_000, m, m, m, 300, -129, 2, 3, 0, m, m]
        #expect(try cast(t, .int32).elements(Int32.self) == int32s)
        // x.astype(np.uint8) -> [0, 64, 192, 0, 0, 0, 44, 127, 2, 3, 0, 0, 0]
        #expect(try cast(t, .uint8).elements(UInt8.self) == [0, 64, 192, 0, 0, 0, 44, 127, 2, 3, 0, 0, 0])
        // x.astype(np.int64) -> [0, 1000000, -1000000, min, min, min, 300, -129, 2, 3, 0, 2147483648, -3000000000]
        let l = Int64.min
        let int64s: [Int64] = [0, 1_000_000, -1_000_000, l, l, l, 300, -129, 2, 3, 0, 2_147_483_648, -3_000_000_000]
        #expect(try cast(t, .int64).elements(Int64.self) == int64s)
        // x.astype(np.float16).view(np.uint16)
        let halves: [UInt16] = [13517, 31744, 64512, 31744, 64512, 32256, 23728, 55310, 16640, 17152, 0, 31744, 64512]
        #expect(try cast(t, .float16).elements(Float16.self).map(\.bitPattern) == halves)
    }

    @Test func integerToFloatRoundsToNearestEven() throws {
        // ref("Cast", [int64 [2**53+1, 2**62+2**38+1, -(2**24+1)]], to=FLOAT)
        //   -> [9007199254740992.0, 4.611686568183202e+18, -16777216.0]
        let big: [Int64] = [9_007_199_254_740_993, 4_611_686_293_305_294_849, -16_777_217]
        let y = try cast(Tensor.of(big), .float32)
        #expect(y.elements(Float.self) == [9_007_199_254_740_992, 4.611686568183202e18, -16_777_216])
        // ref("Cast", [float64 [2**63+2**40, 1.8e19, -1.0]], to=UINT64) -> [9223373136366403584, 18000000000000000000, 18446744073709551615]
        #expect(try cast(Tensor.of([9_223_373_136_366_403_584.0, 1.8e19, -1.0]), .uint64).elements(UInt64.self)
                == [9_223_373_136_366_403_584, 18_000_000_000_000_000_000, .max])
        // ref("Cast", [f32 [0,-0,nan,0.1]], to=BOOL) -> [False, False, True, True]
        #expect(try cast(Tensor.of([Float(0), -0.0, .nan, 0.1]), .bool).elements(Bool.self) == [false, false, true, true])
    }

    /// v = np.array([0.3, 1e6, -1e6, inf, -inf, nan, 17.0, -0.0, 0.0019, 240.0, 250.0], float32)
    /// ref("Cast", [v], to=T, saturate=s, opset 19)[0].view(np.uint8).tolist()
    @Test(arguments: [
        (DType.float8e4m3fn, 1, [UInt8(42), 126, 254, 126, 254, 127, 88, 128, 1, 119, 120]),
        (.float8e4m3fn, 0, [42, 127, 255, 127, 255, 127, 88, 128, 1, 119, 120]),
        (.float8e4m3fnuz, 1, [50, 127, 255, 127, 255, 128, 96, 0, 2, 127, 127]),
        (.float8e4m3fnuz, 0, [50, 128, 128, 128, 128, 128, 96, 0, 2, 127, 128]),
        (.float8e5m2, 1, [53, 123, 251, 123, 251, 126, 76, 128, 24, 92, 92]),
        (.float8e5m2, 0, [53, 124, 252, 124, 252, 126, 76, 128, 24, 92, 92]),
        (.float8e5m2fnuz, 1, [57, 127, 255, 127, 255, 128, 80, 0, 28, 96, 96]),
        (.float8e5m2fnuz, 0, [57, 128, 128, 128, 128, 128, 80, 0, 28, 96, 96]),
    ])
    func float8Encoding(_ to: DType, _ saturate: Int, _ expected: [UInt8]) throws {
        let v: [Float] = [0.3, 1e6, -1e6, .infinity, -.infinity, .nan, 17, -0.0, 0.0019, 240, 250]
        let y = try cast(Tensor.of(v), to, saturate: saturate)
        #expect(y.dtype == to && y.dims == [11])
        #expect(y.withUnsafeBytes { Array($0) } == expected)
        // Decoding gives back the rounded values: float8 -> float32 -> float8 is the identity.
        let back = try cast(try cast(y, .float32), to, saturate: saturate)
        #expect(back.withUnsafeBytes { Array($0) } == expected)
    }

    @Test func smallFormats() throws {
        let v: [Float] = [0.3, 1e6, -1e6, .infinity, -.infinity, .nan, 17, -0.0, 0.0019, 240, 250]
        // ref("Cast", [v], to=FLOAT4E2M1, opset 23)[0].view(np.uint8) -> [1,7,15,7,15,8,7,8,0,7,7]; packed in pairs
        let f4 = try cast(Tensor.of(v), .float4e2m1, opset: 23)
        let codes: [UInt8] = [1, 7, 15, 7, 15, 8, 7, 8, 0, 7, 7]
        let packed = stride(from: 0, to: codes.count, by: 2).map { i in codes[i] | (i + 1 < codes.count ? codes[i + 1] << 4 : 0) }
        #expect(f4.dims == [11] && f4.withUnsafeBytes { Array($0) } == packed)
        // ref("Cast", [v], to=BFLOAT16, opset 19)[0].view(np.uint16)
        let bf = try cast(Tensor.of(v), .bfloat16)
        #expect(bf.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
                == [16026, 18804, 51572, 32640, 65408, 32704, 16776, 32768, 15097, 17264, 17274])
        // ref("Cast", [f32 [-9,-8.5,7.9,8,15,16,-1]], to=INT4, opset 21).astype(int8) -> [7,-8,7,-8,-1,0,-1]
        let i4 = try cast(Tensor.of([Float(-9), -8.5, 7.9, 8, 15, 16, -1]), .int4, opset: 21)
        #expect(i4.byteCount == 4)
        #expect(try cast(i4, .int8, opset: 21).elements(Int8.self) == [7, -8, 7, -8, -1, 0, -1])
    }

    @Test func strings() throws {
        // ref("Cast", [f32 [0.1, 1e-7, 123456.0, inf, -nan, 1.5]], to=STRING) -> ['0.1','1e-07','123456.0','inf','nan','1.5']
        let s = try cast(Tensor.of([Float(0.1), 1e-7, 123_456, .infinity, -.nan, 1.5]), .string)
        guard case .strings(let items) = s.storage else { Issue.record("not strings"); return }
        #expect(items.map { String(decoding: $0, as: UTF8.self) } == ["0.1", "1e-07", "123456.0", "inf", "nan", "1.5"])
        // ref("Cast", [object ['-1.5','NaN','+INF','1e3']], to=FLOAT) -> [-1.5, nan, inf, 1000.0]
        let text = Tensor(unchecked: .string, dims: [4], storage: .strings(["-1.5", "NaN", "+INF", "1e3"].map { Array($0.utf8) }))
        let f = try cast(text, .float32).elements(Float.self)
        #expect(f[0] == -1.5 && f[1].isNaN && f[2] == .infinity && f[3] == 1000)
    }

    @Test func castLikeTakesTheSecondInputsType() throws {
        let y = try runMathOp("CastLike", opset: 15, [Tensor.of([Float(2.7), -2.7]), Tensor.of([Int32(0)])])[0]
        #expect(y.dtype == .int32 && y.elements(Int32.self) == [2, -2])
    }
}
