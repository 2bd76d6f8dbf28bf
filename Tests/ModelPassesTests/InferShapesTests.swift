import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("infer-shapes")
struct InferShapesTests {
    /// x[2,3,4] -> Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape(x) -> Relu -> y:
    /// `x.reshape(x.shape[0], -1)` as exporters write it.
    static func shapeChain() -> Model {
        var b = GraphBuilder("chain")
        let x = b.input("x", [2, 3, 4])
        let s = b.node("Shape", "shape", [x], "s")
        let n = b.node("Gather", "gather", [s, b.constant("zero", Tensor.scalar(Int64(0)))], "n", [Attribute("axis", .int(0))])
        let u = b.node("Unsqueeze", "unsqueeze", [n, b.ints("axes", [0])], "u")
        let t = b.node("Concat", "cat", [u, b.ints("minus_one", [-1])], "t", [Attribute("axis", .int(0))])
        let r = b.node("Reshape", "reshape", [x, t], "r")
        let y = b.node("Relu", "relu", [r], "y")
        return b.model([y])
    }

    @Test func aGraphThatComputesShapesGetsEveryShapeFromOneDryRun() throws {
        let (after, _, _) = try applying("infer-shapes", to: Self.shapeChain())
        let g = after.graph
        func dims(_ name: String) -> [Int]? { g[value: g.valueID(named: name)!].type?.tensorShape?.staticDims }
        #expect(dims("s") == [3])
        #expect(dims("n") == [])
        #expect(dims("t") == [2])
        #expect(dims("r") == [2, 3 * 4])  // x.reshape(2, -1)
        #expect(dims("y") == [2, 3 * 4])
    }

    @Test func foldConstantsThenLeavesOnlyTheReshape() throws {
        let before = Self.shapeChain()
        var m = before
        var context = PassContext()
        var manager = PassManager()
        manager.verifyEach = true
        _ = try manager.run(try PassManager.resolve(["infer-shapes", "fold-constants"]), on: &m, context: &context)
        #expect(opTypes(m) == ["Reshape", "Relu"])
        #expect(m.graph.constant(m.graph.valueID(named: "t"))?.integers() == [2, -1])
        try expectSameOutputs(before, m)
    }

    @Test func shapesThatDependOnTheNumbersAreNotTakenFromTheDryRun() throws {
        // NonZero's output length depends on x's numbers: the dry run's zeros give [2, 0], which
        // must not become the annotation (nor its Transpose's). Shape(x) makes the dry run go first.
        var b = GraphBuilder("nonzero")
        let x = b.input("x", [2, 3])
        let nz = b.node("NonZero", "nonzero", [x], "nz")
        let t = b.node("Transpose", "transpose", [nz], "t", [Attribute("perm", .ints([1, 0]))])
        let s = b.node("Shape", "shape", [x], "s")
        let m = b.model([t, s])
        let (after, _, _) = try applying("infer-shapes", to: m)
        let g = after.graph
        for name in ["nz", "t"] {
            let shape = g[value: g.valueID(named: name)!].type?.tensorShape
            #expect(shape?.staticDims == nil, "\(name): \(String(describing: shape))")
        }
        #expect(g[value: g.valueID(named: "s")!].type?.tensorShape?.staticDims == [2])
    }
}
