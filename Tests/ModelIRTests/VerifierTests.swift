import Testing
import ModelIR
import _ModelTestSupport

@Suite("Verifier")
struct VerifierTests {
    @Test func validModelHasNoProblems() {
        #expect(Verifier.verify(TestModels.convRelu().graph).isEmpty)
    }

    @Test func undefinedInputIsReportedWithTheNode() {
        var g = Graph(name: "g")
        let ghost = g.addValue(named: "ghost")  // no producer, not an input: undefined
        let y = g.addValue(named: "y")
        g.appendNode("Relu", name: "relu_a", inputs: [ghost], outputs: [y])
        g.setOutputs([y])
        let problems = Verifier.verify(g)
        #expect(problems.count == 1)
        #expect(problems.first?.node == "relu_a")
        #expect(problems.first?.description.contains("'ghost' is not defined") == true)
    }

    @Test func cycleIsReported() {
        var g = Graph(name: "g")
        let a = g.addValue(named: "a"), b = g.addValue(named: "b")
        g.appendNode("Neg", name: "A", inputs: [b], outputs: [a])
        g.appendNode("Neg", name: "B", inputs: [a], outputs: [b])
        g.setOutputs([a])
        let problems = Verifier.verify(g)
        #expect(problems.contains { $0.message.contains("cycle") && ($0.node == "A" || $0.node == "B") })
    }

    @Test func subgraphMayReadOuterScopeButNotUnknownNames() {
        var body = Graph(name: "then")
        let outer = body.addValue(named: "x")        // from the enclosing graph
        let missing = body.addValue(named: "nowhere") // defined nowhere
        let o1 = body.addValue(named: "t1"), o2 = body.addValue(named: "t2")
        body.appendNode("Identity", name: "uses_outer", inputs: [outer], outputs: [o1])
        body.appendNode("Identity", name: "uses_missing", inputs: [missing], outputs: [o2])
        body.setOutputs([o1])
        var g = Graph(name: "main")
        let x = g.addValue(named: "x"); g.appendInput(x)
        let cond = g.addValue(named: "cond"); g.appendInput(cond)
        let y = g.addValue(named: "y")
        g.appendNode("If", name: "if1", inputs: [cond], outputs: [y],
                     attributes: [Attribute("then_branch", .graph(body)), Attribute("else_branch", .graph(body))])
        g.setOutputs([y])
        let problems = Verifier.verify(g)
        #expect(problems.count == 2)  // once per branch
        #expect(problems.allSatisfy { $0.node == "uses_missing" && $0.graph.hasPrefix("main/if1.") })
    }

    @Test func initializerTypeMismatchIsReported() {
        var g = TestModels.convRelu().graph
        g.setType(.tensor(.float32, Shape([4, 3, 5, 5])), of: g.valueID(named: "w")!)
        #expect(Verifier.verify(g).map(\.message) == ["initializer 'w' has dims [4, 3, 3, 3] but is declared [4, 3, 5, 5]"])
    }
}
