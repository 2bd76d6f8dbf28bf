import Testing
import ModelIR
import ModelOps
import ModelPasses

@Suite("fuse-pad-conv")
struct FusePadConvTests {
    /// x[1,3,6,6] -> Pad(H by 1,1 and W by 2,0, value `value`) -> `op` -> Relu -> y.
    static func padThen(_ op: String, value: Float? = nil, pads: [Int64] = [0, 0, 1, 2, 0, 0, 1, 0],
                        attributes: [Attribute] = [], secondReader: Bool = false) -> Model {
        var b = GraphBuilder("pad_\(op.lowercased())")
        let x = b.input("x", [1, 3, 6, 6])
        let p = b.ints("pads", pads)
        var padInputs: [ValueID?] = [x, p]
        if let value { padInputs.append(b.floats("value", [value], [])) }
        let padded = b.node("Pad", "pad", padInputs, "p")
        var inputs: [ValueID?] = [padded]
        var attrs = attributes
        if op == "Conv" {
            inputs.append(b.random("w", [4, 3, 3, 3], seed: 3))
            attrs = [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 0, 1, 0]))] + attrs
        } else {
            attrs = [Attribute("kernel_shape", .ints([3, 3]))] + attrs
        }
        let c = b.node(op, "op", inputs, "c", attrs)
        let y = b.node("Relu", "relu", [c], "y")
        return b.model(secondReader ? [y, padded] : [y])
    }

    @Test func foldsAZeroPadIntoTheConvPads() throws {
        let before = Self.padThen("Conv")
        let (after, rewrites, _) = try applying("fuse-pad-conv", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["Conv", "Relu"])
        #expect(Printer.print(after.graph) == """
            graph pad_conv(%x: float32[1,3,6,6]) -> (%y)
              %pads = initializer int64[8]
              %w = initializer float32[4,3,3,3]
              %c = Conv(%x, %w) {kernel_shape=[3,3], pads=[2,2,2,0]} <- op,pad
              %y = Relu(%c) <- relu

            """)
        try expectSameOutputs(before, after)
    }

    @Test func averagePoolCountsThePaddingItAbsorbs() throws {
        let before = Self.padThen("AveragePool")
        let (after, rewrites, _) = try applying("fuse-pad-conv", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["AveragePool", "Relu"])
        let pool = after.graph.liveNodes[0].node
        if case .int(let c)? = pool.attributes[named: "count_include_pad"] { #expect(c == 1) } else { Issue.record("count_include_pad missing") }
        try expectSameOutputs(before, after)
    }

    @Test func maxPoolTakesAMinusInfinityPad() throws {
        let before = Self.padThen("MaxPool", value: -.infinity)
        let (after, rewrites, _) = try applying("fuse-pad-conv", to: before)
        #expect(rewrites == 1)
        #expect(opTypes(after) == ["MaxPool", "Relu"])
        try expectSameOutputs(before, after)
    }

    @Test func maxPoolAfterAZeroPadIsNotFused() throws {
        // Pad's zeros win over negative inputs; MaxPool's own padding never does.
        let before = Self.padThen("MaxPool")
        let (after, rewrites, context) = try applying("fuse-pad-conv", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Pad", "MaxPool", "Relu"])
        #expect(context.notes.contains { $0.contains("op") && $0.contains("not -inf") })
    }

    @Test func doesNotFireOnAChannelPadOrANonZeroValue() throws {
        let channel = Self.padThen("Conv", pads: [0, 1, 1, 1, 0, 0, 1, 1])
        let (a, r1, c1) = try applying("fuse-pad-conv", to: channel)
        #expect(r1 == 0)
        #expect(opTypes(a) == ["Pad", "Conv", "Relu"])
        #expect(c1.notes.contains { $0.contains("N or C axis") })
        let nonZero = Self.padThen("Conv", value: 0.5)
        let (b, r2, _) = try applying("fuse-pad-conv", to: nonZero)
        #expect(r2 == 0)
        #expect(opTypes(b) == ["Pad", "Conv", "Relu"])
    }

    @Test func aPadWithAnotherReaderStaysForIt() throws {
        let before = Self.padThen("Conv", secondReader: true)
        let (after, rewrites, context) = try applying("fuse-pad-conv", to: before)
        #expect(rewrites == 0)
        #expect(opTypes(after) == ["Pad", "Conv", "Relu"])
        #expect(context.notes.contains { $0.contains("graph output") })
    }
}
