import ArgumentParser
import ModelIR
import ModelONNX
import ModelPasses

struct Optimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pass pipeline (folding, clean-up, fusion) and write the optimized model.",
        discussion: "Passes: " + PassRegistry.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; "))

    @Argument(help: "The ONNX model.") var model: String
    @Option(name: .shortAndLong, help: "The output model.") var output: String
    @OptionGroup var pipeline: PipelineOptions
    @Flag(help: "Write initializers of 1 KiB and more to '<output>.data' beside the model.") var externalData = false

    func run() throws {
        modelconv.run {
            var m = try ONNXImporter.load(path: model)
            let problems = Verifier.verify(m.graph)
            guard problems.isEmpty else { throw CommandError("\(model): \(VerificationFailure(problems: problems))") }
            let before = m.graph.nodeCount
            let records = try pipeline.apply(to: &m)
            var options = ONNXExportOptions()
            if externalData { options.externalData = .always }
            try ONNXExporter.write(m, to: output, options: options)
            for r in records {
                if r.rewrites > 0 { print("  \(r.pass): \(r.nodesBefore) -> \(r.nodesAfter) nodes, \(r.rewrites) rewrites") }
                for line in r.remarks { print("    \(line)") }
            }
            print("\(model) -> \(output): \(before) -> \(m.graph.nodeCount) nodes")
            return 0
        }
    }
}
