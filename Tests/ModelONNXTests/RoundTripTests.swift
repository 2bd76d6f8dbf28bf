import Testing
import Foundation
import ModelIR
import ModelONNX
import _ModelTestSupport

/// A fresh temporary folder, removed when the test ends.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "modelconv-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    /// Every file in the folder (hidden ones included), sorted.
    func listing() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

let testData = "/usr/share/libonnx-testdata/data"

@Suite("ONNX round trip")
struct RoundTripTests {
    @Test func builtModelSurvivesExportAndImport() throws {
        let dir = TempDir()
        let model = TestModels.convRelu()
        try ONNXExporter.write(model, to: dir.file("m.onnx"))
        let back = try ONNXImporter.load(path: dir.file("m.onnx"))
        #expect(Printer.print(back.graph) == Printer.print(model.graph))
        for name in ["w", "b", "shape"] {
            let a = model.graph[value: model.graph.valueID(named: name)!].initializer!
            let b = back.graph[value: back.graph.valueID(named: name)!].initializer!
            #expect(a.isBitwiseEqual(to: b), "initializer \(name)")
            #expect(b.isMapped, "main-graph initializers borrow the mapped file")
        }
        #expect(back.opsetVersion("") == 17)
        #expect(back.producerName == "modelconv-tests")
        #expect(ONNXChecker.check(path: dir.file("m.onnx"), model: back) == .passed)
        #expect(dir.listing() == ["m.onnx"], "no temporary file is left behind")
    }

