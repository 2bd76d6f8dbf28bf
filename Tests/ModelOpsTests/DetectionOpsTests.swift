import Testing
import ModelIR
@testable import ModelOps

/// NonMaxSuppression, RoiAlign and GridSample cases beyond the backend tests. Expected values
/// from onnx.reference (`ReferenceEvaluator`) and onnxruntime 1.32, which agree on each
/// (except GridSample cubic 3-D, which onnxruntime does not implement: reference only).
@Suite("Detection")
struct DetectionOpsTests {
    @Test func nmsTiesScoreThresholdFlippedCorners() throws {
        // NonMaxSuppression-11(boxes, scores, max=[2], iou=[0.5], score=[0.1]) with the arrays below: box 2 is box 0
        // with flipped corners (ties with box 0 at 0.9: lower index first, then suppressed), box 5's class-0
        // score is under the threshold, boxes 3 and 4 tie in class 1.
        let boxes: [Float] = [0, 0, 1, 1, 0, 0.1, 1, 1.1, 1, 1, 0, 0, 0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101]
        let scores: [Float] = [0.9, 0.75, 0.9, 0.3, 0.3, 0.05, 0.1, 0.8, 0.2, 0.7, 0.7, 0.6]
        let out = try run("NonMaxSuppression", [Tensor.of(boxes, dims: [1, 6, 4]), Tensor.of(scores, dims: [1, 2, 6]),
                                                Tensor.of([Int64(2)]), Tensor.of([Float(0.5)]), Tensor.of([Float(0.1)])], opset: 11)
        #expect(out.dims == [4, 3])
        #expect(out.elements(Int64.self) == [0, 0, 0, 0, 0, 3, 0, 1, 1, 0, 1, 3])
    }

    @Test func nmsWithoutMaxOutputSelectsNothing() throws {
        // onnx.reference / onnxruntime: max_output_boxes_per_class absent means 0.
        let out = try run("NonMaxSuppression", [Tensor.of([Float(0), 0, 1, 1], dims: [1, 1, 4]), Tensor.of([Float(0.9)], dims: [1, 1, 1])], opset: 11)
        #expect(out.dims == [0, 3])
    }

    /// X = (np.arange(40, dtype=np.float32).reshape(2,1,4,5) % 7) / 3
    static let roiX: [Float] = (0..<40).map { Float($0 % 7) / 3 }
    static let rois: [Float] = [0.5, 0.5, 3.2, 2.7, -1, 0, 2, 5]

    @Test func roiAlignMaxOutputHalfPixel() throws {
        // RoiAlign-16(X, rois, batch_indices=[1,0]) mode=max, output 2x3, sampling_ratio=2,
        // coordinate_transformation_mode=output_half_pixel
        let out = try run("RoiAlign", [Tensor.of(Self.roiX, dims: [2, 1, 4, 5]), Tensor.of(Self.rois, dims: [2, 4]), Tensor.of([Int64(1), 0])],
                          opset: 16, attributes: [Attribute("mode", .string(Array("max".utf8))), Attribute("output_height", .int(2)),
                                                  Attribute("output_width", .int(3)), Attribute("sampling_ratio", .int(2)),
                                                  Attribute("coordinate_transformation_mode", .string(Array("output_half_pixel".utf8)))])
        #expect(out.dims == [2, 1, 2, 3])
        expectClose(out.elements(Float.self), [1.0656251, 1.4337499, 0.7362498, 0.7218751, 1.0791667, 1.4218751,
                                               1.0416666, 0.9375, 1.09375, 0.33333334, 0.5, 0.75])
    }

    @Test func roiAlignAverageAdaptiveHalfPixel() throws {
        // RoiAlign-16(X, rois, batch_indices=[1,0]) mode=avg, output 2x2, sampling_ratio=0, spatial_scale=0.5
        let out = try run("RoiAlign", [Tensor.of(Self.roiX, dims: [2, 1, 4, 5]), Tensor.of(Self.rois, dims: [2, 4]), Tensor.of([Int64(1), 0])],
                          opset: 16, attributes: [Attribute("output_height", .int(2)), Attribute("output_width", .int(2)),
                                                  Attribute("spatial_scale", .float(0.5))])
        expectClose(out.elements(Float.self), [1.8134376, 0.50281245, 1.5590625, 1.1146874, 0.3645833, 0.40625, 1.4166666, 1.4583333])
    }

    @Test(arguments: [("nearest", [16.0, 18.0, 10.0]), ("linear", [17.8, 11.900001, 10.9]), ("cubic", [20.276127, 11.754124, 11.324505])])
    func gridSampleVolumetricReflection(mode: String, expected: [Double]) throws {
        // GridSample-20(np.arange(24).reshape(1,1,2,3,4), grid [1,1,1,3,3] below) padding_mode=reflection, align_corners=0
        let grid: [Float] = [-1.2, 0.3, 0.9, 0.5, -1.7, 0.1, 1.9, 1.1, -0.4]
        let out = try run("GridSample", [Tensor.of((0..<24).map(Float.init), dims: [1, 1, 2, 3, 4]), Tensor.of(grid, dims: [1, 1, 1, 3, 3])],
                          opset: 20, attributes: [Attribute("mode", .string(Array(mode.utf8))),
                                                  Attribute("padding_mode", .string(Array("reflection".utf8)))])
        #expect(out.dims == [1, 1, 1, 1, 3])
        expectClose(out.elements(Float.self), expected)
    }

    @Test func roiAlignRejectsBadBatchIndex() {
        #expect(throws: OpError.self) {
            try run("RoiAlign", [Tensor.of(Self.roiX, dims: [2, 1, 4, 5]), Tensor.of(Self.rois, dims: [2, 4]), Tensor.of([Int64(2), 0])], opset: 16)
        }
    }

    // MARK: Helpers

    private func run(_ op: String, _ inputs: [Tensor?], opset: Int, attributes: [Attribute] = []) throws -> Tensor {
        var g = Graph()
        let ins = inputs.indices.map { g.addValue(named: "in\($0)") }
        let out = g.addValue(named: "out")
        let node = g.appendNode(op, name: "n", inputs: ins, outputs: [out], attributes: attributes)
        let schema = try #require(OpRegistry.schema(domain: "", opType: op))
        let ctx = KernelContext(node: g[node: node], opset: opset, inputs: inputs.map { $0.map { RuntimeValue.tensor($0) } })
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
