import ArgumentParser
import Foundation
import ModelIR
import ModelONNX

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's inputs, outputs, opsets, op histogram, parameters and MACs.")

    @Argument(help: "The ONNX model.") var model: String
    @Flag(help: "Print JSON (stable key order) instead of text.") var json = false
    @Flag(help: "Print the graph as text IR, one line per node.") var ir = false

    struct Report: Encodable {
        var model: String
        var summary: ModelSummary
        var shapeInference: String
        var importSeconds: Double
        enum CodingKeys: String, CodingKey {
            case model, summary, shapeInference = "shape_inference", importSeconds = "import_seconds"
        }
    }

    func run() throws {
        modelconv.run {
            let clock = ContinuousClock()
            let start = clock.now
            var m = try ONNXImporter.load(path: model)
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if ir {
                print(Printer.print(m.graph), terminator: "")
                return 0
            }
            let inference = ONNXChecker.inferShapes(&m)
            let summary = ModelSummary(m)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let data = try encoder.encode(Report(model: model, summary: summary,
                                                     shapeInference: inference.description, importSeconds: seconds))
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(Self.text(summary, model: model, inference: inference))
            }
            return 0
        }
    }

    static func text(_ s: ModelSummary, model: String, inference: ONNXChecker.Outcome) -> String {
        func port(_ p: ModelSummary.Port) -> String {
            "  \(p.name): \(p.type)" + (p.shape.map { "[" + $0.joined(separator: ",") + "]" } ?? "")
        }
        var lines = ["model: \(model)",
                     "ir_version: \(s.irVersion)  producer: \(s.producer.isEmpty ? "-" : s.producer)",
                     "opsets: " + s.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", "),
                     "inputs:"] + s.inputs.map(port) + ["outputs:"] + s.outputs.map(port)
        lines.append("nodes: \(s.nodes)" + (s.nodesWithSubgraphs != s.nodes ? " (\(s.nodesWithSubgraphs) with subgraphs)" : ""))
        lines.append("ops: " + s.ops.map { "\($0.op) \($0.count)" }.joined(separator: ", "))
        lines.append("parameters: \(s.parameters) (\(formatBytes(s.parameterBytes)))")
        var macs = "MACs: \(s.macs)" + (s.macsByOp.isEmpty ? "" : " (" + s.macsByOp.map { "\($0.op) \($0.macs)" }.joined(separator: ", ") + ")")
        if s.macsUnknownNodes > 0 { macs += "; \(s.macsUnknownNodes) nodes with unknown shapes" }
        lines.append(macs)
        if inference != .passed { lines.append("shape inference: \(inference)") }
        return lines.joined(separator: "\n")
    }
}

func formatBytes(_ n: Int) -> String {
    if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
    if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return "\(n) B"
}
