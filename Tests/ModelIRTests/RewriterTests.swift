import Testing
import ModelIR
import _ModelTestSupport

@Suite("Rewriter keeps use-lists and order consistent")
struct RewriterTests {
    @Test func appendRecordsProducersAndUses() {
        let g = TestModels.convRelu().graph
        let c = g.valueID(named: "c")!
        #expect(g[node: g[value: c].producer!].name == "conv1")
        #expect(g[value: c].uses.map { g[node: $0.node].name } == ["relu1"])
        let x = g.valueID(named: "x")!
        #expect(g[value: x].uses == [Use(node: g[value: c].producer!, input: 0)])
        #expect(Verifier.verify(g).isEmpty)
    }

    @Test func replaceAllUsesMovesNodeInputsAndGraphOutputs() {
        var g = TestModels.convRelu().graph
        let c = g.valueID(named: "c")!, r = g.valueID(named: "r")!, y = g.valueID(named: "y")!
        // Bypass the Relu: Reshape reads the Conv output directly.
        g.replaceAllUses(of: r, with: c)
        #expect(g[value: r].uses.isEmpty)
        #expect(g[value: c].uses.count == 2)
        g.eraseNode(g[value: r].producer!)
        #expect(g.nodeCount == 2)
        #expect(g.liveNodes.map(\.node.opType) == ["Conv", "Reshape"])
        #expect(g[value: c].uses.count == 1)
        g.replaceAllUses(of: y, with: c)
        #expect(g.outputs == [c])
        #expect(Verifier.verify(g).isEmpty)
    }

    @Test func snapshotIsUnaffectedByLaterRewrites() {
        var g = TestModels.convRelu().graph
        let before = g
        let r = g.valueID(named: "r")!
        g.replaceAllUses(of: r, with: g.valueID(named: "c")!)
        g.eraseNode(g[value: r].producer!)
        #expect(before.nodeCount == 3)
        #expect(g.nodeCount == 2)
        #expect(before[value: r].uses.count == 1)
    }

    @Test func setInputUpdatesBothUseLists() {
        var g = TestModels.convRelu().graph
        let conv = g[value: g.valueID(named: "c")!].producer!
        let b = g.valueID(named: "b")!
        g.setInput(2, of: conv, to: nil)
        #expect(g[value: b].uses.isEmpty)
        #expect(g[node: conv].inputs[2] == nil)
        g.setInput(2, of: conv, to: b)
        #expect(g[value: b].uses == [Use(node: conv, input: 2)])
    }

    @Test func topologicalSortIsStableAndRepairsOrder() {
        var g = Graph(name: "t")
        let a = g.addValue(named: "a"); g.appendInput(a)
        let b = g.addValue(named: "b"), c = g.addValue(named: "c"), d = g.addValue(named: "d")
        // Appended out of order: the consumer of b comes first.
        g.appendNode("Neg", name: "second", inputs: [b], outputs: [c])
        g.appendNode("Abs", name: "first", inputs: [a], outputs: [b])
        g.appendNode("Abs", name: "independent", inputs: [a], outputs: [d])
        g.setOutputs([c, d])
        #expect(!Verifier.verify(g).isEmpty)  // used before produced
        #expect(g.sortTopologically().isEmpty)
        #expect(g.liveNodes.map(\.node.name) == ["first", "second", "independent"])
        #expect(Verifier.verify(g).isEmpty)
    }

    @Test func topologicalSortTakesTheEarliestReadyNodeWithManyReady() {
        // 200 independent nodes interleaved with a 50-node chain appended in reverse (each
        // link before its producer): the sort must equal the naive rule "repeatedly take the
        // earliest node, in the old order, whose inputs are all produced".
        var g = Graph(name: "many")
        let x = g.addValue(named: "x"); g.appendInput(x)
        let links = (0..<50).map { g.addValue(named: "l\($0)") }
        var outputs: [ValueID] = []
        for k in 0..<250 {
            if k % 5 == 4 {
                let i = 49 - k / 5  // l49 first, l0 last
                g.appendNode("Neg", name: "link\(i)", inputs: [i == 0 ? x : links[i - 1]], outputs: [links[i]])
            } else {
                let y = g.addValue(named: "y\(k)")
                g.appendNode("Abs", name: "free\(k)", inputs: [x], outputs: [y])
                outputs.append(y)
            }
        }
        g.setOutputs(outputs + [links[49]])
        // The naive rule, O(n^2).
        var remaining = g.order, produced: Set<ValueID> = [x], expected: [String] = []
        while let k = remaining.firstIndex(where: { g[node: $0].inputs.allSatisfy { produced.contains($0!) } }) {
            let id = remaining.remove(at: k)
            expected.append(g[node: id].name)
            produced.formUnion(g[node: id].outputs.compactMap { $0 })
        }
        #expect(remaining.isEmpty)
        #expect(g.sortTopologically().isEmpty)
        #expect(g.liveNodes.map(\.node.name) == expected)
        #expect(Verifier.verify(g).isEmpty)
    }

    @Test func topologicalSortReportsACycle() {
        var g = Graph(name: "cycle")
        let a = g.addValue(named: "a"), b = g.addValue(named: "b")
        g.appendNode("Neg", name: "n1", inputs: [b], outputs: [a])
        g.appendNode("Neg", name: "n2", inputs: [a], outputs: [b])
        g.setOutputs([b])
        let before = g.order
        #expect(g.sortTopologically() == before)
        #expect(g.order == before)
    }

    @Test func uniqueNameAvoidsCollisions() {
        var g = Graph()
        g.addValue(named: "t")
        g.addValue(named: "t_1")
        #expect(g.uniqueName("t") == "t_2")
        #expect(g.uniqueName("u") == "u")
    }
}
