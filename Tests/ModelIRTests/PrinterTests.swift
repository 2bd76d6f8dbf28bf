import Testing
import ModelIR
import _ModelTestSupport

@Suite("Text IR printer")
struct PrinterTests {
    @Test func printsOneLinePerNodeWithProvenance() {
        let text = Printer.print(TestModels.convRelu().graph)
        #expect(text == """
            graph conv_relu(%x: float32[1,3,8,8]) -> (%y)
              %w = initializer float32[4,3,3,3]
              %b = initializer float32[4]
              %shape = initializer int64[2]
              %c = Conv(%x, %w, %b) {kernel_shape=[3,3], pads=[1,1,1,1]} <- conv1
              %r = Relu(%c) <- relu1
              %y = Reshape(%r, %shape) <- flatten

            """)
    }

    @Test func absentInputsAndQuotedNames() {
        var g = Graph(name: "g")
        let x = g.addValue(named: "input:0"); g.appendInput(x)
        let y = g.addValue(named: "out put")
        g.appendNode("Clip", name: "clip", inputs: [x, nil, nil], outputs: [y],
                     attributes: [Attribute("mode", .string(Array("a\"b".utf8))), Attribute("alpha", .float(0.5))])
        g.setOutputs([y])
        #expect(Printer.print(g).contains("%\"out put\" = Clip(%input:0, _, _) {mode=\"a\\\"b\", alpha=0.5} <- clip"))
    }

    @Test func fusedNodeShowsEverySourceName() {
        var g = Graph(name: "g")
        let x = g.addValue(named: "x"); g.appendInput(x)
        let y = g.addValue(named: "y")
        g.appendNode("Conv", name: "conv1_bn1", inputs: [x], outputs: [y], provenance: ["conv1", "bn1"])
        g.setOutputs([y])
        #expect(Printer.print(g).contains("%y = Conv(%x) <- conv1,bn1"))
    }
}
