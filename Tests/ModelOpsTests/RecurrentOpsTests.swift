import Testing
import ModelIR
@testable import ModelOps

/// GRU/LSTM/RNN semantics beyond the backend tests: linear_before_reset with biases and an
/// initial state in both directions, sequence_lens with a reverse direction and peepholes,
/// activation alpha + clip, layout 1. Inputs are
/// `rng = np.random.default_rng(7); r = lambda *s: np.round(rng.uniform(-1, 1, s).astype(np.float32), 2)`
/// drawn in the order X, W, R, B, H0, Wl, Rl, Bl, P, Wr, Rr; expected values from
/// onnxruntime 1.32 (CPU), one single-node model per test (attributes as in each comment).
@Suite("Recurrent")
struct RecurrentOpsTests {
    /// X = r(3, 2, 2): [seq 3, batch 2, input 2].
    static let x: [Float] = [0.25, 0.79, 0.55, -0.55, -0.4, 0.75, -0.99, 0.64, 0.59, -0.06, -0.39, -0.44]

    @Test func gruBidirectionalLinearBeforeReset() throws {
        // ort GRU(X, W=r(2,9,2), R=r(2,9,3), B=r(2,18), "", H0=r(2,2,3)) hidden_size=3, direction=bidirectional,
        // linear_before_reset=1, opset 14 (onnx.reference agrees within 1.2e-7)
        let w: [Float] = [-0.49, -0.11, 0.01, 0.11, 0.99, 0.59, 0.24, 0.98, -0.57, -0.68, 0.23, -0.91, -0.93, 0.03, -0.07, 0.83, 0.26, 0.03,
                          -0.01, -0.5, -0.98, -0.62, 0.38, -0.6, -0.26, -0.99, 0.66, -0.69, -0.46, 0.76, 0.02, 0.69, 0.28, 0.48, -0.82, 0.08]
        let r: [Float] = [0.02, 0.74, -0.28, 0.2, -0.88, -0.22, -0.35, -0.7, 0.63, -0.24, 0.96, 0.18, 0.21, 0.28, 0.35, -0.7, -0.12, -0.52,
                          -0.2, -0.81, 0.94, -0.57, 0.34, -0.4, 0.75, 0.32, -0.74, 0.69, 0.89, 0.81, 0.14, -0.71, -0.62, 0.86, 0.1, -0.64,
                          0.77, 0.28, 0.14, -0.25, -0.18, -0.52, -0.92, 0.75, -0.06, 0.1, -0.36, 0.5, -0.95, -0.26, -0.94, -0.75, 0.93, 0.32]
        let b: [Float] = [-0.14, 0.05, 0.75, -0.31, 0.18, 0.37, -0.29, 0.04, 0.53, 0.82, -0.7, 0.87, -0.99, 0.51, 0.62, -0.73, -0.16, 0.63,
                          -0.97, 0.26, 0.59, 0.03, 0.45, -0.55, -0.6, -0.27, -0.64, -0.31, 0.9, 0.15, -0.32, -0.46, 0.9, -0.11, 0.96, 0.03]
        let h0: [Float] = [0.04, 0.79, 0.49, 0.16, -0.15, 0.76, -0.18, 0.85, -0.86, -0.14, 0.04, 0.9]
        let out = try run("GRU", [Tensor.of(Self.x, dims: [3, 2, 2]), Tensor.of(w, dims: [2, 9, 2]), Tensor.of(r, dims: [2, 9, 3]),
                                  Tensor.of(b, dims: [2, 18]), nil, Tensor.of(h0, dims: [2, 2, 3])],
                          outputs: 2, attributes: [Attribute("hidden_size", .int(3)), Attribute("direction", .string(Array("bidirectional".utf8))),
                                                   Attribute("linear_before_reset", .int(1))])
        #expect(out[0].dims == [3, 2, 2, 3])
        expectClose(out[0].elements(Float.self), [
            -0.19344497, 0.59559554, 0.5145278, -0.22291568, -0.52913785, 0.7499116, -0.19846511, 0.6848083, -0.09567713,
            -0.5549681, -0.021800358, 0.10018034, -0.20622751, 0.57955825, 0.5178069, 0.103605315, -0.063312426, 0.67557025,
            -0.313517, 0.7837103, -0.17772949, -0.19744667, -0.06395539, 0.4950452, -0.4053427, 0.05483132, 0.5374797,
            0.08572492, -0.4387547, 0.64088583, -0.6306596, 0.82276535, -0.8061537, -0.42935115, -0.074642584, 0.44497833])
        expectClose(out[1].elements(Float.self), [-0.4053427, 0.05483132, 0.5374797, 0.08572492, -0.4387547, 0.64088583,
                                                  -0.19846511, 0.6848083, -0.09567713, -0.5549681, -0.021800358, 0.10018034])
    }