    @Test func constantNodeWeightsAreBorrowedToo() throws {
        // PaddlePaddle exports (PP-OCR) keep every weight in Constant nodes.
        let dir = TempDir()
        var g = Graph(name: "constants")
        let big = TestModels.randomFloats([16, 16], seed: 3, name: "big")
        let small = TestModels.randomFloats([2], seed: 4, name: "small")
        let a = g.addValue(named: "a"), b = g.addValue(named: "b"), y = g.addValue(named: "y")
        g.appendNode("Constant", name: "c_big", inputs: [], outputs: [a], attributes: [Attribute("value", .tensor(big))])
        g.appendNode("Constant", name: "c_small", inputs: [], outputs: [b], attributes: [Attribute("value", .tensor(small))])
        g.appendNode("Add", name: "add", inputs: [a, b], outputs: [y])
        g.setOutputs([y])
        try ONNXExporter.write(Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)]), to: dir.file("c.onnx"))
        let back = try ONNXImporter.load(path: dir.file("c.onnx"))
        let nodes = back.graph.liveNodes.map(\.node)
        guard case .tensor(let t0)? = nodes[0].attributes[named: "value"],
              case .tensor(let t1)? = nodes[1].attributes[named: "value"] else {
            Issue.record("Constant values lost")
            return
        }
        #expect(t0.isMapped && t0.isBitwiseEqual(to: big), "a 1 KiB constant borrows the mapped file")
        #expect(!t1.isMapped && t1.isBitwiseEqual(to: small), "an 8-byte constant is decoded by protobuf-c")
        try ONNXExporter.write(back, to: dir.file("d.onnx"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("d.onnx"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("c.onnx"))))
    }

    @Test func provenanceSurvivesTheFile() throws {
        let dir = TempDir()
        var m = TestModels.convRelu()
        let conv = m.graph.liveNodes[0].id
        m.graph.mergeProvenance(["bn1", "tab\there"], into: conv)
        try ONNXExporter.write(m, to: dir.file("p.onnx"))
        let back = try ONNXImporter.load(path: dir.file("p.onnx"))
        #expect(back.graph.liveNodes.map(\.node.provenance) == [["conv1", "bn1", "tab\there"], ["relu1"], ["flatten"]])
        #expect(back.metadata.isEmpty, "the provenance entry is consumed, not shown as user metadata")
        // An unfused model carries no entry at all.
        try ONNXExporter.write(TestModels.convRelu(), to: dir.file("q.onnx"))
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("q.onnx"))), as: UTF8.self)
        #expect(!text.contains("modelconv.provenance"))
    }

    @Test func exportIsDeterministic() throws {
        let dir = TempDir()
        try ONNXExporter.write(TestModels.convRelu(), to: dir.file("a.onnx"))
        try ONNXExporter.write(TestModels.convRelu(), to: dir.file("b.onnx"))
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.onnx")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("b.onnx")))
        #expect(a == b)
        // A re-import and re-export gives the same bytes again.
        try ONNXExporter.write(try ONNXImporter.load(path: dir.file("a.onnx")), to: dir.file("c.onnx"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("c.onnx"))) == a)
    }

    @Test func externalDataIsWrittenBesideTheModelAndReadBack() throws {
        let dir = TempDir()
        let model = TestModels.convRelu()
        var options = ONNXExportOptions()
        options.externalData = .always
        options.sizeThreshold = 16
        try ONNXExporter.write(model, to: dir.file("m.onnx"), options: options)
        #expect(dir.listing() == ["m.onnx", "m.onnx.data"])
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("m.onnx.data")))
        // w (432 B) at 0, b (16 B) at the next 64-byte boundary; shape (16 B) too.
        #expect(data.count == 512 + 16)
        let back = try ONNXImporter.load(path: dir.file("m.onnx"))
        for name in ["w", "b", "shape"] {
            let a = model.graph[value: model.graph.valueID(named: name)!].initializer!
            let b = back.graph[value: back.graph.valueID(named: name)!].initializer!
            #expect(a.isBitwiseEqual(to: b), "initializer \(name)")
        }
        #expect(ONNXChecker.check(path: dir.file("m.onnx"), model: back) == .passed)
    }

    @Test func backendTestModelRoundTripsThroughTheIR() throws {
        let path = testData + "/node/test_conv_with_strides_padding/model.onnx"
        try #require(FileManager.default.fileExists(atPath: path), "needs Debian libonnx-testdata")
        let dir = TempDir()
        let m = try ONNXImporter.load(path: path)
        try ONNXExporter.write(m, to: dir.file("out.onnx"))
        // This model uses only fields the exporter writes the way onnx's helpers do, so
        // the round trip is byte-identical to the file made by ONNX's own test generator.
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("out.onnx"))) == Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func modelOver2GiBGoesToExternalDataAutomatically() throws {
        let dir = TempDir()
        // A sparse 2.2 GB weight file: mapped, so the test needs no RAM for it.
        let size = 2_200_000_000
        let weights = dir.file("big.bin")
        _ = FileManager.default.createFile(atPath: weights, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: weights))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        let mapped = try MappedFile(path: weights)
        var g = Graph(name: "big")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([size / 4]))); g.appendInput(x)
        let w = g.addValue(named: "w")
        g.setInitializer(try Tensor(dtype: .float32, dims: [size / 4], storage: .mapped(mapped, offset: 0, count: size), name: "w"), of: w)
        let y = g.addValue(named: "y")
        g.appendNode("Add", name: "add", inputs: [x, w], outputs: [y])
        g.setOutputs([y])
        let model = Model(graph: g, opsetImports: [OpsetImport(domain: "", version: 17)])
        try ONNXExporter.write(model, to: dir.file("m.onnx"))
        #expect(dir.listing() == ["big.bin", "m.onnx", "m.onnx.data"])
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.file("m.onnx"))
        #expect((attrs[.size] as! Int) < 4096)
        let back = try ONNXImporter.load(path: dir.file("m.onnx"))
        let t = back.graph[value: back.graph.valueID(named: "w")!].initializer!
        #expect(t.byteCount == size && t.dims == [size / 4])
        var options = ONNXExportOptions()
        options.externalData = .never
        #expect(throws: ONNXError.self) { try ONNXExporter.write(model, to: dir.file("n.onnx"), options: options) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("n.onnx")))
    }
}
