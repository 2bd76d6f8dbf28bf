/// The result of a parity check: what was compared (`run`, `outputs`, `layers`), the
/// per-sample measurements (`samples`), and everything derived from them (verdicts,
/// aggregates, the first divergence), which `json` computes afresh each time.
///
/// Because the derived parts are a function of the per-sample records alone, a report
/// merged from shards (`merge`) encodes to exactly the bytes of a single run over all
/// samples, except the `timing` object. The JSON schema is documented in docs/parity.md.
public struct ParityReport: Sendable {
    public static let schema = "modelconv-parity/1"

    /// What was compared, as it goes into the report's `run` object (shard included).
    public var run: RunInfo
    public var outputs: [OutputSpec]
    /// Per-layer setup (nil without `--per-layer`).
    public var layers: LayerSpec?
    /// In sample-index order.
    public var samples: [SampleRecord]
    /// Remarks for a person (policy patterns that match nothing, outputs paired by position).
    public var notes: [String]
    /// Seconds spent; the one part of the report that differs between equivalent runs.
    public var timing: [String: Double]

    public init(run: RunInfo, outputs: [OutputSpec], layers: LayerSpec?, samples: [SampleRecord],
                notes: [String], timing: [String: Double]) {
        self.run = run
        self.outputs = outputs
        self.layers = layers
        self.samples = samples
        self.notes = notes
        self.timing = timing
    }

    /// The setup of a run.
    public struct RunInfo: Sendable, Equatable {
        /// `model` or `golden`.
        public var referenceKind: String
        public var referencePath: String
        public var candidatePath: String
        public var precision: Precision
        /// `option`, `policy` or `detected`.
        public var precisionSource: String
        public var policyFile: String?
        public var perLayer: Bool
        /// `file`, `folder` or `random`.
        public var sampleSource: String
        public var samplePath: String?
        /// All samples of the run (every shard's).
        public var sampleCount: Int
        public var seed: UInt64?
        public var inputShapes: [String: [Int]]
        public var shard: Shard?
        /// `name` or `position`.
        public var outputsMatchedBy: String

        public init(referenceKind: String, referencePath: String, candidatePath: String, precision: Precision,
                    precisionSource: String, policyFile: String?, perLayer: Bool, sampleSource: String,
                    samplePath: String?, sampleCount: Int, seed: UInt64?, inputShapes: [String: [Int]], shard: Shard?, outputsMatchedBy: String) {
            self.referenceKind = referenceKind
            self.referencePath = referencePath
            self.candidatePath = candidatePath
            self.precision = precision
            self.precisionSource = precisionSource
            self.policyFile = policyFile
            self.perLayer = perLayer
            self.sampleSource = sampleSource
            self.samplePath = samplePath
            self.sampleCount = sampleCount
            self.seed = seed
            self.inputShapes = inputShapes
            self.shard = shard
            self.outputsMatchedBy = outputsMatchedBy
        }
    }

    /// One compared output.
    public struct OutputSpec: Sendable, Equatable {
        /// The reference's name (the golden file's member name for golden references).
        public var name: String
        public var candidateName: String
        /// The candidate's declared element type ("unknown" when undeclared).
        public var dtype: String
        /// The node producing it in the reference model (the candidate's, for golden references).
        public var node: String
        public var tolerance: Tolerance

        public init(name: String, candidateName: String, dtype: String, node: String, tolerance: Tolerance) {
            self.name = name
            self.candidateName = candidateName
            self.dtype = dtype
            self.node = node
            self.tolerance = tolerance
        }
    }

    /// The per-layer setup: the layer tolerance and the matched values in reference order.
    public struct LayerSpec: Sendable, Equatable {
        public var tolerance: Tolerance
        public var matches: [LayerMatch]

        public init(tolerance: Tolerance, matches: [LayerMatch]) {
            self.tolerance = tolerance
            self.matches = matches
        }
    }

    /// The measurements of one sample.
    public struct SampleRecord: Sendable, Equatable {
        public var index: Int
        public var id: String
        /// Aligned with `outputs`.
        public var outputs: [OutputResult]
        /// Aligned with `layers.matches`; nil where the layer could not be compared (not a
        /// float tensor on both sides, or shapes differ). Empty without per-layer.
        public var cumulative: [ErrorMetrics?]
        public var isolated: [ErrorMetrics?]

        public init(index: Int, id: String, outputs: [OutputResult], cumulative: [ErrorMetrics?], isolated: [ErrorMetrics?]) {
            self.index = index
            self.id = id
            self.outputs = outputs
            self.cumulative = cumulative
            self.isolated = isolated
        }
    }

    public struct OutputResult: Sendable, Equatable {
        public var shape: [Int]
        public var metrics: ErrorMetrics

        public init(shape: [Int], metrics: ErrorMetrics) {
            self.shape = shape
            self.metrics = metrics
        }
    }

    // MARK: Derived

    /// Whether output `o` passes on every sample.
    public func outputPassed(_ o: Int) -> Bool {
        samples.allSatisfy { outputs[o].tolerance.passes($0.outputs[o].metrics) }
    }

    /// Whether parity holds: every output passes on every sample.
    public var passed: Bool { outputs.indices.allSatisfy(outputPassed) }

    /// 0 when parity holds, 1 when it does not.
    public var exitCode: Int32 { passed ? 0 : 1 }

    /// The per-layer views by name.
    public enum View: String, Sendable, CaseIterable { case cumulative, isolated }

    func layerMetrics(_ view: View, _ sample: SampleRecord) -> [ErrorMetrics?] {
        view == .cumulative ? sample.cumulative : sample.isolated
    }

