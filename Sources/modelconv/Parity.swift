import ArgumentParser
import Foundation
import ModelParity
import ModelRuntime

struct Parity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a candidate model still computes what its reference (or golden outputs) does.",
        discussion: """
              modelconv parity REFERENCE CANDIDATE (--inputs PATH | --random N [--seed S]) [options]
              modelconv parity CANDIDATE --golden OUT.npz|DIR --inputs PATH [options]
              modelconv parity merge SHARD.json... [--report OUT.json] [--junit F] [--html F]

            Options of the first two forms (the default 'compare' subcommand; \
            'modelconv parity compare --help' lists them all): --policy, --precision, \
            --per-layer, --report, --junit, --html, --shard I/N, --input-shape, --threads.

            Exit 0: parity holds; 1: it does not; 2: usage or input error (one line on stderr, \
            no report file written). Reports, the policy file and sharding: docs/parity.md.
            """,
        subcommands: [Compare.self, Merge.self],
        defaultSubcommand: Compare.self)

    /// Shared report options.
    struct ReportOptions: ParsableArguments {
        @Option(help: "Write the JSON report (schema: docs/parity.md).") var report: String?
        @Option(help: "Write JUnit XML, one testcase per output.") var junit: String?
        @Option(help: "Write a self-contained HTML page with SVG charts.") var html: String?

        func write(_ r: ParityReport) throws {
            var files: [(path: String, contents: String)] = []
            if let report { files.append((report, r.jsonText)) }
            if let junit { files.append((junit, r.junitXML)) }
            if let html { files.append((html, r.html)) }
            try ReportFiles.write(files)
        }
    }

    static func show(_ r: ParityReport) {
        let color = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        for n in r.notes { FileHandle.standardError.write(Data("modelconv: note: \(n)\n".utf8)) }
        for line in r.terminalLines(color: color) { print(line) }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare REFERENCE and CANDIDATE (or CANDIDATE and --golden outputs) on samples.",
            discussion: """
                Samples: --inputs FILE.npz|.npy|.pb (one sample) or DIR (each subfolder or .npz \
                file is a sample, in natural order), or --random N --seed S. Tolerances: by the \
                candidate's precision, overridden by --policy policy.yaml. Exit 0: parity holds; \
                1: it does not; 2: usage or input error.
                """)

        @Argument(help: ArgumentHelp("REFERENCE CANDIDATE, or only CANDIDATE with --golden.", valueName: "model"))
        var models: [String] = []
        @Option(help: "Golden outputs replacing the reference model: an .npz (one sample) or a folder of per-sample .npz files or subfolders.")
        var golden: String?
        @Option(help: "Samples: a tensor file (.npz/.npy/.pb) or a folder of samples.") var inputs: String?
        @Option(help: "Run on N seeded random samples.") var random: Int?
        @Option(help: "Seed for --random (sample i uses a seed derived from S and i).") var seed: UInt64 = 0
        @Option(name: .customLong("input-shape"), help: "NAME=1x3x224x224: dims of an input with dynamic dims, for --random (repeatable).")
        var inputShape: [String] = []
        @Option(help: "Tolerance policy file (YAML).") var policy: String?
        @Option(help: "The candidate's precision: auto, float32, float16 or int8 (picks the default tolerances).")
        var precision: String = "auto"
        @Flag(name: .customLong("per-layer"), help: "Compare every matched layer, cumulative and isolated, and name the first divergence.")
        var perLayer = false
        @Option(help: "Run only shard I of N (0-based) of the samples; combine with 'modelconv parity merge'.")
        var shard: String?
        @Option(help: "Threads for kernels (default: all cores).") var threads: Int = Interpreter.coreCount
        @Flag(name: .customLong("no-progress"), help: "No progress line on stderr (it shows only on a terminal).")
        var noProgress = false
        @OptionGroup var reports: ReportOptions

        func run() throws {
            modelconv.run {
                var options: ParityOptions
                if golden != nil {
                    guard models.count == 1 else {
                        throw CommandError("with --golden give one model, the candidate (\(models.count) given)")
                    }
                    options = ParityOptions(candidate: models[0])
                    options.golden = golden
                } else {
                    guard models.count == 2 else {
                        throw CommandError("give REFERENCE and CANDIDATE models (\(models.count) given), or CANDIDATE with --golden")
                    }
                    options = ParityOptions(candidate: models[1])
                    options.reference = models[0]
                }
                options.inputs = inputs
                options.random = random
                options.seed = seed
                options.inputShapes = try parseShapes(inputShape)
                options.policy = policy
                if precision != "auto" {
                    guard let p = Precision(rawValue: precision) else {
                        throw CommandError("--precision must be auto, float32, float16 or int8, not '\(precision)'")
                    }
                    options.precision = p
                }
                options.perLayer = perLayer
                if let shard { options.shard = try Shard(parsing: shard) }
                options.threads = threads

                let progress = ProgressLine(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
                let report = try ParityCheck.run(options) { progress.update($0) }
                progress.finish()
                try reports.write(report)
                Parity.show(report)
                return report.exitCode
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine shard reports (--shard I/N --report) into the report of a single run.",
            discussion: "Exit 0: parity holds over all samples; 1: it does not; 2: the reports do not fit together.")

        @Argument(help: "The shard reports (JSON).") var shards: [String] = []
        @OptionGroup var reports: ReportOptions

        func run() throws {
            modelconv.run {
                guard !shards.isEmpty else { throw CommandError("give the shard reports to merge") }
                var parts: [(file: String, report: ParityReport)] = []
                for path in shards { parts.append((path, try ParityReport.read(path: path))) }
                let merged = try ParityReport.merge(parts)
                try reports.write(merged)
                Parity.show(merged)
                return merged.exitCode
            }
        }
    }
}

/// A progress line with ETA on stderr, redrawn in place; shown once a run takes over a second.
final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    var shown = false
    var lastDrawn = -1.0

    init(enabled: Bool) { self.enabled = enabled }

    /// Redraws at most ten times a second (and at the end).
    func update(_ p: ParityProgress) {
        guard enabled, p.elapsedSeconds >= 1 || shown else { return }
        guard p.elapsedSeconds - lastDrawn >= 0.1 || p.done == p.total else { return }
        lastDrawn = p.elapsedSeconds
        shown = true
        FileHandle.standardError.write(Data(("\r" + ParityReport.progressLine(p) + "\u{1B}[K").utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
