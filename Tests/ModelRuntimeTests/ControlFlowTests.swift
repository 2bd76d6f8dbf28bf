import Testing
import ModelIR
import ModelOps
import ModelRuntime

/// Loop and Scan through the interpreter, in cases the backend tests cannot reach (their
/// sequence and optional inputs are SequenceProto/OptionalProto files) or do not cover
/// (Scan axes and directions). The models are built here the way /tmp scripts built them
/// with onnx.helper; expected values are onnxruntime 1.32's outputs for those models.
@Suite("Control flow")
struct ControlFlowTests {
    /// Loop (M = 3, cond = true) carrying an optional sequence that starts empty; the body
    /// takes an If on `OptionalHasElement` (then: SequenceEmpty, else: OptionalGetElement),
    /// inserts the outer value x, wraps it back in an Optional and scans out SequenceLength.
    /// After the loop: ConcatFromSequence(axis 0).
    /// onnxruntime, x = [1.5, -2]: y = [1.5, -2, 1.5, -2, 1.5, -2], lens = [1, 2, 3].
    @Test func loopCarriesOptionalSequence() throws {
        var thenBranch = Graph(name: "then")
        let fresh = thenBranch.addValue(named: "fresh")
        thenBranch.appendNode("SequenceEmpty", name: "empty", inputs: [], outputs: [fresh], attributes: [Attribute("dtype", .int(1))])
        thenBranch.setOutputs([fresh])
        var elseBranch = Graph(name: "else")
        let optRef = elseBranch.addValue(named: "opt_in")
        let got = elseBranch.addValue(named: "got")
        elseBranch.appendNode("OptionalGetElement", name: "get", inputs: [optRef], outputs: [got])
        elseBranch.setOutputs([got])

        var body = Graph(name: "body")
        let i = body.addValue(named: "i"), condIn = body.addValue(named: "cond_in"), optIn = body.addValue(named: "opt_in")
        body.setInputs([i, condIn, optIn])
        let condOut = body.addValue(named: "cond_out"), has = body.addValue(named: "has"), none = body.addValue(named: "none")
        let s = body.addValue(named: "s"), s2 = body.addValue(named: "s2"), optOut = body.addValue(named: "opt_out")
        let len = body.addValue(named: "len"), xRef = body.addValue(named: "x")
        body.appendNode("Identity", name: "cond", inputs: [condIn], outputs: [condOut])
        body.appendNode("OptionalHasElement", name: "has", inputs: [optIn], outputs: [has])
        body.appendNode("Not", name: "not", inputs: [has], outputs: [none])
        body.appendNode("If", name: "if", inputs: [none], outputs: [s],
                        attributes: [Attribute("then_branch", .graph(thenBranch)), Attribute("else_branch", .graph(elseBranch))])
        body.appendNode("SequenceInsert", name: "insert", inputs: [s, xRef], outputs: [s2])
        body.appendNode("Optional", name: "wrap", inputs: [s2], outputs: [optOut])
        body.appendNode("SequenceLength", name: "length", inputs: [s2], outputs: [len])
        body.setOutputs([condOut, optOut, len])

        var g = Graph(name: "a")
        let m = g.addValue(named: "M", type: .tensor(.int64, Shape([Int]()))), c = g.addValue(named: "c", type: .tensor(.bool, Shape([Int]())))
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([2])))
        g.setInputs([m, c, x])
        let opt0 = g.addValue(named: "opt0"), optFinal = g.addValue(named: "opt_final"), lens = g.addValue(named: "lens")
        let seq = g.addValue(named: "seq"), y = g.addValue(named: "y")
        g.appendNode("Optional", name: "opt0", inputs: [], outputs: [opt0])
        g.appendNode("Loop", name: "loop", inputs: [m, c, opt0], outputs: [optFinal, lens], attributes: [Attribute("body", .graph(body))])
        g.appendNode("OptionalGetElement", name: "get", inputs: [optFinal], outputs: [seq])
        g.appendNode("ConcatFromSequence", name: "concat", inputs: [seq], outputs: [y], attributes: [Attribute("axis", .int(0))])
        g.setOutputs([y, lens])

        let result = try Interpreter(model: Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 18)]))
            .run(["M": .tensor(.scalar(Int64(3))), "c": .tensor(.scalar(true)), "x": .tensor(Tensor.of([Float(1.5), -2]))])
        let yOut = try #require(result.outputs[0].value.tensor), lensOut = try #require(result.outputs[1].value.tensor)
        #expect(yOut.elements(Float.self) == [1.5, -2, 1.5, -2, 1.5, -2])
        #expect(lensOut.dims == [3])
        #expect(lensOut.elements(Int64.self) == [1, 2, 3])
    }

    /// Scan-11, state s0 [2], scan inputs A [2,3] (axis 1, reversed) and B [3,2] (axis 0); body
    /// acc2 = acc + a, prod = acc2 * b, o1 = acc2; scan outputs P on axis 1 and O on axis -1 reversed.
    /// onnxruntime, s0 = [0.5, 1], A = [[1,2,3],[4,5,6]], B = [[1,-1],[2,0.5],[-3,4]]:
    /// sf = [6.5, 16], P = [[3.5, 11, -19.5], [-7, 6, 64]], O = [[6.5, 5.5, 3.5], [16, 12, 7]].
    @Test func scanAxesAndDirections() throws {
        var body = Graph(name: "sbody")
        let acc = body.addValue(named: "acc"), a = body.addValue(named: "a"), b = body.addValue(named: "b")
        body.setInputs([acc, a, b])
        let acc2 = body.addValue(named: "acc2"), prod = body.addValue(named: "prod"), o1 = body.addValue(named: "o1")
        body.appendNode("Add", name: "add", inputs: [acc, a], outputs: [acc2])
        body.appendNode("Mul", name: "mul", inputs: [acc2, b], outputs: [prod])
        body.appendNode("Identity", name: "id", inputs: [acc2], outputs: [o1])
        body.setOutputs([acc2, prod, o1])

        var g = Graph(name: "b")
        let s0 = g.addValue(named: "s0"), aIn = g.addValue(named: "A"), bIn = g.addValue(named: "B")
        g.setInputs([s0, aIn, bIn])
        let sf = g.addValue(named: "sf"), p = g.addValue(named: "P"), o = g.addValue(named: "O")
        g.appendNode("Scan", name: "scan", inputs: [s0, aIn, bIn], outputs: [sf, p, o],
                     attributes: [Attribute("body", .graph(body)), Attribute("num_scan_inputs", .int(2)),
                                  Attribute("scan_input_axes", .ints([1, 0])), Attribute("scan_input_directions", .ints([1, 0])),
                                  Attribute("scan_output_axes", .ints([1, -1])), Attribute("scan_output_directions", .ints([0, 1]))])
        g.setOutputs([sf, p, o])

        let result = try Interpreter(model: Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 11)]))
            .run(["s0": .tensor(Tensor.of([Float(0.5), 1])), "A": .tensor(Tensor.of([Float(1), 2, 3, 4, 5, 6], dims: [2, 3])),
                  "B": .tensor(Tensor.of([Float(1), -1, 2, 0.5, -3, 4], dims: [3, 2]))])
        let outs = try result.outputs.map { try #require($0.value.tensor) }
        #expect(outs[0].elements(Float.self) == [6.5, 16])
        #expect(outs[1].dims == [2, 3])
        #expect(outs[1].elements(Float.self) == [3.5, 11, -19.5, -7, 6, 64])
        #expect(outs[2].dims == [2, 3])
        #expect(outs[2].elements(Float.self) == [6.5, 5.5, 3.5, 16, 12, 7])
    }
}
