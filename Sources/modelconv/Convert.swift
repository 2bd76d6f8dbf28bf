import ArgumentParser
import ModelIR
import ModelONNX

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a model, verify it, run the default pass pipeline (--pipeline none: no passes) and write it as ONNX.")

    @Argument(help: "The ONNX model.") var model: String
    @Option(name: .shortAndLong, help: "The output model.") var output: String
    @OptionGroup var pipeline: PipelineOptions
    @Flag(help: "Write initializers of 1 KiB and more to '<output>.data' beside the model (automatic past 2 GiB).")
    var externalData = false

    func run() throws {
        modelconv.run {
            var m = try ONNXImporter.load(path: model)
            let problems = Verifier.verify(m.graph)
            guard problems.isEmpty else {
                throw CommandError("\(model): \(VerificationFailure(problems: problems))")
            }
            _ = try pipeline.apply(to: &m)
            var options = ONNXExportOptions()
            if externalData { options.externalData = .always }
            try ONNXExporter.write(m, to: output, options: options)
            print("\(model) -> \(output): \(m.graph.nodeCount) nodes, \(m.graph.initializers.count) initializers"
                  + (externalData ? ", weights in \(output).data" : ""))
            return 0
        }
    }
}
