import ArgumentParser
import Foundation
import ModelIR
import ModelPasses

/// The pass-pipeline options `optimize` and `convert` share.
struct PipelineOptions: ParsableArguments {
    @Option(help: "Pipeline preset: none, cleanup, default, aggressive, nhwc.") var pipeline: String = "default"
    @Option(help: "Run exactly these passes, comma-separated, instead of a preset.") var passes: String?
    @Option(help: "Leave this pass out (repeatable).") var disable: [String] = []
    @Option(name: .customLong("print-ir-after"), help: "Print the IR after this pass (repeatable).") var printIRAfter: [String] = []
    @Flag(name: .customLong("print-ir-after-all"), help: "Print the IR after every pass.") var printIRAfterAll = false
    @Flag(name: .customLong("verify-each"), help: "Run the IR verifier after every pass.") var verifyEach = false
    @Option(name: .customLong("input-shape"), help: "NAME=1x3x640x640: make a dynamic input static (repeatable).")
    var inputShape: [String] = []
    @Option(name: .customLong("fold-limit"), help: "Largest tensor constant folding may create, in bytes, unless no larger than its inputs.")
    var foldLimit: Int = 1 << 20
    @Option(help: "Write a JSON report of the passes (nodes before and after, rewrites, time).") var report: String?

    /// The pass names to run, validated.
    func passNames() throws -> [String] {
        var names = try passes.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            ?? Pipelines.named(pipeline)
        for d in disable {
            guard PassRegistry.pass(named: d) != nil else {
                throw PassError.unknownPass(d, known: PassRegistry.all.map(\.name))
            }
            names.removeAll { $0 == d }
        }
        for p in printIRAfter where PassRegistry.pass(named: p) == nil {
            throw PassError.unknownPass(p, known: PassRegistry.all.map(\.name))
        }
        return names
    }

    /// Runs the selected pipeline on `model`; writes `--report` when asked.
    func apply(to model: inout Model) throws -> [PassRecord] {
        let selected = try PassManager.resolve(passNames())
        var options = PassOptions()
        options.foldLimitBytes = foldLimit
        options.inputShapes = try parseShapes(inputShape)
        try InferShapes.applyInputShapes(options.inputShapes, to: &model)
        var manager = PassManager()
        manager.verifyEach = verifyEach
        manager.printAfter = Set(printIRAfter)
        manager.printAfterAll = printIRAfterAll
        var context = PassContext(options: options)
        let records = try manager.run(selected, on: &model, context: &context)
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(records)
            try data.write(to: URL(fileURLWithPath: report), options: .atomic)
        }
        return records
    }
}
