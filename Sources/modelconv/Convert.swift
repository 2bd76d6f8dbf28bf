import ArgumentParser
import ModelIR
import ModelONNX

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import a model, verify it and write it back out as ONNX.")

    @Argument(help: "The ONNX model.") var model: String
    @Option(name: .shortAndLong, help: "The output model.") var output: String
    @Flag(help: "Write initializers of 1 KiB and more to '<output>.data' beside the model (automatic past 2 GiB).")
    var externalData = false

    func run() throws {
        modelconv.run {
            let m = try ONNXImporter.load(path: model)
            let problems = Verifier.verify(m.graph)
            guard problems.isEmpty else {
                throw CommandError("\(model): \(VerificationFailure(problems: problems))")
            }
            var options = ONNXExportOptions()
            if externalData { options.externalData = .always }
            try ONNXExporter.write(m, to: output, options: options)
            print("\(model) -> \(output): \(m.graph.nodeCount) nodes, \(m.graph.initializers.count) initializers"
                  + (externalData ? ", weights in \(output).data" : ""))
            return 0
        }
    }
}
