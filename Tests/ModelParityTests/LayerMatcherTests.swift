import Testing
import ModelIR
@testable import ModelParity

/// Structural matching only (no kernels run).
@Suite("Layer matching by name and provenance")
struct LayerMatcherTests {
    /// x -> Conv(conv) -> c -> BatchNormalization(bn) -> b -> Relu(relu) -> y
    static func reference() -> Graph {
        var g = Graph(name: "ref")
        let x = g.addValue(named: "x")
        g.appendInput(x)
        let c = g.addValue(named: "c"), b = g.addValue(named: "b"), y = g.addValue(named: "y")
        g.appendNode("Conv", name: "conv", inputs: [x], outputs: [c])
        g.appendNode("BatchNormalization", name: "bn", inputs: [c], outputs: [b])
        g.appendNode("Relu", name: "relu", inputs: [b], outputs: [y])
        g.setOutputs([y])
        return g
    }

    /// Conv and BN fused into one node named `name` with output `output`, then the Relu.
    static func fused(output: String, name: String = "conv") -> Graph {
        var g = Graph(name: "cand")
        let x = g.addValue(named: "x")
        g.appendInput(x)
        let c = g.addValue(named: output), y = g.addValue(named: "y")
        g.appendNode("Conv", name: name, inputs: [x], outputs: [c], provenance: ["conv", "bn"])
        g.appendNode("Relu", name: "relu", inputs: [c], outputs: [y])
        g.setOutputs([y])
        return g
    }

    static func pairs(_ m: [LayerMatch]) -> [String] { m.map { "\($0.referenceValue)<-\($0.candidateValue):\($0.matchedBy)" } }

    @Test func sameGraphMatchesByName() {
        #expect(Self.pairs(LayerMatcher.match(reference: Self.reference(), candidate: Self.reference()))
                == ["c<-c:name", "b<-b:name", "y<-y:name"])
    }

    @Test func fusedNodeWithNewNameMatchesItsLastSource() {
        #expect(Self.pairs(LayerMatcher.match(reference: Self.reference(), candidate: Self.fused(output: "fused")))
                == ["b<-fused:provenance", "y<-y:name"])
    }

    /// A fold that keeps the Conv's output name: the value is now the BN's, and provenance says so.
    @Test func provenanceOverridesAStaleName() {
        #expect(Self.pairs(LayerMatcher.match(reference: Self.reference(), candidate: Self.fused(output: "c")))
                == ["b<-c:provenance", "y<-y:name"])
    }

    /// A node lowered into two that both carry the source's name: the later one is its output.
    @Test func loweredChainKeepsTheLastNode() {
        var g = Graph(name: "cand")
        let x = g.addValue(named: "x")
        g.appendInput(x)
        let c = g.addValue(named: "c"), t = g.addValue(named: "bn_tmp"), b = g.addValue(named: "bn_out")
        let y = g.addValue(named: "y")
        g.appendNode("Conv", name: "conv", inputs: [x], outputs: [c])
        g.appendNode("Mul", name: "bn_mul", inputs: [c], outputs: [t], provenance: ["bn"])
        g.appendNode("Add", name: "bn_add", inputs: [t], outputs: [b], provenance: ["bn"])
        g.appendNode("Relu", name: "relu", inputs: [b], outputs: [y])
        g.setOutputs([y])
        let m = LayerMatcher.match(reference: Self.reference(), candidate: g)
        #expect(Self.pairs(m) == ["c<-c:name", "b<-bn_out:provenance", "y<-y:name"])
        #expect(m[1].candidateNode == "bn_add" && m[1].referenceNode == "bn")
    }
}