    @Test func lstmReverseSequenceLensPeepholes() throws {
        // ort LSTM(X, W=r(1,12,2), R=r(1,12,3), B=r(1,24), sequence_lens=int32 [3,1], "", "", P=r(1,9))
        // hidden_size=3, direction=reverse, opset 14: batch entry 1 runs one step; its Y is zero past it.
        let w: [Float] = [-0.5, 0.61, 0.35, 0.43, 0.26, 0.94, -0.33, -0.2, -0.59, -0.9, -0.57, 0.83, 0.68, -0.78, 0.21, -0.04, 0.19, 0.32,
                          -0.39, 0.92, -0.07, 0.26, 0.27, -0.63]
        let r: [Float] = [-0.88, -0.18, 0.53, 0.63, 0.46, -0.77, 0.83, 0.6, 0.76, 0.05, 0.83, -0.91, -0.94, -0.96, -0.49, -0.5, -0.62, 0.13,
                          -0.92, 0.18, -0.67, 0.36, -0.96, -0.38, 0.88, 0.08, 0.62, 0.32, 0.22, -0.62, 0.15, -0.92, 0.6, 0.92, 0.71, -0.9]
        let b: [Float] = [-0.32, -0.36, -0.77, 0.25, 0.59, -0.37, 0.73, 0.59, -0.74, 0.53, 0.77, -0.61, 0.15, 0.28, 0.22, -0.81, 0.32, 0.26,
                          0.65, 0.61, -0.35, 0.44, 0.73, 0.79]
        let p: [Float] = [-0.68, -0.95, 0.3, -0.57, 0.13, 0.89, -0.24, -0.49, -0.09]
        let out = try run("LSTM", [Tensor.of(Self.x, dims: [3, 2, 2]), Tensor.of(w, dims: [1, 12, 2]), Tensor.of(r, dims: [1, 12, 3]),
                                   Tensor.of(b, dims: [1, 24]), Tensor.of([Int32(3), 1]), nil, nil, Tensor.of(p, dims: [1, 9])],
                          outputs: 3, attributes: [Attribute("hidden_size", .int(3)), Attribute("direction", .string(Array("reverse".utf8)))])
        #expect(out[0].dims == [3, 1, 2, 3])
        expectClose(out[0].elements(Float.self), [0.18738021, 0.30317494, 0.053922907, 0.02585793, 0.29153344, 0.053810775,
                                                  0.1858397, 0.3334723, -0.040377486, 0, 0, 0, 0.06509867, 0.29036728, 0.056768373, 0, 0, 0])
        expectClose(out[1].elements(Float.self), [0.18738021, 0.30317494, 0.053922907, 0.02585793, 0.29153344, 0.053810775])
        expectClose(out[2].elements(Float.self), [0.80004287, 0.89779174, 0.098998524, 0.07680871, 0.40638086, 0.16715011])
    }

    @Test func rnnLeakyReluAlphaClipLayout1() throws {
        // ort RNN(X, W=r(1,3,2), R=r(1,3,3)) hidden_size=3, activations=[LeakyRelu], activation_alpha=[0.3], clip=0.5,
        // opset 14, layout 0 (onnxruntime has no layout 1); here run with layout=1 on X.transpose(1,0,2), so the
        // expected values are ort's Y.transpose(2,0,1,3) and Y_h.transpose(1,0,2).
        let xb: [Float] = [0.25, 0.79, -0.4, 0.75, 0.59, -0.06, 0.55, -0.55, -0.99, 0.64, -0.39, -0.44]
        let w: [Float] = [0.31, -0.8, -0.24, -0.73, 0.32, 0.66]
        let r: [Float] = [-0.25, -0.26, 0.08, -0.57, -0.51, -0.34, -0.09, -0.84, 0.51]
        let out = try run("RNN", [Tensor.of(xb, dims: [2, 3, 2]), Tensor.of(w, dims: [1, 3, 2]), Tensor.of(r, dims: [1, 3, 3])],
                          outputs: 2, attributes: [Attribute("hidden_size", .int(3)), Attribute("activations", .strings([Array("LeakyRelu".utf8)])),
                                                   Attribute("activation_alpha", .floats([0.3])), Attribute("clip", .float(0.5)),
                                                   Attribute("layout", .int(1))])
        #expect(out[0].dims == [2, 3, 1, 3])
        #expect(out[1].dims == [2, 1, 3])
        expectClose(out[0].elements(Float.self), [-0.15, -0.15, 0.5, -0.15, -0.13785002, 0.5, 0.344241, -0.03359895, 0.5,
                                                  0.5, 0.26950002, -0.056100007, -0.15, -0.15, -0.058317307, 0.30293462, 0.5, -0.091632545])
        expectClose(out[1].elements(Float.self), [0.344241, -0.03359895, 0.5, 0.30293462, 0.5, -0.091632545])
    }

    @Test func rejectsWrongWeightShape() {
        #expect(throws: OpError.self) {
            try run("GRU", [Tensor.of(Self.x, dims: [3, 2, 2]), Tensor.of([Float](repeating: 0, count: 12), dims: [1, 6, 2]),
                            Tensor.of([Float](repeating: 0, count: 27), dims: [1, 9, 3])], outputs: 1, attributes: [])
        }
    }

    // MARK: Helpers

    private func run(_ op: String, _ inputs: [Tensor?], outputs: Int, opset: Int = 14, attributes: [Attribute]) throws -> [Tensor] {
        var g = Graph()
        let ins = inputs.indices.map { g.addValue(named: "in\($0)") }
        let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
        let node = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
        let schema = try #require(OpRegistry.schema(domain: "", opType: op))
        let ctx = KernelContext(node: g[node: node], opset: opset, inputs: inputs.map { $0.map { RuntimeValue.tensor($0) } })
        return try schema.kernel(ctx).prefix(outputs).map { try #require($0.tensor) }
    }

    private func expectClose(_ got: [Float], _ want: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (i, (a, b)) in zip(got, want).enumerated() where abs(Double(a) - b) > atol + rtol * abs(b) {
            Issue.record("element \(i): got \(a), expected \(b)", sourceLocation: sourceLocation)
        }
    }
}
