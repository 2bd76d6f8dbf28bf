import ModelIR

/// Options every pass may read.
public struct PassOptions: Sendable {
    /// Constant folding never creates a tensor larger than this that was not already stored
    /// (a folded tensor may be as large as the constants it replaces).
    public var foldLimitBytes = 1 << 20
    /// Shapes that make dynamic inputs static (`--input-shape NAME=1x3x640x640`).
    public var inputShapes: [String: [Int]] = [:]

    public init() {}
}

/// What a pass may use and report while it runs.
public struct PassContext {
    public var options: PassOptions
    /// Why patterns did not fire, for `--verbose` logs ("fuse-conv-batchnorm: conv1: output has 2 uses").
    public private(set) var notes: [String] = []

    /// Names of main-graph values that subgraphs read by name: a rewrite must not rename
    /// or bypass them (set by the pass manager before each pass).
    public var subgraphReads: Set<String> = []

    public init(options: PassOptions = PassOptions()) { self.options = options }

    /// Whether `id` may be replaced or renamed: no subgraph reads it by name.
    public func isReplaceable(_ id: ValueID, in graph: Graph) -> Bool {
        !subgraphReads.contains(graph[value: id].name)
    }

    public mutating func note(_ text: String) { notes.append(text) }

    /// Lines a pass wants a person to see after it ran (a summary, not a log): the pass
    /// manager copies them into the pass's `PassRecord.remarks`; `modelconv optimize` prints them.
    public private(set) var remarks: [String] = []

    public mutating func remark(_ text: String) { remarks.append(text) }
}

/// A rewrite of a model. One pass per file in Passes/, named after its effect.
public protocol GraphPass: Sendable {
    /// Kebab-case, after the effect: `fuse-conv-batchnorm`.
    var name: String { get }
    /// The rewrite in one line: `BatchNormalization(Conv(x, W, b)) -> Conv(x, W', b')`.
    var summary: String { get }
    /// Rewrites `model`; returns how many rewrites it made (0: unchanged).
    func run(_ model: inout Model, _ context: inout PassContext) throws -> Int
}

/// A local rewrite rooted at one node, run to a fixed point by `PatternPass`.
public protocol RewritePattern: Sendable {
    /// Tries to rewrite at `node`; returns true when the graph changed. When it does not
    /// fire for a reason a user may care about, it says why through `context.note`.
    func rewrite(_ node: NodeID, in graph: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool
}

/// Runs patterns over the live nodes until none fires (at most `maxIterations` sweeps).
public struct PatternPass: GraphPass {
    public let name: String
    public let summary: String
    public let patterns: [any RewritePattern]
    public var maxIterations = 32

    public init(name: String, summary: String, patterns: [any RewritePattern]) {
        self.name = name
        self.summary = summary
        self.patterns = patterns
    }

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var total = 0
        var graph = model.graph
        for _ in 0..<maxIterations {
            var changed = 0
            for id in graph.order where graph.nodes[Int(id.index)] != nil {
                for pattern in patterns {
                    guard graph.nodes[Int(id.index)] != nil else { break }
                    if try pattern.rewrite(id, in: &graph, model: model, &context) { changed += 1 }
                }
            }
            total += changed
            if changed == 0 { break }
        }
        model.graph = graph
        return total
    }
}

/// Why a pass or pipeline could not run.
public enum PassError: Error, CustomStringConvertible, Sendable {
    case unknownPass(String, known: [String])
    case unknownPipeline(String, known: [String])
    case verificationFailed(pass: String, problem: String)
    case failed(pass: String, reason: String)

    public var description: String {
        switch self {
        case .unknownPass(let n, let known): return "unknown pass '\(n)' (known: \(known.joined(separator: ", ")))"
        case .unknownPipeline(let n, let known): return "unknown pipeline '\(n)' (known: \(known.joined(separator: ", ")))"
        case .verificationFailed(let p, let problem): return "the IR is invalid after pass '\(p)': \(problem)"
        case .failed(let p, let r): return "pass '\(p)' failed: \(r)"
        }
    }
}
