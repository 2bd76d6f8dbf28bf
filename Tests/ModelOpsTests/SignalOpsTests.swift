import Testing
import ModelIR
@testable import ModelOps

/// DFT, STFT, the window generators and MelWeightMatrix. Expected values come from
/// `onnx.reference` in the venv (onnx 1.23 / NumPy 2.4): `ref(op, inputs, opset, **attrs)` runs
/// a one-node model with `ReferenceEvaluator`.
@Suite("Signal processing")
struct SignalOpsTests {
    func close(_ got: Tensor, _ want: [Float], tol: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
        ConvOpsTests.expectClose(floatValues(got), want, rtol: tol, atol: tol, "values", sourceLocation: sourceLocation)
    }
    static func int(_ name: String, _ v: Int) -> Attribute { Attribute(name, .int(Int64(v))) }

    /// x = [[[1,0],[2,1],[0,-1],[3,0.5],[-1,2],[0.5,0]]] (complex, [1,6,2], float32)
    let complexSignal = Tensor.of([Float(1), 0, 2, 1, 0, -1, 3, 0.5, -1, 2, 0.5, 0], dims: [1, 6, 2])
    /// xr = [[[1],[2],[0],[3],[-1],[0.5]]] (real, [1,6,1])
    let realSignal = Tensor.of([Float(1), 2, 0, 3, -1, 0.5], dims: [1, 6, 1])

    @Test func dftZeroPadsToAPowerOfTwoAndCropsToOddLengths() throws {
        // ref('DFT', [x, np.array(8), np.array(1)], 20)
        let padded = try runKernel("DFT", opset: 20, [complexSignal, Tensor.scalar(Int64(8)), Tensor.scalar(Int64(1))])[0]
        #expect(padded.dims == [1, 8, 2])
        close(padded, [5.5, 2.5, 1.0, -4.828427314758301, 0.5, 3.5, 5.1213202476501465, -5.535533905029297, -5.5, -0.5, 1.0,
                       0.8284271359443665, -0.5, 2.5, 0.878679633140564, 1.5355339050292969])
        // ref('DFT', [xr, np.array(5), np.array(-2)], 20, onesided=1)
        let rfft = try runKernel("DFT", opset: 20, [realSignal, Tensor.scalar(Int64(5)), Tensor.scalar(Int64(-2))],
                                 [Self.int("onesided", 1)])[0]
        #expect(rfft.dims == [1, 3, 2])
        close(rfft, [5.0, 0.0, -1.1180340051651, -1.0898138284683228, 1.1180340051651, -4.616525173187256])
    }

    @Test func inverseTransforms() throws {
        // s = [[[4,0.5],[1,-2],[0.5,1]]]; ref('DFT', [s, np.array(5)], 17, axis=1, inverse=1, onesided=1)  (irfft, odd n;
        // the imaginary part of bin 0 is ignored)
        let s = Tensor.of([Float(4), 0.5, 1, -2, 0.5, 1], dims: [1, 3, 2])
        let irfft = try runKernel("DFT", opset: 17, [s, Tensor.scalar(Int64(5))],
                                  [Self.int("axis", 1), Self.int("inverse", 1), Self.int("onesided", 1)])[0]
        #expect(irfft.dims == [1, 5, 1])
        close(irfft, [1.399999976158142, 1.2875345945358276, 1.3888473510742188, -0.3124541938304901, 0.23607225716114044])
        // ref('DFT', [x], 17, axis=1, inverse=1)
        let ifft = try runKernel("DFT", opset: 17, [complexSignal], [Self.int("axis", 1), Self.int("inverse", 1)])[0]
        close(ifft, [0.9166666865348816, 0.4166666865348816, 0.24700848758220673, 0.2775105834007263, -0.03568359464406967,
                     -0.011164551600813866, -0.9166666865348816, -0.0833333358168602, 1.1190170049667358, -0.15550212562084198,
                     -0.3303418457508087, -0.4441772401332855])
    }

    @Test func stftWithAWindowShorterThanTheFrame() throws {
        // sig = [[[1],[2],[0],[3],[-1],[0.5],[2],[1],[0]]]; w = [0.5,1,0.25]
        // ref('STFT', [sig, np.array(3), w, np.array(4)], 17)
        let signal = Tensor.of([Float(1), 2, 0, 3, -1, 0.5, 2, 1, 0], dims: [1, 9, 1])
        let y = try runKernel("STFT", opset: 17, [signal, Tensor.scalar(Int64(3)), Tensor.of([Float(0.5), 1, 0.25]), Tensor.scalar(Int64(4))])[0]
        #expect(y.dims == [1, 2, 3, 2])
        close(y, [2.5, 0.0, 0.5, -2.0, -1.5, 0.0, 0.625, 0.0, 1.375, 1.0, 2.625, 0.0])
    }

    @Test func windowsComputeInTheOutputType() throws {
        // ref('HannWindow', [np.array(5, np.int32)], 17, periodic=0, output_datatype=10)  (float16 arithmetic: the last is not 0)
        let hann = try runKernel("HannWindow", opset: 17, [Tensor.scalar(Int32(5))], [Self.int("periodic", 0), Self.int("output_datatype", 10)])[0]
        #expect(hann.dtype == .float16)
        #expect(floatValues(hann) == [0.0, 0.499755859375, 1.0, 0.50048828125, 9.5367431640625e-07])
        // ref('HammingWindow', [np.array(4)], 17, output_datatype=11)
        let hamming = try runKernel("HammingWindow", opset: 17, [Tensor.scalar(Int64(4))], [Self.int("output_datatype", 11)])[0]
        #expect(hamming.elements(Double.self) == [0.08695652173913038, 0.5434782608695652, 1.0, 0.5434782608695653])
        // ref('BlackmanWindow', [np.array(6)], 17, output_datatype=6) -> [0, 0, 0, 1, 0, 0] (truncated)
        let blackmanInt = try runKernel("BlackmanWindow", opset: 17, [Tensor.scalar(Int64(6))], [Self.int("output_datatype", 6)])[0]
        #expect(blackmanInt.elements(Int32.self) == [0, 0, 0, 1, 0, 0])
        // ref('BlackmanWindow', [np.array(5)], 17)
        let blackman = try runKernel("BlackmanWindow", opset: 17, [Tensor.scalar(Int64(5))])[0]
        close(blackman, [0.0, 0.20077013969421387, 0.8492298722267151, 0.8492298722267151, 0.20077013969421387])
    }

    @Test func melWeightMatrixTriangles() throws {
        // ref('MelWeightMatrix', [np.array(4), np.array(32), np.array(16000), np.float32(0), np.float32(8000)], 17)
        let m = try runKernel("MelWeightMatrix", opset: 17, [Tensor.scalar(Int64(4)), Tensor.scalar(Int64(32)), Tensor.scalar(Int64(16000)),
                                                            Tensor.scalar(Float(0)), Tensor.scalar(Float(8000))])[0]
        #expect(m.dims == [17, 4])
        var want = [Float](repeating: 0, count: 68)
        for (i, v) in [(0, 1.0), (5, 1.0), (9, 0.5), (10, 0.5), (14, 1.0), (18, 0.6666666865348816), (19, 0.3333333432674408),
                       (22, 0.3333333432674408), (23, 0.6666666865348816), (27, 1.0), (31, 0.75), (35, 0.5), (39, 0.25)] {
            want[i] = Float(v)
        }
        close(m, want)
    }
}
