import Testing
import ModelIR
import ModelOps
@testable import ModelRuntime

/// The interpreter computes a residual Add and Relu/Clip inside the producing Conv
/// (`EpilogueFusion`) only when nothing else reads the intermediate values; values kept for
/// `--outputs all` stay unfused.
/// Expected values are the definition, written out: a 1x1 convolution is a per-pixel
/// `W * x + b` over channels.
@Suite("Epilogue fusion")
struct EpilogueFusionTests {
    // x: [1, 2, 2, 2]; W: [2, 2, 1, 1]; b: [2].
    static let x: [Float] = [1, -2, 3, -4, 0.5, 6, -7, 8]
    static let w: [Float] = [2, -1, -3, 0.5]
    static let b: [Float] = [0.25, -0.5]

    /// conv[m][p] = sum_c W[m][c] * x[c][p] + b[m], the definition of a 1x1 Conv.
    static var conv: [Float] {
        var y = [Float](repeating: 0, count: 8)
        for m in 0..<2 { for p in 0..<4 { y[m * 4 + p] = w[m * 2] * x[p] + w[m * 2 + 1] * x[4 + p] + b[m] } }
        return y
    }

    /// Input x, Conv -> c, then `tail` adds the rest; returns the model.
    static func model(opset: Int = 17, _ tail: (inout Graph, ValueID) -> Void) -> Model {
        var g = Graph(name: "fusion")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([1, 2, 2, 2])))
        g.setInputs([x])
        let w = g.addValue(named: "W"), b = g.addValue(named: "B"), c = g.addValue(named: "c")
        g.setInitializer(Tensor.of(Self.w, dims: [2, 2, 1, 1]), of: w)
        g.setInitializer(Tensor.of(Self.b), of: b)
        g.appendNode("Conv", name: "conv", inputs: [x, w, b], outputs: [c])
        tail(&g, c)
        return Model(graph: g, opsetImports: [OpsetImport(domain: "", version: Int64(opset))])
    }

    static func run(_ m: Model, keep: Bool = false) throws -> RunResult {
        var options = RunOptions()
        options.keepIntermediates = keep
        return try Interpreter(model: m).run(["x": .tensor(Tensor.of(x, dims: [1, 2, 2, 2]))], options: options)
    }

    static func output(_ r: RunResult, _ k: Int = 0) throws -> [Float] {
        try #require(r.outputs[k].value.tensor).elements(Float.self)
    }

    @Test func reluIsComputedInTheConvAndIntermediatesStayUnfused() throws {
        let m = Self.model { g, c in
            let y = g.addValue(named: "y")
            g.appendNode("Relu", name: "relu", inputs: [c], outputs: [y])
            g.setOutputs([y])
        }
        let plan = try Interpreter(model: m).plan
        #expect(plan.steps[0].fusedNode?.annotations["fused_activation"] == "Relu")
        #expect(plan.steps[1].aliasInput == 0)
        let want = Self.conv.map { max($0, 0) }
        #expect(try Self.output(Self.run(m)) == want)
        let kept = try Self.run(m, keep: true)
        #expect(try Self.output(kept) == want)
        let c = try #require(kept.intermediates.first { $0.name == "c" }?.value.tensor).elements(Float.self)
        #expect(c == Self.conv)
        #expect(c.contains { $0 < 0 })
    }

    @Test func clipWithConstantBoundsIsFused() throws {
        let m = Self.model { g, c in
            let lo = g.addValue(named: "lo"), hi = g.addValue(named: "hi"), y = g.addValue(named: "y")
            g.setInitializer(.scalar(Float(0)), of: lo)
            g.appendNode("Constant", name: "six", inputs: [], outputs: [hi], attributes: [Attribute("value", .tensor(.scalar(Float(6))))])
            g.appendNode("Clip", name: "clip", inputs: [c, lo, hi], outputs: [y])
            g.setOutputs([y])
        }
        let plan = try Interpreter(model: m).plan
        let conv = try #require(plan.steps.first { $0.node.opType == "Conv" })
        #expect(conv.fusedNode?.annotations["fused_activation_max"].flatMap(Float.init) == 6)
        let want = Self.conv.map { min(max($0, 0), 6) }
        #expect(want.contains(6) && want.contains(0))
        #expect(try Self.output(Self.run(m)) == want)
    }

    @Test func clipWithABoundComputedAtRunTimeIsNotFused() throws {
        let m = Self.model { g, c in
            let hi = g.addValue(named: "hi"), y = g.addValue(named: "y")
            g.appendNode("ReduceMax", name: "max", inputs: [c], outputs: [hi], attributes: [Attribute("keepdims", .int(0))])
            g.appendNode("Clip", name: "clip", inputs: [c, nil, hi], outputs: [y])
            g.setOutputs([y])
        }
        #expect(try Interpreter(model: m).plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        let top = Self.conv.max()!
        #expect(try Self.output(Self.run(m)) == Self.conv.map { min($0, top) })
    }

    @Test func aConvOutputWithAnotherReaderIsNotClamped() throws {
        // c feeds Relu and Add: the Add must see the negative values.
        let m = Self.model { g, c in
            let r = g.addValue(named: "r"), s = g.addValue(named: "s")
            g.appendNode("Relu", name: "relu", inputs: [c], outputs: [r])
            g.appendNode("Add", name: "add", inputs: [c, r], outputs: [s])
            g.setOutputs([s])
        }
        #expect(try Interpreter(model: m).plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        #expect(try Self.output(Self.run(m)) == Self.conv.map { $0 + max($0, 0) })
        // c as a graph output: not clamped either.
        let n = Self.model { g, c in
            let r = g.addValue(named: "r")
            g.appendNode("Relu", name: "relu", inputs: [c], outputs: [r])
            g.setOutputs([c, r])
        }
        let out = try Self.run(n)
        #expect(try Self.output(out, 0) == Self.conv)
        #expect(try Self.output(out, 1) == Self.conv.map { max($0, 0) })
    }

    @Test func float64ConvolutionsRunTheActivation() throws {
        var g = Graph(name: "f64")
        let x = g.addValue(named: "x", type: .tensor(.float64, Shape([1, 2, 2, 2])))
        g.setInputs([x])
        let w = g.addValue(named: "W"), c = g.addValue(named: "c"), y = g.addValue(named: "y")
        g.setInitializer(Tensor.of(Self.w.map(Double.init), dims: [2, 2, 1, 1]), of: w)
        g.appendNode("Conv", name: "conv", inputs: [x, w], outputs: [c])
        g.appendNode("Relu", name: "relu", inputs: [c], outputs: [y])
        g.setOutputs([y])
        let r = try Interpreter(model: Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)]))
            .run(["x": .tensor(Tensor.of(Self.x.map(Double.init), dims: [1, 2, 2, 2]))])
        // No bias here: conv minus b, exact in both precisions for these values.
        let want = (0..<8).map { i in max(Double(Self.conv[i] - Self.b[i / 4]), 0) }
        #expect(try #require(r.outputs[0].value.tensor).elements(Double.self) == want)
    }

    // MARK: Residual Add

    static func run(_ m: Model, _ feeds: [String: Tensor], keep: Bool = false) throws -> RunResult {
        var options = RunOptions()
        options.keepIntermediates = keep
        var all = feeds
        all["x"] = Tensor.of(x, dims: [1, 2, 2, 2])
        return try Interpreter(model: m).run(all.mapValues { .tensor($0) }, options: options)
    }

    static let r: [Float] = [-3, 1, 0.5, 9, -2, 2, 4, -8]

    /// c -> Add with a second graph input r (first operand when `residualFirst`) -> Relu.
    static func residualReluModel(residualFirst: Bool) -> Model {
        model { g, c in
            let r = g.addValue(named: "r"), s = g.addValue(named: "s"), y = g.addValue(named: "y")
            g.appendInput(r)
            g.appendNode("Add", name: "add", inputs: residualFirst ? [r, c] : [c, r], outputs: [s])
            g.appendNode("Relu", name: "relu", inputs: [s], outputs: [y])
            g.setOutputs([y])
        }
    }

    @Test func residualAddAndReluAreComputedInTheConv() throws {
        let m = Self.residualReluModel(residualFirst: true)
        let plan = try Interpreter(model: m).plan
        let conv = try #require(plan.steps[0].fusedNode)
        #expect(conv.annotations["fused_add"] == "1" && conv.annotations["fused_activation"] == "Relu")
        #expect(plan.steps[1].aliasInput == 1 && plan.steps[2].aliasInput == 0)
        let want = zip(Self.conv, Self.r).map { max($0 + $1, 0) }
        let feeds = ["r": Tensor.of(Self.r, dims: [1, 2, 2, 2])]
        #expect(try Self.output(Self.run(m, feeds)) == want)
        let kept = try Self.run(m, feeds, keep: true)
        #expect(try Self.output(kept) == want)
        #expect(try #require(kept.intermediates.first { $0.name == "c" }?.value.tensor).elements(Float.self) == Self.conv)
    }

    @Test func aBroadcastResidualFallsBackToTheAddAtRunTime() throws {
        // r is [1, 2, 1, 1] at run time (no declared shape): the Conv cannot add it, so the
        // Add and the Relu run as nodes.
        let m = Self.residualReluModel(residualFirst: false)
        #expect(try Interpreter(model: m).plan.steps[0].fusedNode?.annotations["fused_add"] == "1")
        let rc: [Float] = [-5, 2]
        let want = Self.conv.enumerated().map { max($0.element + rc[$0.offset / 4], 0) }
        #expect(try Self.output(Self.run(m, ["r": Tensor.of(rc, dims: [1, 2, 1, 1])])) == want)
    }

    @Test func theResidualGoesIntoTheConvThatRunsLast() throws {
        // Add(c, d) with d = Conv2(x) scheduled after c: d's Conv adds c.
        let w2: [Float] = [-1, 0.5, 2, 1]
        let m = Self.model { g, c in
            let w = g.addValue(named: "W2"), d = g.addValue(named: "d"), s = g.addValue(named: "s")
            g.setInitializer(Tensor.of(w2, dims: [2, 2, 1, 1]), of: w)
            g.appendNode("Conv", name: "conv2", inputs: [g.valueID(named: "x")!, w], outputs: [d])
            g.appendNode("Add", name: "add", inputs: [c, d], outputs: [s])
            g.setOutputs([s])
        }
        let plan = try Interpreter(model: m).plan
        #expect(plan.steps[0].fusedNode == nil)
        #expect(plan.steps[1].fusedNode?.inputs.last == plan.graph.valueID(named: "c"))
        var d = [Float](repeating: 0, count: 8)
        for k in 0..<2 { for p in 0..<4 { d[k * 4 + p] = w2[k * 2] * Self.x[p] + w2[k * 2 + 1] * Self.x[4 + p] } }
        #expect(try Self.output(Self.run(m, [:])) == zip(Self.conv, d).map { $0 + $1 })
    }

    @Test func aConstantOperandIsLeftToTheAdd() throws {
        let m = Self.model { g, c in
            let k = g.addValue(named: "k"), s = g.addValue(named: "s")
            g.setInitializer(Tensor.of(Self.r, dims: [1, 2, 2, 2]), of: k)
            g.appendNode("Add", name: "add", inputs: [c, k], outputs: [s])
            g.setOutputs([s])
        }
        #expect(try Interpreter(model: m).plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        #expect(try Self.output(Self.run(m, [:])) == zip(Self.conv, Self.r).map { $0 + $1 })
    }

    @Test func aDepthwiseConvAddsTheResidualBeforeTheActivation() throws {
        // group 2, 1x1 kernels: y[m] = w[m] * x[m] + b[m] (the depthwise path, not GEMM).
        var g = Graph(name: "dw")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([1, 2, 2, 2])))
        let r = g.addValue(named: "r", type: .tensor(.float32, Shape([1, 2, 2, 2])))
        g.setInputs([x, r])
        let w = g.addValue(named: "W"), b = g.addValue(named: "B"), c = g.addValue(named: "c")
        let s = g.addValue(named: "s"), y = g.addValue(named: "y")
        g.setInitializer(Tensor.of([Float(2), -3], dims: [2, 1, 1, 1]), of: w)
        g.setInitializer(Tensor.of(Self.b), of: b)
        g.appendNode("Conv", name: "conv", inputs: [x, w, b], outputs: [c], attributes: [Attribute("group", .int(2))])
        g.appendNode("Add", name: "add", inputs: [c, r], outputs: [s])
        g.appendNode("Relu", name: "relu", inputs: [s], outputs: [y])
        g.setOutputs([y])
        let m = Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)])
        #expect(try Interpreter(model: m).plan.steps[0].fusedNode?.annotations["fused_activation"] == "Relu")
        let scale: [Float] = [2, -3]
        var want = [Float](repeating: 0, count: 8)
        for i in 0..<8 {
            let conv: Float = scale[i / 4] * Self.x[i] + Self.b[i / 4]
            want[i] = max(conv + Self.r[i], 0)
        }
        let out = try Interpreter(model: m).run(["x": .tensor(Tensor.of(Self.x, dims: [1, 2, 2, 2])),
                                                 "r": .tensor(Tensor.of(Self.r, dims: [1, 2, 2, 2]))])
        #expect(try Self.output(out) == want)
    }

    // MARK: Hard-swish spelled out (opset < 14)

    /// c -> Add(c, 3) -> Clip(0, 6) -> Mul(c, .) -> Div(., 6), opset 12; `extraReader` adds a
    /// Neg of c as a second graph output.
    static func hardSwishModel(extraReader: Bool = false) -> Model {
        model(opset: 12) { g, c in
            let three = g.addValue(named: "three"), lo = g.addValue(named: "lo"), hi = g.addValue(named: "hi")
            let six = g.addValue(named: "six")
            g.setInitializer(.scalar(Float(3)), of: three)
            g.setInitializer(.scalar(Float(0)), of: lo)
            g.setInitializer(.scalar(Float(6)), of: hi)
            g.appendNode("Constant", name: "six", inputs: [], outputs: [six], attributes: [Attribute("value", .tensor(.scalar(Float(6))))])
            let a = g.addValue(named: "a"), k = g.addValue(named: "k"), m = g.addValue(named: "m"), y = g.addValue(named: "y")
            g.appendNode("Add", name: "add", inputs: [c, three], outputs: [a])
            g.appendNode("Clip", name: "clip", inputs: [a, lo, hi], outputs: [k])
            g.appendNode("Mul", name: "mul", inputs: [c, k], outputs: [m])
            g.appendNode("Div", name: "div", inputs: [m, six], outputs: [y])
            var outputs = [y]
            if extraReader {
                let n = g.addValue(named: "n")
                g.appendNode("Neg", name: "neg", inputs: [c], outputs: [n])
                outputs.append(n)
            }
            g.setOutputs(outputs)
        }
    }

    /// The definition, in the nodes' order of float operations.
    static var hardSwish: [Float] {
        conv.map { c -> Float in
            var t = c + 3
            t = t < 0 ? 0 : t
            t = t > 6 ? 6 : t
            return (c * t) / 6
        }
    }

    @Test func spelledOutHardSwishIsTheConvEpilogueBitForBit() throws {
        let m = Self.hardSwishModel()
        let plan = try Interpreter(model: m).plan
        let conv = try #require(plan.steps.first { $0.node.opType == "Conv" }?.fusedNode)
        #expect(conv.annotations[EpilogueProgram.annotation] == "save;add 3.0;clip 0.0 6.0;mul_saved;div 6.0")
        #expect(plan.steps.filter { $0.aliasInput != nil }.map(\.node.opType) == ["Add", "Clip", "Mul", "Div"])
        let want = Self.hardSwish.map(\.bitPattern)
        #expect(Self.hardSwish.contains(0) && Self.conv.contains { $0 > 3 } && Self.conv.contains { $0 < -3 })
        #expect(try Self.output(Self.run(m)).map(\.bitPattern) == want)
        #expect(try Self.output(Self.run(m, keep: true)).map(\.bitPattern) == want)
    }

    @Test func spelledOutHardSwishWithAnotherReaderOfTheConvRunsAsNodes() throws {
        let m = Self.hardSwishModel(extraReader: true)
        #expect(try Interpreter(model: m).plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        let out = try Self.run(m)
        #expect(try Self.output(out, 0).map(\.bitPattern) == Self.hardSwish.map(\.bitPattern))
        #expect(try Self.output(out, 1) == Self.conv.map { -$0 })
    }

    // MARK: Scalar chains (PP-OCR's learnable affine around the hard-swish)

    /// c -> Mul(c, 0.7) -> Add(., 0.1) -> hard-swish -> Mul(1.3, .) -> Sub(0.2, .) -> Div(., 3)
    /// -> Relu, opset 12, with the scalars as rank-1 initializers; `rank5` makes the first
    /// scalar [1, 1, 1, 1, 1] (it broadcasts c up a rank: no epilogue step).
    static func affineChainModel(rank5: Bool = false) -> Model {
        model(opset: 12) { g, c in
            func constant(_ name: String, _ v: Float, dims: [Int] = [1]) -> ValueID {
                let id = g.addValue(named: name)
                g.setInitializer(Tensor.of([v], dims: dims), of: id)
                return id
            }
            func node(_ op: String, _ inputs: [ValueID]) -> ValueID {
                let out = g.addValue(named: "\(op.lowercased())\(g.nodes.count)")
                g.appendNode(op, name: "n\(g.nodes.count)", inputs: inputs, outputs: [out])
                return out
            }
            let s = node("Mul", [c, constant("s", 0.7, dims: rank5 ? [1, 1, 1, 1, 1] : [1])])
            let a = node("Add", [s, constant("b", 0.1)])
            let t = node("Add", [a, constant("three", 3)])
            let k = node("Clip", [t, constant("lo", 0, dims: []), constant("hi", 6, dims: [])])
            let m = node("Mul", [a, k])
            let h = node("Div", [m, constant("six", 6)])
            let s2 = node("Mul", [constant("s2", 1.3), h])
            let d = node("Sub", [constant("b2", 0.2), s2])
            let q = node("Div", [d, constant("three2", 3)])
            g.setOutputs([node("Relu", [q])])
        }
    }

    /// The definition, in the nodes' order of float operations.
    static var affineChain: [Float] {
        conv.map { c -> Float in
            let a = c * 0.7 + 0.1
            var t = a + 3
            t = t < 0 ? 0 : t
            t = t > 6 ? 6 : t
            let q = (Float(0.2) - Float(1.3) * ((a * t) / 6)) / 3
            return q < 0 ? 0 : q
        }
    }

    @Test func aScalarChainAroundTheHardSwishIsTheConvEpilogueBitForBit() throws {
        let m = Self.affineChainModel()
        let plan = try Interpreter(model: m).plan
        let conv = try #require(plan.steps.first { $0.node.opType == "Conv" }?.fusedNode)
        #expect(conv.annotations[EpilogueProgram.annotation]
            == "mul 0.7;add 0.1;save;add 3.0;clip 0.0 6.0;mul_saved;div 6.0;mul 1.3;sub_from 0.2;div 3.0;relu")
        #expect(plan.steps.filter { $0.aliasInput != nil }.count == 10)
        let want = Self.affineChain.map(\.bitPattern)
        #expect(Self.affineChain.contains(0) && Self.affineChain.contains { $0 > 0 }, "the data should reach the Relu's both sides")
        #expect(try Self.output(Self.run(m)).map(\.bitPattern) == want)
        #expect(try Self.output(Self.run(m, keep: true)).map(\.bitPattern) == want)
    }

    @Test func aLegacyBroadcastAddStaysANode() throws {
        // Before opset 7, Add broadcasts only with its `broadcast` attribute: not a step.
        let m = Self.model(opset: 6) { g, c in
            let k = g.addValue(named: "k"), y = g.addValue(named: "y")
            g.setInitializer(Tensor.of([Float(0.5)], dims: [1]), of: k)
            g.appendNode("Add", name: "add", inputs: [c, k], outputs: [y], attributes: [Attribute("broadcast", .int(1))])
            g.setOutputs([y])
        }
        let plan = try Interpreter(model: m).plan
        #expect(plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        #expect(try Self.output(Self.run(m)) == Self.conv.map { $0 + 0.5 })
    }

    @Test func aScalarThatBroadcastsUpARankStaysANode() throws {
        let m = Self.affineChainModel(rank5: true)
        let plan = try Interpreter(model: m).plan
        #expect(plan.steps.allSatisfy { $0.fusedNode == nil && $0.aliasInput == nil })
        let out = try #require(Self.run(m).outputs[0].value.tensor)
        #expect(out.dims == [1, 1, 2, 2, 2])
        #expect(out.elements(Float.self).map(\.bitPattern) == Self.affineChain.map(\.bitPattern))
    }
}
