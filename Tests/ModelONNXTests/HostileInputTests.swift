import Testing
import Foundation
import ModelIR
import ModelONNX
import _ModelTestSupport

/// Bad and hostile files: each must be refused with an error that names the problem,
/// never crash, never read outside the model's folder.
@Suite("Hostile input")
struct HostileInputTests {
    /// Loads `path` and returns the error's one-line description (fails if it loads).
    func refusal(_ path: String) -> String {
        do {
            _ = try ONNXImporter.load(path: path)
            Issue.record("\(path) was accepted")
            return ""
        } catch {
            return error.description
        }
    }

    func write(_ bytes: [UInt8], _ path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// A model whose three initializers live in `weights.bin` (an 11-character location
    /// the tests overwrite in place with other 11-character paths).
    func externalModel(_ dir: TempDir) throws -> [UInt8] {
        var options = ONNXExportOptions()
        options.externalData = .always
        options.sizeThreshold = 16
        options.location = "weights.bin"
        try ONNXExporter.write(TestModels.convRelu(), to: dir.file("m.onnx"), options: options)
        return Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("m.onnx"))))
    }

    func patched(_ bytes: [UInt8], _ from: String, _ to: String) -> [UInt8] {
        precondition(from.utf8.count == to.utf8.count)
        var out = bytes
        let f = Array(from.utf8), t = Array(to.utf8)
        var i = 0
        while i + f.count <= out.count {
            if Array(out[i..<(i + f.count)]) == f { out.replaceSubrange(i..<(i + f.count), with: t); i += f.count } else { i += 1 }
        }
        return out
    }

    @Test func truncatedModel() throws {
        let dir = TempDir()
        try ONNXExporter.write(TestModels.convRelu(), to: dir.file("m.onnx"))
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("m.onnx"))))
        write(Array(bytes[0..<(bytes.count / 2)]), dir.file("half.onnx"))
        let message = refusal(dir.file("half.onnx"))
        #expect(message.contains("half.onnx") && message.contains("truncated"), "\(message)")
    }

    @Test func randomBytesNeverCrash() {
        let dir = TempDir()
        var rng = SplitMix64(seed: 7)
        for k in 0..<200 {
            let n = Int.random(in: 1...4096, using: &rng)
            write((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }, dir.file("r\(k).onnx"))
            let message = refusal(dir.file("r\(k).onnx"))
            #expect(message.contains("r\(k).onnx"))
        }
    }

    @Test func emptyFileHasNoGraph() {
        let dir = TempDir()
        write([], dir.file("empty.onnx"))
        #expect(refusal(dir.file("empty.onnx")).contains("has no graph"))
    }

    @Test(arguments: [
        ("/etc/passwd", "relative path"),
        ("../ab/c.bin", "must not contain '..'"),
        ("sub/../../x", "must not contain '..'"),
    ])
    func externalLocationOutsideTheFolder(location: String, expected: String) throws {
        let dir = TempDir()
        let bytes = patched(try externalModel(dir), "weights.bin", location)
        write(bytes, dir.file("m.onnx"))
        let message = refusal(dir.file("m.onnx"))
        #expect(message.contains("tensor 'w'") && message.contains(location) && message.contains(expected), "\(message)")
    }

    @Test func externalFileEscapingThroughASymlink() throws {
        let dir = TempDir(), outside = TempDir()
        _ = try externalModel(dir)
        try FileManager.default.moveItem(atPath: dir.file("weights.bin"), toPath: outside.file("weights.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("weights.bin"), withDestinationPath: outside.file("weights.bin"))
        let message = refusal(dir.file("m.onnx"))
        #expect(message.contains("outside the model's folder") && message.contains("tensor 'w'"), "\(message)")
    }

    @Test func symlinkInsideTheFolderIsAllowed() throws {
        let dir = TempDir()
        _ = try externalModel(dir)
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: false)
        try FileManager.default.moveItem(atPath: dir.file("weights.bin"), toPath: dir.file("sub/real.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("weights.bin"), withDestinationPath: "sub/real.bin")
        let m = try ONNXImporter.load(path: dir.file("m.onnx"))
        #expect(m.graph.initializers.count == 3)
    }

    @Test func missingExternalFile() throws {
        let dir = TempDir()
        _ = try externalModel(dir)
        try FileManager.default.removeItem(atPath: dir.file("weights.bin"))
        #expect(refusal(dir.file("m.onnx")).contains("does not exist"))
    }

    @Test func shortExternalFile() throws {
        let dir = TempDir()
        _ = try externalModel(dir)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("weights.bin")))
        try handle.truncate(atOffset: 100)  // w needs 432 bytes at offset 0
        try handle.close()
        let message = refusal(dir.file("m.onnx"))
        #expect(message.contains("tensor 'w'") && message.contains("past the end of the 100-byte file"), "\(message)")
    }

    @Test func rawDataThatDoesNotMatchDims() throws {
        let dir = TempDir()
        var m = TestModels.convRelu()
        let w = m.graph.valueID(named: "w")!
        m.graph.setInitializer(Tensor(unchecked: .float32, dims: [4, 3, 3, 3], storage: .owned([1, 2, 3]), name: "w"), of: w)
        write(ONNXExporter.serialize(m), dir.file("m.onnx"))
        let message = refusal(dir.file("m.onnx"))
        #expect(message.contains("tensor 'w'") && message.contains("need 432 bytes, found 3"), "\(message)")
    }

    @Test func dimsWhoseProductOverflows() throws {
        let dir = TempDir()
        var m = TestModels.convRelu()
        let w = m.graph.valueID(named: "w")!
        m.graph.setInitializer(Tensor(unchecked: .float32, dims: [1 << 62, 8], storage: .owned([]), name: "w"), of: w)
        write(ONNXExporter.serialize(m), dir.file("m.onnx"))
        let message = refusal(dir.file("m.onnx"))
        #expect(message.contains("tensor 'w'") && message.contains("overflows"), "\(message)")
    }

    @Test func valueDefinedTwice() throws {
        let dir = TempDir()
        var g = Graph(name: "g")
        let x = g.addValue(named: "x"); g.appendInput(x)
        let y = g.addValue(named: "y")
        g.appendNode("Relu", name: "first", inputs: [x], outputs: [y])
        g.setOutputs([y])
        var m = Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)])
        write(ONNXExporter.serialize(m), dir.file("ok.onnx"))
        // Rename the input to "y" so that the node's output collides with it.
        m.graph = g
        let bytes = ONNXExporter.serialize(m)
        // Both "x" strings (input name and node input) become "y".
        write(bytes.map { $0 == UInt8(ascii: "x") ? UInt8(ascii: "y") : $0 }, dir.file("dup.onnx"))
        let message = refusal(dir.file("dup.onnx"))
        #expect(message.contains("'y'") && message.contains("'first'") && message.contains("already defined"), "\(message)")
    }

    @Test func cycleIsFoundByTheVerifier() throws {
        let dir = TempDir()
        var g = Graph(name: "g")
        let a = g.addValue(named: "a"), b = g.addValue(named: "b")
        g.appendNode("Neg", name: "A", inputs: [b], outputs: [a])
        g.appendNode("Neg", name: "B", inputs: [a], outputs: [b])
        g.setOutputs([a])
        let m = Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)])
        write(ONNXExporter.serialize(m), dir.file("cycle.onnx"))
        let back = try ONNXImporter.load(path: dir.file("cycle.onnx"))
        #expect(Verifier.verify(back.graph).contains { $0.message.contains("cycle") })
        #expect(throws: ONNXError.self) { try ONNXExporter.write(back, to: dir.file("out.onnx")) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.onnx")))
    }

    @Test func subgraphsNestedPastTheCap() throws {
        let dir = TempDir()
        var leaf = Graph(name: "leaf")
        let lc = leaf.addValue(named: "lc"); leaf.appendInput(lc)
        leaf.setOutputs([lc])
        func nested(_ depth: Int) -> Graph {
            var g = Graph(name: "level\(depth)")
            let c = g.addValue(named: "c\(depth)"); g.appendInput(c)
            let y = g.addValue(named: "y\(depth)")
            var attrs: [Attribute] = []
            if depth < 200 {
                // Only then_branch nests: sharing one body in both branches would double
                // the serialized size at every level.
                attrs = [Attribute("then_branch", .graph(nested(depth + 1))), Attribute("else_branch", .graph(leaf))]
            }
            g.appendNode(depth < 200 ? "If" : "Identity", name: "if\(depth)", inputs: [c], outputs: [y], attributes: attrs)
            g.setOutputs([y])
            return g
        }
        let m = Model(graph: nested(1), opsetImports: [OpsetImport(domain: "", version: 17)])
        write(ONNXExporter.serialize(m), dir.file("deep.onnx"))
        let message = refusal(dir.file("deep.onnx"))
        #expect(message.contains("nested deeper than 64") && message.contains("node 'if64'"), "\(message)")
    }
}
