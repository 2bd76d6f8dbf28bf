import Testing
import ModelIR
@testable import ModelOps

/// Col2Im, AffineGrid, Det and TfIdfVectorizer. Expected values come from `onnx.reference` in
/// the venv: `ref(op, inputs, opset, **attrs)` runs a one-node model with `ReferenceEvaluator`.
@Suite("Image geometry, determinant, n-gram counts")
struct ImageOpsTests {
    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map(Int64.init))) }
    func close(_ got: Tensor, _ want: [Float], tol: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
        ConvOpsTests.expectClose(floatValues(got), want, rtol: tol, atol: tol, "values", sourceLocation: sourceLocation)
    }

    @Test func col2ImWithAsymmetricPadsStridesAndDilations() throws {
        // x = np.arange(16, dtype=np.float32).reshape(1,8,2)
        // ref('Col2Im', [x, np.array([3,3]), np.array([2,2])], 18, strides=[2,2], pads=[1,0,0,1], dilations=[1,2])
        let x = Tensor.of((0..<16).map(Float.init), dims: [1, 8, 2])
        let y = try runKernel("Col2Im", opset: 18, [x, Tensor.of([Int64(3), 3]), Tensor.of([Int64(2), 2])],
                              [Self.ints("strides", [2, 2]), Self.ints("pads", [1, 0, 0, 1]), Self.ints("dilations", [1, 2])])[0]
        #expect(y.dims == [1, 2, 3, 3])
        #expect(y.elements(Float.self) == [4, 0, 6, 1, 0, 3, 5, 0, 7, 12, 0, 14, 9, 0, 11, 13, 0, 15])
        // xi = np.arange(6, dtype=np.int32).reshape(1,2,3) * 7; ref('Col2Im', [xi, np.array([4]), np.array([2])], 18)
        let xi = Tensor.of((0..<6).map { Int32($0 * 7) }, dims: [1, 2, 3])
        let yi = try runKernel("Col2Im", opset: 18, [xi, Tensor.of([Int64(4)]), Tensor.of([Int64(2)])])[0]
        #expect(yi.elements(Int32.self) == [0, 28, 42, 35])
        // A column count that does not match the sliding blocks is an error, not a crash.
        #expect(throws: OpError.self) { try runKernel("Col2Im", opset: 18, [x, Tensor.of([Int64(4), 4]), Tensor.of([Int64(2), 2])]) }
    }

    @Test func affineGridTwoAndThreeDimensions() throws {
        // ref('AffineGrid', [np.array([[[1,0.5,0.1],[-0.2,2,0.3]]], np.float32), np.array([1,1,2,3])], 20, align_corners=1)
        let g2 = try runKernel("AffineGrid", opset: 20, [Tensor.of([Float(1), 0.5, 0.1, -0.2, 2, 0.3], dims: [1, 2, 3]),
                                                         Tensor.of([Int64(1), 1, 2, 3])], [Attribute("align_corners", .int(1))])[0]
        #expect(g2.dims == [1, 2, 3, 2])
        close(g2, [-1.399999976158142, -1.5, -0.4000000059604645, -1.7000000476837158, 0.6000000238418579, -1.899999976158142,
                   -0.4000000059604645, 2.5, 0.6000000238418579, 2.299999952316284, 1.600000023841858, 2.0999999046325684])
        // th3 = [[[1,0,0.5,0.1],[0,1,0,0.2],[0.3,0,1,0]]]; ref('AffineGrid', [th3, np.array([1,1,2,2,3])], 20, align_corners=0)
        let g3 = try runKernel("AffineGrid", opset: 20, [Tensor.of([Float(1), 0, 0.5, 0.1, 0, 1, 0, 0.2, 0.3, 0, 1, 0], dims: [1, 3, 4]),
                                                         Tensor.of([Int64(1), 1, 2, 2, 3])])[0]
        #expect(g3.dims == [1, 2, 2, 3, 3])
        close(g3, [-0.8166666626930237, -0.30000001192092896, -0.699999988079071, -0.15000000596046448, -0.30000001192092896, -0.5,
                   0.5166666507720947, -0.30000001192092896, -0.29999998211860657, -0.8166666626930237, 0.699999988079071,
                   -0.699999988079071, -0.15000000596046448, 0.699999988079071, -0.5, 0.5166666507720947, 0.699999988079071,
                   -0.29999998211860657, -0.3166666626930237, -0.30000001192092896, 0.29999998211860657, 0.3499999940395355,
                   -0.30000001192092896, 0.5, 1.0166666507720947, -0.30000001192092896, 0.699999988079071, -0.3166666626930237,
                   0.699999988079071, 0.29999998211860657, 0.3499999940395355, 0.699999988079071, 0.5, 1.0166666507720947,
                   0.699999988079071, 0.699999988079071])
    }

    @Test func determinantPivotsAndFindsSingularMatrices() throws {
        // d = [[[0,2,1],[1,1,0],[3,0,2]], [[1,2,3],[2,4,6],[0,1,1]]] (float32); ref('Det', [d], 22) -> [-7, 0]
        let d = Tensor.of([Float(0), 2, 1, 1, 1, 0, 3, 0, 2, 1, 2, 3, 2, 4, 6, 0, 1, 1], dims: [2, 3, 3])
        let y = try runKernel("Det", opset: 22, [d])[0]
        #expect(y.dims == [2])
        close(y, [-7, 0])
    }

    @Test func tfIdfCountsSkipGramsAndWeights() throws {
        // X = [[1,2,3,2,1,3],[3,3,2,1,1,2]] (int64)
        // ref('TfIdfVectorizer', [X], 9, mode='TFIDF', min_gram_length=1, max_gram_length=2, max_skip_count=1,
        //     ngram_counts=[0,3], ngram_indexes=[2,0,1,3,4], pool_int64s=[1,2,3,2,1,3,3], weights=[0.5,2,1,4,0.25])
        let x = Tensor.of([Int64(1), 2, 3, 2, 1, 3, 3, 3, 2, 1, 1, 2], dims: [2, 6])
        let y = try runKernel("TfIdfVectorizer", opset: 9, [x], [
            Attribute("mode", .string(Array("TFIDF".utf8))), Attribute("min_gram_length", .int(1)), Attribute("max_gram_length", .int(2)),
            Attribute("max_skip_count", .int(1)), Self.ints("ngram_counts", [0, 3]), Self.ints("ngram_indexes", [2, 0, 1, 3, 4]),
            Self.ints("pool_int64s", [1, 2, 3, 2, 1, 3, 3]), Attribute("weights", .floats([0.5, 2, 1, 4, 0.25]))])[0]
        #expect(y.dims == [2, 5])
        #expect(y.elements(Float.self) == [1, 4, 2, 4, 0, 1, 4, 2, 8, 0.25])
        // S = np.array(['a','b','a','c','b']); ref('TfIdfVectorizer', [S], 9, mode='IDF', min_gram_length=2, max_gram_length=2,
        //     max_skip_count=0, ngram_counts=[0,1], ngram_indexes=[0,1,2], pool_strings=['a','a','b','b','a'], weights=[0.5,2,3])
        let s = Tensor(unchecked: .string, dims: [5], storage: .strings(["a", "b", "a", "c", "b"].map { Array($0.utf8) }))
        let ys = try runKernel("TfIdfVectorizer", opset: 9, [s], [
            Attribute("mode", .string(Array("IDF".utf8))), Attribute("min_gram_length", .int(2)), Attribute("max_gram_length", .int(2)),
            Attribute("max_skip_count", .int(0)), Self.ints("ngram_counts", [0, 1]), Self.ints("ngram_indexes", [0, 1, 2]),
            Attribute("pool_strings", .strings(["a", "a", "b", "b", "a"].map { Array($0.utf8) })), Attribute("weights", .floats([0.5, 2, 3]))])[0]
        #expect(ys.elements(Float.self) == [0, 2, 3])
    }
}
