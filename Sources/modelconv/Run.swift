import ArgumentParser
import Foundation
import ModelIR
import ModelONNX
import ModelOps
import ModelRuntime
import ModelTensorIO

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model with the reference interpreter.",
        discussion: """
            Inputs come from --inputs (an .npz, a .pb/.npy folder), --input NAME=FILE (repeatable), \
            or --random. Outputs go to -o (.npz, or a folder), or are summarized on stdout.
            """)

    @Argument(help: "The ONNX model.") var model: String
    @Option(help: "Inputs: an .npz file, or a folder of .pb/.npy files (backend test-data layout).") var inputs: String?
    @Option(name: .customLong("input"), help: "NAME=FILE.npy|.pb for one input (repeatable).") var input: [String] = []
    @Flag(help: "Generate seeded inputs from the model's input types.") var random = false
    @Option(help: "Seed for --random.") var seed: UInt64 = 0
    @Option(name: .customLong("input-shape"), help: "NAME=1x3x640x640: the shape of an input with dynamic dims (repeatable).")
    var inputShape: [String] = []
    @Option(name: .shortAndLong, help: "Write outputs to this .npz file (or folder).") var output: String?
    @Option(help: "'model' (the graph outputs) or 'all' (every intermediate, named by value).") var outputs: String = "model"
    @Option(help: "Threads for kernels (default: all cores).") var threads: Int = Interpreter.coreCount
    @Option(help: "Run N times in one process (for timing).") var `repeat`: Int = 1
    @Flag(help: "Print time per op type and peak activation memory.") var stats = false

    /// The npz member holding provenance (JSON: value -> producing node and source nodes).
    static let provenanceMember = "__modelconv_provenance__"

    func run() throws {
        modelconv.run {
            guard outputs == "model" || outputs == "all" else { throw CommandError("--outputs must be 'model' or 'all', not '\(outputs)'") }
            guard threads >= 1, `repeat` >= 1 else { throw CommandError("--threads and --repeat must be at least 1") }
            let m = try ONNXImporter.load(path: model)
            let interpreter = try Interpreter(model: m)
            let feeds = try gatherInputs(m)
            var options = RunOptions()
            options.threads = threads
            options.keepIntermediates = outputs == "all"
            options.collectStats = stats
            var result: RunResult? = nil
            var times: [Double] = []
            let clock = ContinuousClock()
            for _ in 0..<`repeat` {
                let start = clock.now
                result = try interpreter.run(feeds, options: options)
                let d = clock.now - start
                times.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
            }
            guard let result else { return 0 }
            var written: [(name: String, tensor: Tensor)] = []
            var provenance: [String: [String: [String]]] = [:]
            for (name, value) in result.outputs {
                guard let t = value.tensor else { continue }
                written.append((name, t))
            }
            if options.keepIntermediates {
                let outputNames = Set(written.map(\.name))
                for v in result.intermediates where !outputNames.contains(v.name) {
                    guard let t = v.value.tensor else { continue }
                    written.append((v.name, t))
                }
                for v in result.intermediates { provenance[v.name] = ["node": [v.node], "provenance": v.provenance] }
            }
            if let output {
                var files = written
                if !provenance.isEmpty {
                    let json = try JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys])
                    files.append((Self.provenanceMember, Tensor.of(Array(json))))
                }
                try TensorFiles.write(files, to: output)
            }
            for (name, value) in result.outputs {
                print("\(name): \(value.typeDescription)\(value.tensor.map { " " + Self.preview($0) } ?? "")")
            }
            if `repeat` > 1 || stats {
                let sorted = times.sorted()
                print(String(format: "latency: median %.3f ms, min %.3f ms over %d runs, %d threads",
                             sorted[sorted.count / 2] * 1000, sorted[0] * 1000, times.count, threads))
            }
            if stats {
                for (op, t) in result.stats.timeByOp.sorted(by: { $0.value.seconds > $1.value.seconds }) {
                    print(String(format: "  %-24@ %9.3f ms  %5d calls", op, t.seconds * 1000, t.calls))
                }
                print("peak activation memory: \(formatBytes(result.stats.peakActivationBytes))")
                print("blas: \(GEMM.blasBackend)")
            }
            return 0
        }
    }

    func gatherInputs(_ m: Model) throws -> [String: RuntimeValue] {
        var feeds: [String: RuntimeValue] = [:]
        if random {
            feeds = try RandomInputs.make(for: m, shapes: parseShapes(inputShape), seed: seed)
        }
        let declared = m.graph.inputs.filter { m.graph[value: $0].initializer == nil }.map { m.graph[value: $0].name }
        if let inputs {
            // A backend test-data folder holds input_N.pb and output_N.pb: read the inputs.
            let isTestData = FileManager.default.fileExists(atPath: inputs + "/input_0.pb")
            let tensors = isTestData ? try TensorFolder.read(inputs, prefix: "input") : try TensorFiles.read(inputs)
            let positional = isTestData || tensors.allSatisfy { !declared.contains($0.name) }
            for (k, (name, tensor)) in tensors.enumerated() {
                // A backend test-data folder names tensors input_0, input_1... by position.
                let key = positional && k < declared.count ? declared[k] : name
                feeds[key] = .tensor(tensor)
            }
        }
        for spec in input {
            let (name, path) = try Self.split(spec, "--input")
            let tensors = try TensorFiles.read(path)
            guard tensors.count == 1 else { throw CommandError("--input \(spec): \(path) holds \(tensors.count) tensors, expected 1") }
            feeds[name] = .tensor(tensors[0].tensor)
        }
        if feeds.isEmpty && !declared.isEmpty {
            throw CommandError("no inputs given: use --inputs, --input NAME=FILE or --random")
        }
        return feeds
    }

    static func split(_ spec: String, _ option: String) throws -> (String, String) {
        guard let eq = spec.lastIndex(of: "="), eq != spec.startIndex else {
            throw CommandError("\(option) \(spec): expected NAME=VALUE")
        }
        return (String(spec[..<eq]), String(spec[spec.index(after: eq)...]))
    }

    /// The first few elements, for the terminal.
    static func preview(_ t: Tensor) -> String {
        let n = min(t.elementCount ?? 0, 6)
        guard n > 0 else { return "[]" }
        var items: [String] = []
        switch t.dtype {
        case .float32: items = t.elements(Float.self).prefix(n).map { String(format: "%.6g", $0) }
        case .float64: items = t.elements(Double.self).prefix(n).map { String(format: "%.6g", $0) }
        case .int64: items = t.elements(Int64.self).prefix(n).map(String.init)
        case .int32: items = t.elements(Int32.self).prefix(n).map(String.init)
        case .bool: items = t.elements(Bool.self).prefix(n).map(String.init)
        default: return ""
        }
        return "[" + items.joined(separator: ", ") + ((t.elementCount ?? 0) > n ? ", ..." : "") + "]"
    }
}
