import Foundation
import Testing
import ModelIR
import ModelONNX
import ModelOps
import ModelRuntime
import ModelTensorIO
@testable import ModelParity

/// Whole checks on the committed tiny-cnn fixture (Conv/BN/Relu/MaxPool/Add/GAP/Gemm/Softmax):
/// a copy with one Conv's weights scaled by 1.01 must fail and be located; the unchanged
/// copy and a BN-folded copy must pass; shards must merge into the single-run report.
@Suite("Parity check on tiny-cnn", .serialized)
struct ParityCheckTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let fixture = repo + "/fixtures/tiny-cnn.onnx"
    static let faultyConv = "/block/conv1/Conv"

    static func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "modelconv-parity-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The fixture with the weights of Conv `node` multiplied by `scale` (through the IR's rewriter).
    static func scaledConv(_ node: String, by scale: Float) throws -> Model {
        var m = try ONNXImporter.load(path: fixture)
        let (_, conv) = m.graph.liveNodes.first { $0.node.name == node }!
        let wid = conv.inputs[1]!
        let w = m.graph[value: wid].initializer!
        let scaled = Tensor.of(w.elements(Float.self).map { $0 * scale }, dims: w.dims, name: w.name)
        m.graph.setInitializer(scaled, of: wid)
        return m
    }

    /// The fixture with /stem/bn folded into /stem/conv: one Conv named `fused_stem_conv`
    /// whose output is renamed `fused_stem` and whose provenance names both source nodes.
    static func bnFolded() throws -> Model {
        var m = try ONNXImporter.load(path: fixture)
        var g = m.graph
        let (convID, conv) = g.liveNodes.first { $0.node.name == "/stem/conv/Conv" }!
        let (bnID, bn) = g.liveNodes.first { $0.node.name == "/stem/bn/BatchNormalization" }!
        let w = g[value: conv.inputs[1]!].initializer!
        let p = (1...4).map { g[value: bn.inputs[$0]!].initializer!.elements(Float.self).map(Double.init) }
        let (gamma, beta, mean, variance) = (p[0], p[1], p[2], p[3])
        let eps = 1e-5
        let cout = w.dims[0], per = w.dims.dropFirst().reduce(1, *)
        let wv = w.elements(Float.self)
        var fw = [Float](repeating: 0, count: wv.count), fb = [Float](repeating: 0, count: cout)
        for o in 0..<cout {
            let s = gamma[o] / (variance[o] + eps).squareRoot()
            for i in 0..<per { fw[o * per + i] = Float(Double(wv[o * per + i]) * s) }
            fb[o] = Float(beta[o] - mean[o] * s)
        }
        let wid = g.addValue(named: "fused.w")
        g.setInitializer(Tensor.of(fw, dims: w.dims, name: "fused.w"), of: wid)
        let bid = g.addValue(named: "fused.b")
        g.setInitializer(Tensor.of(fb, dims: [cout], name: "fused.b"), of: bid)
        let out = g.addValue(named: "fused_stem")
        g.insertNode("Conv", name: "fused_stem_conv", inputs: [conv.inputs[0], wid, bid], outputs: [out],
                     attributes: conv.attributes, provenance: [conv.name, bn.name], before: convID)
        g.replaceAllUses(of: bn.outputs[0]!, with: out)
        g.eraseNode(bnID)
        g.eraseNode(convID)
        m.graph = g
        return m
    }

    static func write(_ m: Model, _ dir: String, _ name: String) throws -> String {
        let path = dir + "/" + name
        try ONNXExporter.write(m, to: path)
        return path
    }

    static func options(_ reference: String?, _ candidate: String, random: Int = 3, perLayer: Bool = true) -> ParityOptions {
        var o = ParityOptions(candidate: candidate)
        o.reference = reference
        o.random = random
        o.seed = 7
        o.inputShapes = ["input": [1, 3, 32, 32]]
        o.perLayer = perLayer
        o.threads = 1
        return o
    }

    @Test func faultInjectedConvIsFoundInBothViews() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faulty = try Self.write(Self.scaledConv(Self.faultyConv, by: 1.01), dir, "faulty.onnx")
        let report = try ParityCheck.run(Self.options(Self.fixture, faulty))
        #expect(!report.passed)
        #expect(report.exitCode == 1)
        #expect(report.firstDivergence(.cumulative)?.node == Self.faultyConv)
        #expect(report.firstDivergence(.isolated)?.node == Self.faultyConv)
        #expect(report.firstDivergence?.node == Self.faultyConv)
        // Isolated: only the faulty Conv itself diverges; cumulative: the error travels on.
        let layers = report.layers!.matches
        let isolatedFailing = report.layerSummaries(.isolated).filter { !$0.passed }.map { layers[$0.match].referenceNode }
        #expect(isolatedFailing == [Self.faultyConv])
        let cumulativeFailing = report.layerSummaries(.cumulative).filter { !$0.passed }.map { layers[$0.match].referenceNode }
        #expect(cumulativeFailing.first == Self.faultyConv)
        #expect(cumulativeFailing.count > 1)
        #expect(cumulativeFailing.contains("/head/Softmax"))
        // The JSON report carries the same answer.
        let json = try JSON.parse(report.jsonText)
        #expect(json["first_divergence"]?["node"]?.stringValue == Self.faultyConv)
        #expect(json["layers"]?["isolated"]?["first_divergence"]?["node"]?.stringValue == Self.faultyConv)
        #expect(json["exit_code"]?.intValue == 1)
    }

    @Test func unchangedCopyPasses() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let copy = try Self.write(ONNXImporter.load(path: Self.fixture), dir, "copy.onnx")
        let report = try ParityCheck.run(Self.options(Self.fixture, copy))
        #expect(report.passed)
        #expect(report.exitCode == 0)
        #expect(report.firstDivergence == nil)
        #expect(report.layers!.matches.count == 17)
        #expect(report.layers!.matches.allSatisfy { $0.matchedBy == "name" })
        #expect(report.samples.allSatisfy { $0.outputs[0].metrics.maxAbs == 0 })
    }

    @Test func foldedBatchNormMatchesByProvenanceAndPasses() throws {
        // In memory first; the same model through an ONNX file below.
        var options = Self.options(Self.fixture, "folded (in memory)")
        options.candidateModel = try Self.bnFolded()
        let report = try ParityCheck.run(options)
        #expect(report.passed, "\(report.terminalLines(color: false))")
        let matches = report.layers!.matches
        let fused = matches.first { $0.candidateValue == "fused_stem" }
        #expect(fused?.referenceValue == "stem_bn")
        #expect(fused?.matchedBy == "provenance")
        #expect(!matches.contains { $0.referenceValue == "stem_conv" })
        #expect(report.firstDivergence(.cumulative) == nil)
        #expect(report.firstDivergence(.isolated) == nil)
        // The folded layer really was compared, in both views, and differs only by rounding.
        let j = matches.firstIndex { $0.candidateValue == "fused_stem" }!
        for s in report.samples {
            let c = try #require(s.cumulative[j]), i = try #require(s.isolated[j])
            #expect(c.maxAbs > 0 && c.maxAbs < 1e-5)
            #expect(i.maxAbs == c.maxAbs)  // its input is the graph input: same in both views
        }
        // Written to ONNX and read back, provenance survives (the exporter's
        // modelconv.provenance metadata), so the fused node matches the same way.
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try ParityCheck.run(Self.options(Self.fixture, try Self.write(Self.bnFolded(), dir, "folded.onnx")))
        #expect(file.passed)
        let viaFile = file.layers!.matches.first { $0.candidateValue == "fused_stem" }
        #expect(viaFile?.referenceValue == "stem_bn")
        #expect(viaFile?.matchedBy == "provenance")
    }

    @Test func threeShardsMergeIntoTheSingleRun() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let faulty = try Self.write(Self.scaledConv(Self.faultyConv, by: 1.01), dir, "faulty.onnx")
        var single = Self.options(Self.fixture, faulty, random: 7)
        let whole = try ParityCheck.run(single)
        var parts: [(file: String, report: ParityReport)] = []
        for i in [2, 0, 1] {
            single.shard = try Shard(index: i, count: 3)
            let r = try ParityCheck.run(single)
            #expect(r.samples.map(\.index) == Array(stride(from: i, to: 7, by: 3)))
            // Through the JSON text, as `parity merge` reads shard files.
            let path = dir + "/shard\(i).json"
            try ReportFiles.write([(path, r.jsonText)])
            parts.append((path, try ParityReport.read(path: path)))
        }
        let merged = try ParityReport.merge(parts)
        func withoutTiming(_ s: String) -> String { s.components(separatedBy: "\n  \"timing\": ")[0] }
        #expect(withoutTiming(merged.jsonText) == withoutTiming(whole.jsonText))
        #expect(whole.jsonText.contains("\n  \"timing\": {"))
        #expect(merged.jsonText.hasSuffix("}\n}\n"))

        // A missing shard, a repeated shard, and a shard of another run are refused.
        #expect(throws: ParityError.self) { try ParityReport.merge(Array(parts.prefix(2))) }
        #expect(throws: ParityError.self) { try ParityReport.merge(parts + [parts[0]]) }
        var other = single
        other.seed = 8
        other.shard = try Shard(index: 0, count: 3)
        let foreign = try ParityCheck.run(other)
        do {
            _ = try ParityReport.merge([parts[1], parts[2], ("other.json", foreign)])
            Issue.record("merged reports of different runs")
        } catch {
            #expect(error.description.contains("run.samples"))
        }
    }

    @Test func goldenOutputsReplaceTheReference() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reference = try ONNXImporter.load(path: Self.fixture)
        let interpreter = try Interpreter(model: reference)
        // Two samples as a folder of .npz files, their golden outputs as a folder of the same names.
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/golden", withIntermediateDirectories: true)
        for (k, name) in ["s2", "s10"].enumerated() {
            let x = Tensor.of((0..<(3 * 32 * 32)).map { Float(($0 * (k + 3)) % 17) / 17 }, dims: [1, 3, 32, 32])
            let out = try interpreter.run(["input": .tensor(x)])
            try TensorFiles.write([("input", x)], to: "\(dir)/in/\(name).npz")
            try TensorFiles.write([("probs", out.outputs[0].value.tensor!)], to: "\(dir)/golden/\(name).npz")
        }
        let copy = try Self.write(reference, dir, "copy.onnx")
        var o = ParityOptions(candidate: copy)
        o.golden = dir + "/golden"
        o.inputs = dir + "/in"
        let ok = try ParityCheck.run(o)
        #expect(ok.passed)
        #expect(ok.samples.map(\.id) == ["s2", "s10"])  // natural order
        o.candidate = try Self.write(Self.scaledConv(Self.faultyConv, by: 1.01), dir, "faulty.onnx")
        let bad = try ParityCheck.run(o)
        #expect(!bad.passed)
        #expect(bad.firstDivergence?.view == "output")
        #expect(bad.firstDivergence?.node == "/head/Softmax")
    }

    @Test func inputErrors() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let copy = try Self.write(ONNXImporter.load(path: Self.fixture), dir, "copy.onnx")
        let x = Tensor.of([Float](repeating: 0.5, count: 3 * 32 * 32), dims: [1, 3, 32, 32])
        try TensorFiles.write([("input", x)], to: dir + "/in.npz")

        // Golden output of another shape: an output mismatch naming the output.
        try TensorFiles.write([("probs", Tensor.of([Float](repeating: 0.1, count: 10), dims: [10]))], to: dir + "/g.npz")
        var o = ParityOptions(candidate: copy)
        o.golden = dir + "/g.npz"
        o.inputs = dir + "/in.npz"
        #expect { try ParityCheck.run(o) } throws: { e in
            guard case ParityError.outputMismatch(_, let output, let reason) = e else { return false }
            return output == "probs" && reason.contains("[10]") && reason.contains("[1,10]")
        }

        // Tensors that are not the model's inputs.
        try TensorFiles.write([("a", x), ("b", x)], to: dir + "/wrong.npz")
        var w = ParityOptions(candidate: copy)
        w.reference = Self.fixture
        w.inputs = dir + "/wrong.npz"
        #expect { try ParityCheck.run(w) } throws: { e in "\(e)".contains("'a' is not an input") }

        // An empty sample: the input is missing.
        try FileManager.default.createDirectory(atPath: dir + "/empty/s0", withIntermediateDirectories: true)
        try TensorFiles.write([("unrelated", x)], to: dir + "/empty/s0/")
        w.inputs = dir + "/empty"
        #expect(throws: ParityError.self) { try ParityCheck.run(w) }

        // A malformed policy names its key.
        try "outputs:\n  probs:\n    rtoll: 1\n".write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        var p = Self.options(Self.fixture, copy)
        p.policy = dir + "/p.yaml"
        #expect { try ParityCheck.run(p) } throws: { e in "\(e)".contains("'outputs.probs.rtoll'") }

        // Usage: --per-layer needs a reference model.
        o.perLayer = true
        #expect(throws: ParityError.self) { try ParityCheck.run(o) }
    }

    @Test func randomSamplesAreDeterministicPerIndex() throws {
        let m = try ONNXImporter.load(path: Self.fixture)
        let all = SampleSet.random(count: 5, seed: 42, shapes: ["input": [1, 3, 32, 32]])
        let a = try all.tensors(3, model: m)[0].tensor
        let b = try SampleSet.random(count: 9, seed: 42, shapes: ["input": [1, 3, 32, 32]]).tensors(3, model: m)[0].tensor
        let c = try all.tensors(2, model: m)[0].tensor
        #expect(a.isBitwiseEqual(to: b))
        #expect(!a.isBitwiseEqual(to: c))
        #expect(try Shard(index: 1, count: 3) == Shard(parsing: "1/3"))
        #expect(throws: ParityError.self) { try Shard(parsing: "3/3") }
        #expect(try Shard(index: 1, count: 3).indices(of: 8) == [1, 4, 7])
    }
}