    /// A layer of one view, aggregated over samples.
    public struct LayerSummary: Sendable {
        public let match: Int
        /// (sample index, metrics) for the samples where the layer was compared.
        public let compared: [(sample: Int, metrics: ErrorMetrics)]
        public let failedSamples: [Int]
        public var passed: Bool { failedSamples.isEmpty }
        /// The largest max_abs over samples.
        public var worstMaxAbs: Double { compared.map(\.metrics.maxAbs).max() ?? 0 }
    }

    /// The layers of `view` that were compared on at least one sample, in reference order.
    public func layerSummaries(_ view: View) -> [LayerSummary] {
        guard let layers else { return [] }
        var out: [LayerSummary] = []
        for j in layers.matches.indices {
            var compared: [(Int, ErrorMetrics)] = []
            var failed: [Int] = []
            for s in samples {
                let row = layerMetrics(view, s)
                guard j < row.count, let m = row[j] else { continue }
                compared.append((s.index, m))
                if !layers.tolerance.passes(m) { failed.append(s.index) }
            }
            if !compared.isEmpty { out.append(LayerSummary(match: j, compared: compared, failedSamples: failed)) }
        }
        return out
    }

    /// Where the error first crosses the policy.
    public struct Divergence: Sendable {
        /// `cumulative`, `isolated` or `output`.
        public let view: String
        public let node: String
        public let op: String
        public let value: String
        public let candidateNode: String
        public let candidateValue: String
        /// The first sample (by index) on which it fails, and its metrics there.
        public let sample: Int
        public let sampleID: String
        public let metrics: ErrorMetrics
        /// The layer's position among the matches (nil for an output).
        public let match: Int?
    }

    /// The first failing layer of a view (nil when every layer passes or without per-layer).
    public func firstDivergence(_ view: View) -> Divergence? {
        guard let layers, let first = layerSummaries(view).first(where: { !$0.passed }) else { return nil }
        let m = layers.matches[first.match]
        let sample = first.failedSamples[0]
        let metrics = first.compared.first { $0.sample == sample }!.metrics
        return Divergence(view: view.rawValue, node: m.referenceNode, op: m.referenceOp, value: m.referenceValue,
                          candidateNode: m.candidateNode, candidateValue: m.candidateValue, sample: sample,
                          sampleID: samples.first { $0.index == sample }?.id ?? "", metrics: metrics, match: first.match)
    }

    /// The report's first divergence: the cumulative view's (where error first crosses the
    /// policy along the graph), else the isolated view's, else the first failing output's
    /// producing node.
    public var firstDivergence: Divergence? {
        if let d = firstDivergence(.cumulative) ?? firstDivergence(.isolated) { return d }
        for (o, spec) in outputs.enumerated() {
            for s in samples where !spec.tolerance.passes(s.outputs[o].metrics) {
                return Divergence(view: "output", node: spec.node, op: "", value: spec.name, candidateNode: "",
                                  candidateValue: spec.candidateName, sample: s.index, sampleID: s.id,
                                  metrics: s.outputs[o].metrics, match: nil)
            }
        }
        return nil
    }

    // MARK: Aggregation

    /// Worst, mean and 95th percentile of one metric over samples.
    ///
    /// "Worst" is the maximum for error metrics and the minimum for cosine, SNR and top-k
    /// agreement. The mean is the plain mean in sample order. `p95` is the nearest-rank
    /// percentile on the "badness" order: sorting from best to worst, the value at rank
    /// ceil(0.95·n), so at least 95% of samples are no worse than it. NaN counts as worst.
    public struct Aggregate: Sendable, Equatable {
        public let worst: Double
        public let mean: Double
        public let p95: Double

        public init(_ values: [Double], largerIsWorse: Bool) {
            precondition(!values.isEmpty)
            func worse(_ a: Double, _ b: Double) -> Bool {  // a is worse than b
                if a.isNaN { return !b.isNaN }
                if b.isNaN { return false }
                return largerIsWorse ? a > b : a < b
            }
            let sorted = values.sorted { worse($1, $0) }  // best first
            worst = sorted.last!
            var sum = 0.0
            for v in values { sum += v }
            mean = sum / Double(values.count)
            let rank = Int((0.95 * Double(values.count)).rounded(.up))
            p95 = sorted[max(rank, 1) - 1]
        }

        var json: JSON { .object(["worst": .number(worst), "mean": .number(mean), "p95": .number(p95)]) }
    }

    /// Aggregates of every metric present in all of `metrics`.
    static func aggregates(_ metrics: [ErrorMetrics]) -> [String: Aggregate] {
        var out: [String: Aggregate] = [:]
        guard !metrics.isEmpty else { return out }
        for (key, largerIsWorse) in ErrorMetrics.names {
            let values = metrics.compactMap { $0.value(key) }
            guard values.count == metrics.count else { continue }
            out[key] = Aggregate(values, largerIsWorse: largerIsWorse)
        }
        return out
    }

    /// Aggregates of output `o` over samples.
    public func outputAggregates(_ o: Int) -> [String: Aggregate] {
        Self.aggregates(samples.map { $0.outputs[o].metrics })
    }

    /// The summed |d| histogram of output `o`.
    public func outputHistogram(_ o: Int) -> [Int] {
        var h = [Int](repeating: 0, count: ErrorMetrics.histogramEdges.count)
        for s in samples where s.outputs[o].metrics.histogram.count == h.count {
            for (k, n) in s.outputs[o].metrics.histogram.enumerated() { h[k] += n }
        }
        return h
    }
}

extension Shard {
    var json: JSON { .object(["index": .int(index), "count": .int(count)]) }
}
