import Testing
import ModelIR
@testable import ModelOps

/// Resize semantics that the backend tests do not pin down. Expected values come from
/// onnx.reference (`ReferenceEvaluator`) or onnxruntime 1.32 in the venv; the one-liners are
/// in the comments (`ref(...)` builds a one-node model and runs it; see each test).
@Suite("Resize")
struct ResizeOpsTests {
    /// x = np.arange(16, dtype=np.float32).reshape(1,1,4,4) ** 1.5 / 4
    static let x: [Float] = [0.0, 0.25, 0.7071067690849304, 1.2990381717681885, 2.0, 2.7950849533081055, 3.674234628677368,
                             4.630064487457275, 5.656854152679443, 6.75, 7.905694007873535, 9.120718002319336,
                             10.392305374145508, 11.71804141998291, 13.095800399780273, 14.523687362670898]

    @Test func linearAntialiasDownsample() throws {
        // ReferenceEvaluator(Resize(X, "", scales=[1,1,.5,.5], mode="linear", antialias=1), opset 19)
        let y = try resize(Tensor.of(Self.x, dims: [1, 1, 4, 4]), scales: [1, 1, 0.5, 0.5],
                           attributes: [Attribute("mode", .string(Array("linear".utf8))), Attribute("antialias", .int(1))])
        #expect(y.dims == [1, 1, 2, 2])
        expectClose(y.elements(Float.self), [1.8248438835144043, 3.0349061489105225, 8.307584762573242, 10.462323188781738])
    }

    @Test func cubicExcludeOutsideSizes() throws {
        // ReferenceEvaluator(Resize(x[:, :, :2, :2], "", "", sizes=[1,1,3,3], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1), opset 19)
        let small = Tensor.of([Self.x[0], Self.x[1], Self.x[4], Self.x[5]], dims: [1, 1, 2, 2])
        let y = try resize(small, sizes: [1, 1, 3, 3],
                           attributes: [Attribute("mode", .string(Array("cubic".utf8))), Attribute("cubic_coeff_a", .float(-0.5)),
                                        Attribute("exclude_outside", .int(1))])
        #expect(y.dims == [1, 1, 3, 3])
        expectClose(y.elements(Float.self), [-0.1456664651632309, -0.02450876496732235, 0.0966489389538765, 0.9656223654747009,
                                             1.2612712383270264, 1.5569201707839966, 2.076911211013794, 2.547051191329956,
                                             3.0171914100646973])
    }

    @Test func uint8LinearRoundsHalfToEven() throws {
        // ReferenceEvaluator(Resize(uint8 [[0,100],[200,255]], "", scales=[1,1,1.5,1.5], mode="linear"), opset 19)
        let y = try resize(Tensor.of([UInt8(0), 100, 200, 255], dims: [1, 1, 2, 2]), scales: [1, 1, 1.5, 1.5],
                           attributes: [Attribute("mode", .string(Array("linear".utf8)))])
        #expect(y.dims == [1, 1, 3, 3])
        #expect(y.elements(UInt8.self) == [0, 50, 100, 100, 139, 178, 200, 228, 255])
    }

    @Test func opset10NearestUsesLegacyRounding() throws {
        // onnxruntime: Resize-10(np.arange(10).reshape(1,1,1,10), scales=[1,1,1,0.6]) and scales [1,1,1,2.5], mode nearest
        let x = Tensor.of((0..<10).map(Float.init), dims: [1, 1, 1, 10])
        let down = try resize(x, scales: [1, 1, 1, 0.6], opset: 10)
        #expect(down.elements(Float.self) == [0, 2, 4, 5, 7, 9])
        let up = try resize(x, scales: [1, 1, 1, 2.5], opset: 10)
        #expect(up.elements(Float.self) == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 8, 8, 8, 9, 9])
    }

    @Test func nearestAsymmetricFloorGathersInt64() throws {
        // PP-OCR's Resize: nearest, asymmetric, floor, scales 2: np.repeat(np.repeat(x, 2, 2), 2, 3)
        let x = Tensor.of([Int64(1), 2, 3, 4, 5, 6], dims: [1, 2, 1, 3])
        let y = try resize(x, scales: [1, 1, 2, 2], opset: 12,
                           attributes: [Attribute("coordinate_transformation_mode", .string(Array("asymmetric".utf8))),
                                        Attribute("nearest_mode", .string(Array("floor".utf8)))])
        #expect(y.dims == [1, 2, 2, 6])
        #expect(y.elements(Int64.self) == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6])
    }

    @Test func rejectsScalesAndSizesTogether() throws {
        let x = Tensor.of([Float(1), 2, 3, 4], dims: [1, 1, 2, 2])
        #expect(throws: OpError.self) {
            try run(x, inputs: [nil, .tensor(Tensor.of([Float(1), 1, 2, 2])), .tensor(Tensor.of([Int64(1), 1, 4, 4]))], opset: 19, attributes: [])
        }
    }

    // MARK: Helpers

    private func resize(_ x: Tensor, scales: [Float], opset: Int = 19, attributes: [Attribute] = []) throws -> Tensor {
        let inputs: [RuntimeValue?] = opset < 11 ? [.tensor(Tensor.of(scales))] : [nil, .tensor(Tensor.of(scales))]
        return try run(x, inputs: inputs, opset: opset, attributes: attributes)
    }

    private func resize(_ x: Tensor, sizes: [Int64], attributes: [Attribute] = []) throws -> Tensor {
        try run(x, inputs: [nil, nil, .tensor(Tensor.of(sizes))], opset: 19, attributes: attributes)
    }

    private func run(_ x: Tensor, inputs: [RuntimeValue?], opset: Int, attributes: [Attribute]) throws -> Tensor {
        var g = Graph()
        let ids = (0...inputs.count).map { g.addValue(named: "in\($0)") }
        let out = g.addValue(named: "out")
        let node = g.appendNode("Resize", name: "resize", inputs: ids, outputs: [out], attributes: attributes)
        let schema = try #require(OpRegistry.schema(domain: "", opType: "Resize"))
        let ctx = KernelContext(node: g[node: node], opset: opset, inputs: [.tensor(x)] + inputs)
        return try #require(try schema.kernel(ctx).first?.tensor)
    }

    private func expectClose(_ got: [Float], _ want: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (i, (a, b)) in zip(got, want).enumerated() where abs(Double(a) - b) > atol + rtol * abs(b) {
            Issue.record("element \(i): got \(a), expected \(b)", sourceLocation: sourceLocation)
        }
    }
}
