import ArgumentParser
import ModelIR
import ModelONNX

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a model: libonnx's checker, strict shape inference and the IR verifier.",
        discussion: "Prints one line per problem, naming the node. Exit 0: valid; 1: problems found; 2: unreadable.")

    @Argument(help: "The ONNX model.") var model: String

    func run() throws {
        modelconv.run {
            var m = try ONNXImporter.load(path: model)
            var failed = false
            let checker = ONNXChecker.check(path: model, model: m)
            print("checker: \(checker)")
            if case .failed = checker { failed = true }
            let inference = ONNXChecker.inferShapes(&m, strict: true)
            print("shape inference: \(inference)")
            if case .failed = inference { failed = true }
            let problems = Verifier.verify(m.graph)
            print("verifier: " + (problems.isEmpty ? "passed" : "\(problems.count) problem\(problems.count == 1 ? "" : "s")"))
            for p in problems { print("  \(p)") }
            return failed || !problems.isEmpty ? 1 : 0
        }
    }
}
