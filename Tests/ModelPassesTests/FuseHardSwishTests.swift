import Testing
import ModelIR
import ModelPasses

@Suite("fuse-hardswish")
struct FuseHardSwishTests {
    /// The forms exporters write for `x * relu6(x + 3) / 6` and `x * hardsigmoid(x)`.
    enum Form: String, CaseIterable {
        case divOfProduct      // torch `x * F.relu6(x + 3) / 6`, paddle2onnx: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)
        case productOfDiv      // torch `x * (F.relu6(x + 3) / 6)`: Mul(x, Div(Clip(...), 6))
        case productTimesSixth // Mul(Mul(Clip(...), x), 1/6), constants first
        case hardSigmoid       // torch opset < 14: Mul(x, HardSigmoid(x; 1/6))
        case hardSigmoidFirst  // Mul(HardSigmoid(x), x)
    }

    /// in[2,3,4] -> x in [-5, 5) -> the form -> Relu -> y.
    static func model(_ form: Form, opset: Int64 = 14, three: Float = 3, alpha: Float = 1.0 / 6,
                      clipReadTwice: Bool = false) -> Model {
        var b = PatternGraphBuilder("hardswish")
        let x = b.spread(b.input("in", [2, 3, 4]), [2, 3, 4])
        let hs: ValueID
        var extra: [ValueID] = []
        switch form {
        case .divOfProduct, .productOfDiv, .productTimesSixth:
            let k3 = b.scalar("three", three), k0 = b.scalar("zero", 0), k6 = b.scalar("six", 6)
            let add = form == .productTimesSixth ? b.node("Add", "add", [k3, x]) : b.node("Add", "add", [x, k3])
            let clip = b.node("Clip", "clip", [add, k0, k6])
            if clipReadTwice { extra.append(clip) }
            switch form {
            case .divOfProduct:
                hs = b.node("Div", "div", [b.node("Mul", "mul", [x, clip]), k6])
            case .productOfDiv:
                hs = b.node("Mul", "mul", [x, b.node("Div", "div", [clip, k6])])
            default:
                let sixth = b.scalar("sixth", 1.0 / 6)
                hs = b.node("Mul", "scale", [sixth, b.node("Mul", "mul", [clip, x])])
            }
        case .hardSigmoid, .hardSigmoidFirst:
            let s = b.node("HardSigmoid", "hsig", [x], [Attribute("alpha", .float(alpha))])
            hs = b.node("Mul", "mul", form == .hardSigmoid ? [x, s] : [s, x])
        }
        let y = b.node("Relu", "y", [hs])
        return b.model(outputs: [y] + extra, opset: opset)
    }

    @Test func fusesTheTorchDecomposition() throws {
        let before = Self.model(.divOfProduct)
        let (after, rewrites, _) = try applying("fuse-hardswish", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "HardSwish", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph hardswish(%in: float32[2,3,4]) -> (%y)
              %ten = initializer float32[]
              %five = initializer float32[]
              %three = initializer float32[]
              %zero = initializer float32[]
              %six = initializer float32[]
              %widen = Mul(%in, %ten) <- widen
              %x = Sub(%widen, %five) <- x
              %div_hardswish = HardSwish(%x) <- add,clip,mul,div
              %y = Relu(%div_hardswish) <- y

            """)
        try expectSameOutputs(before, after)
    }

    @Test(arguments: Form.allCases)
    func fusesEveryForm(_ form: Form) throws {
        let before = Self.model(form)
        let (after, rewrites, _) = try applying("fuse-hardswish", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "HardSwish", "Relu"])
        try expectSameOutputs(before, after)
    }

    @Test func keepsTheOutputNameWhenTheResultIsAGraphOutput() throws {
        var b = PatternGraphBuilder("out")
        let x = b.input("x", [4])
        let s = b.node("HardSigmoid", "hsig", [x], [Attribute("alpha", .float(1.0 / 6))])
        let y = b.node("Mul", "y", [x, s])
        let before = b.model(outputs: [y], opset: 18)
        let (after, _, _) = try applying("fuse-hardswish", to: before)
        #expect(Printer.print(after.graph) == """
            graph out(%x: float32[4]) -> (%y)
              %y = HardSwish(%x) <- hsig,y

            """)
        try expectSameOutputs(before, after)
    }

    @Test func doesNotFireBelowOpset14() throws {
        let (after, rewrites, context) = try applying("fuse-hardswish", to: Self.model(.hardSigmoid, opset: 13))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Mul", "Sub", "HardSigmoid", "Mul", "Relu"])
        #expect(context.notes.contains { $0.contains("opset 13") })
    }

    @Test func doesNotFireWhenAnIntermediateHasAnotherReader() throws {
        let (after, rewrites, context) = try applying("fuse-hardswish", to: Self.model(.divOfProduct, clipReadTwice: true))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Mul", "Sub", "Add", "Clip", "Mul", "Div", "Relu"])
        #expect(context.notes.contains { $0.contains("'clip' is a graph output") })
    }

    @Test func doesNotFireForOtherConstants() throws {
        // x * relu6(x + 2) / 6 and x * HardSigmoid(x; alpha 0.2) are not hardswish.
        for model in [Self.model(.divOfProduct, three: 2), Self.model(.hardSigmoid, alpha: 0.2)] {
            let (after, rewrites, _) = try applying("fuse-hardswish", to: model)
            #expect(rewrites == 0)
            #expect(!opTypes(after).contains("HardSwish"))
        }
    }
}
