import Testing
import ModelIR
import ModelPasses

@Suite("fuse-gelu")
struct FuseGeluTests {
    /// The forms torch's TorchScript exporter and Hugging Face's code write (seen in
    /// torch 2.13 exports at opset 17).
    enum Form: String, CaseIterable {
        case torchErf      // F.gelu: Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)
        case hfErf         // x * 0.5 * (1 + erf(x / sqrt(2))): Mul(Mul(x, 0.5), Add(Erf(Div(x, sqrt2)), 1))
        case erfTimesRsqrt // 0.5 * (x * (1 + erf(x * (1/sqrt2)))): Mul(0.5, Mul(Add(1, Erf(Mul(rsqrt2, x))), x))
        case torchTanh     // F.gelu(approximate="tanh"): x^3 as Mul(x, Mul(x, x)), constants first
        case hfTanh        // NewGELU: Mul(Mul(x, 0.5), Add(Tanh(Mul(Add(x, Mul(Pow(x, 3), k)), b)), 1))
    }

    /// in[2,3,4] -> x in [-5, 5) -> the form -> Relu -> y.
    static func model(_ form: Form, opset: Int64 = 20, sqrt2: Float = Float(2.0.squareRoot()), erfReadTwice: Bool = false) -> Model {
        var b = PatternGraphBuilder("gelu")
        let x = b.spread(b.input("in", [2, 3, 4]), [2, 3, 4])
        let one = b.scalar("one", 1), half = b.scalar("half", 0.5)
        let g: ValueID
        var extra: [ValueID] = []
        switch form {
        case .torchErf, .hfErf, .erfTimesRsqrt:
            let e: ValueID
            if form == .erfTimesRsqrt {
                e = b.node("Erf", "erf", [b.node("Mul", "scaled", [b.scalar("rsqrt2", Float(0.5.squareRoot())), x])])
            } else {
                e = b.node("Erf", "erf", [b.node("Div", "scaled", [x, b.scalar("sqrt2", sqrt2)])])
            }
            if erfReadTwice { extra.append(e) }
            switch form {
            case .torchErf:
                g = b.node("Mul", "mul_1", [b.node("Mul", "mul", [x, b.node("Add", "add", [e, one])]), half])
            case .hfErf:
                g = b.node("Mul", "mul_1", [b.node("Mul", "mul", [x, half]), b.node("Add", "add", [e, one])])
            default:
                g = b.node("Mul", "mul_1", [half, b.node("Mul", "mul", [b.node("Add", "add", [one, e]), x])])
            }
        case .torchTanh:
            let cube = b.node("Mul", "cube", [x, b.node("Mul", "square", [x, x])])
            let inner = b.node("Add", "inner", [x, b.node("Mul", "kx3", [b.scalar("kappa", 0.044715), cube])])
            let t = b.node("Tanh", "tanh", [b.node("Mul", "scaled", [b.scalar("beta", Float((2 / Double.pi).squareRoot())), inner])])
            g = b.node("Mul", "mul_1", [half, b.node("Mul", "mul", [x, b.node("Add", "add", [one, t])])])
        case .hfTanh:
            let cube = b.node("Pow", "cube", [x, b.scalar("three", 3)])
            let inner = b.node("Add", "inner", [x, b.node("Mul", "kx3", [cube, b.scalar("kappa", 0.044715)])])
            let t = b.node("Tanh", "tanh", [b.node("Mul", "scaled", [inner, b.scalar("beta", Float((2 / Double.pi).squareRoot()))])])
            g = b.node("Mul", "mul_1", [b.node("Mul", "mul", [x, half]), b.node("Add", "add", [t, one])])
        }
        let y = b.node("Relu", "y", [g])
        return b.model(outputs: [y] + extra, opset: opset)
    }

    @Test func fusesTheTorchErfForm() throws {
        let before = Self.model(.torchErf)
        let (after, rewrites, _) = try applying("fuse-gelu", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "Gelu", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph gelu(%in: float32[2,3,4]) -> (%y)
              %ten = initializer float32[]
              %five = initializer float32[]
              %one = initializer float32[]
              %half = initializer float32[]
              %sqrt2 = initializer float32[]
              %widen = Mul(%in, %ten) <- widen
              %x = Sub(%widen, %five) <- x
              %mul_1_gelu = Gelu(%x) {approximate="none"} <- scaled,erf,add,mul,mul_1
              %y = Relu(%mul_1_gelu) <- y

            """)
        try expectSameOutputs(before, after)
    }

    @Test(arguments: Form.allCases)
    func fusesEveryForm(_ form: Form) throws {
        let before = Self.model(form)
        let (after, rewrites, _) = try applying("fuse-gelu", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Mul", "Sub", "Gelu", "Relu"])
        let gelu = after.graph.liveNodes.first { $0.node.opType == "Gelu" }!.node
        let tanh = form == .torchTanh || form == .hfTanh
        guard case .string(let approximate)? = gelu.attributes[named: "approximate"] else {
            Issue.record("Gelu has no approximate attribute"); return
        }
        #expect(String(decoding: approximate, as: UTF8.self) == (tanh ? "tanh" : "none"))
        try expectSameOutputs(before, after)
    }

    @Test func doesNotFireBelowOpset20() throws {
        for form in [Form.torchErf, .torchTanh] {
            let (after, rewrites, context) = try applying("fuse-gelu", to: Self.model(form, opset: 17))
            #expect(rewrites == 0)
            #expect(!opTypes(after).contains("Gelu"))
            #expect(context.notes.contains { $0.contains("opset 17") && $0.contains("Gelu's 20") })
        }
    }

    @Test func doesNotFireWhenAnIntermediateHasAnotherReader() throws {
        let (after, rewrites, context) = try applying("fuse-gelu", to: Self.model(.torchErf, erfReadTwice: true))
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Mul", "Sub", "Div", "Erf", "Add", "Mul", "Mul", "Relu"])
        #expect(context.notes.contains { $0.contains("'erf' is a graph output") })
    }

    @Test func doesNotFireWhenSqrt2IsOffBeyondFloat32Rounding() throws {
        // 1.4142 is sqrt(2) to 4 decimals: 1e-5 relative off, beyond the 1e-6 tolerance.
        let (after, rewrites, _) = try applying("fuse-gelu", to: Self.model(.torchErf, sqrt2: 1.4142))
        #expect(rewrites == 0)
        #expect(!opTypes(after).contains("Gelu"))
    }
}
