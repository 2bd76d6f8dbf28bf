import Testing
import ModelIR
@testable import ModelOps

/// Sequence and optional ops. Expected values follow onnx.reference (op_split_to_sequence,
/// op_sequence_insert, op_concat_from_sequence), written out by hand from NumPy:
/// `np.split`-like chunks, `list.insert`, `np.stack`.
@Suite("Sequence")
struct SequenceOpsTests {
    @Test func splitToSequenceScalarSplitKeepsRemainder() throws {
        // SplitToSequence(np.arange(5), split=2) -> [0,1], [2,3], [4]
        let seq = try sequence(run("SplitToSequence", [.tensor(Tensor.of((0..<5).map(Int64.init))), .tensor(.scalar(Int64(2)))]))
        #expect(seq.map(\.dims) == [[2], [2], [1]])
        #expect(seq.map { $0.elements(Int64.self) } == [[0, 1], [2, 3], [4]])
    }

    @Test func splitToSequenceKeepdimsZeroSqueezes() throws {
        // SplitToSequence(np.arange(6).reshape(2,3), axis=1, keepdims=0) -> x[:, 0], x[:, 1], x[:, 2]
        let seq = try sequence(run("SplitToSequence", [.tensor(Tensor.of((0..<6).map(Float.init), dims: [2, 3]))],
                                   attributes: [Attribute("axis", .int(1)), Attribute("keepdims", .int(0))]))
        #expect(seq.map(\.dims) == [[2], [2], [2]])
        #expect(seq.map { $0.elements(Float.self) } == [[0, 3], [1, 4], [2, 5]])
    }

    @Test func concatFromSequenceNewAxisNegative() throws {
        // ConcatFromSequence([[0,3],[1,4],[2,5]], axis=-1, new_axis=1) == np.stack(..., axis=-1) == [[0,1,2],[3,4,5]]
        let items = [[Float(0), 3], [1, 4], [2, 5]].map { Tensor.of($0) }
        let out = try run("ConcatFromSequence", [.sequence(items)], attributes: [Attribute("axis", .int(-1)), Attribute("new_axis", .int(1))])
        let t = try #require(out.tensor)
        #expect(t.dims == [2, 3])
        #expect(t.elements(Float.self) == [0, 1, 2, 3, 4, 5])
    }

    @Test func insertAndEraseAtNegativePositions() throws {
        // SequenceInsert([a, b], t, position=-1) -> [a, t, b]; SequenceErase(that) -> [a, t]
        let a = Tensor.of([Int32(1)]), b = Tensor.of([Int32(2)]), t = Tensor.of([Int32(9)])
        let inserted = try sequence(run("SequenceInsert", [.sequence([a, b]), .tensor(t), .tensor(.scalar(Int64(-1)))]))
        #expect(inserted.map { $0.elements(Int32.self) } == [[1], [9], [2]])
        let erased = try sequence(run("SequenceErase", [.sequence(inserted)]))
        #expect(erased.map { $0.elements(Int32.self) } == [[1], [9]])
        #expect(throws: OpError.self) { try run("SequenceAt", [.sequence(erased), .tensor(.scalar(Int64(2)))]) }
    }

    @Test func optionalHasElement() throws {
        let empty = try #require(try run("OptionalHasElement", [RuntimeValue.none]).tensor)
        #expect(empty.elements(Bool.self) == [false])
        let absent = try #require(try run("OptionalHasElement", [nil]).tensor)
        #expect(absent.elements(Bool.self) == [false])
        let full = try #require(try run("OptionalHasElement", [.sequence([])]).tensor)
        #expect(full.elements(Bool.self) == [true])
        #expect(throws: OpError.self) { try run("OptionalGetElement", [RuntimeValue.none]) }
    }

    // MARK: Helpers

    private func run(_ op: String, _ inputs: [RuntimeValue?], attributes: [Attribute] = []) throws -> RuntimeValue {
        var g = Graph()
        let ins = inputs.indices.map { g.addValue(named: "in\($0)") }
        let out = g.addValue(named: "out")
        let node = g.appendNode(op, name: "n", inputs: ins, outputs: [out], attributes: attributes)
        let schema = try #require(OpRegistry.schema(domain: "", opType: op))
        return try #require(try schema.kernel(KernelContext(node: g[node: node], opset: 18, inputs: inputs)).first)
    }

    private func sequence(_ v: RuntimeValue) throws -> [Tensor] {
        guard case .sequence(let s) = v else {
            Issue.record("expected a sequence, got \(v.typeDescription)")
            return []
        }
        return s
    }
}
