import Testing
import ModelIR
import ModelOps
import ModelRuntime

/// `RunOptions.recordTypes`: the dry run shape inference uses.
@Suite("Record types")
struct RecordTypesTests {
    /// x[2,3] -> MatMul(w[3,4]) -> m -> Relu -> r -> Shape -> s; outputs r and s.
    static func model() -> Model {
        var g = Graph(name: "types")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([2, 3])))
        g.appendInput(x)
        let w = g.addValue(named: "w")
        g.setInitializer(Tensor.of([Float](repeating: 0.5, count: 12), dims: [3, 4], name: "w"), of: w)
        let m = g.addValue(named: "m"), r = g.addValue(named: "r"), s = g.addValue(named: "s")
        g.appendNode("MatMul", name: "matmul", inputs: [x, w], outputs: [m])
        g.appendNode("Relu", name: "relu", inputs: [m], outputs: [r])
        g.appendNode("Shape", name: "shape", inputs: [r], outputs: [s])
        g.setOutputs([r, s])
        return Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)])
    }

    @Test func everyComputedValueHasItsTypeRecordedAndNoneIsKept() throws {
        var options = RunOptions()
        options.recordTypes = true
        options.threads = 1
        let x = Tensor.of([Float](repeating: 0, count: 6), dims: [2, 3])
        let result = try Interpreter(model: Self.model()).run(["x": .tensor(x)], options: options)
        // [2,3] x [3,4] -> [2,4]; Relu keeps it; Shape of a rank-2 tensor is int64[2].
        #expect(result.types == [
            ComputedType(name: "m", dtype: .float32, dims: [2, 4]),
            ComputedType(name: "r", dtype: .float32, dims: [2, 4]),
            ComputedType(name: "s", dtype: .int64, dims: [2]),
        ])
        #expect(result.intermediates.isEmpty)
        #expect(result.outputs.map(\.name) == ["r", "s"])
        #expect(result.outputs[1].value.tensor?.elements(Int64.self) == [2, 4])
    }

    @Test func aNormalRunRecordsNoTypes() throws {
        let x = Tensor.of([Float](repeating: 1, count: 6), dims: [2, 3])
        let result = try Interpreter(model: Self.model()).run(["x": .tensor(x)])
        #expect(result.types.isEmpty)
    }
}
