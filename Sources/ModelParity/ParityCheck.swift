import Foundation
import ModelIR
import ModelONNX
import ModelOps
import ModelRuntime

/// What to compare and how: the inputs of `ParityCheck.run`.
public struct ParityOptions: Sendable {
    /// The reference model (nil when `golden` is given).
    public var reference: String?
    /// Golden outputs replacing the reference model: a tensor file (one sample) or a folder
    /// of per-sample files (see `SampleSet`).
    public var golden: String?
    public var candidate: String
    /// Models already in memory, used instead of reading `reference` / `candidate` (which
    /// then only label the report). Provenance lives in the IR: ONNX files do not carry it,
    /// so an optimizer that checks its own result passes it here to keep matching by it.
    public var referenceModel: Model?
    public var candidateModel: Model?
    /// Samples: a tensor file or folder (see `SampleSet`)...
    public var inputs: String?
    /// ... or this many seeded random samples.
    public var random: Int?
    public var seed: UInt64 = 0
    /// Dims for inputs with dynamic dims (random samples).
    public var inputShapes: [String: [Int]] = [:]
    public var policy: String?
    /// Overrides the policy file's precision and detection.
    public var precision: Precision?
    public var perLayer = false
    public var shard: Shard?
    public var threads = Interpreter.coreCount

    public init(candidate: String) { self.candidate = candidate }
}

/// Progress of a run, for a progress line: samples done of the shard's total.
public struct ParityProgress: Sendable {
    public let done: Int
    public let total: Int
    public let elapsedSeconds: Double

    /// Seconds left, extrapolated from the mean time per sample so far (nil before the first).
    public var etaSeconds: Double? { done == 0 ? nil : elapsedSeconds / Double(done) * Double(total - done) }
}

/// Runs a parity check: both sides on every sample of the shard, metrics per output, and with
/// `perLayer` the per-layer views (see `LayerMatcher`, `ParityReport`).
///
/// Views of `--per-layer`:
/// - cumulative: each matched candidate value, as the candidate computed it from its own
///   upstream values, against the reference's;
/// - isolated: each matched candidate node run again (its op's kernel, alone) with every
///   input that matches a reference value of the same dtype and shape replaced by the
///   reference's value; other inputs (weights, unmatched values) are the candidate's own.
///   Nodes holding subgraphs are not re-run (their isolated entry is null).
public enum ParityCheck {
    public static func run(_ options: ParityOptions,
                           progress: ((ParityProgress) -> Void)? = nil) throws(ParityError) -> ParityReport {
        let clock = ContinuousClock()
        let start = clock.now
        func seconds(since t: ContinuousClock.Instant) -> Double {
            let d = clock.now - t
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }

        // Usage.
        if options.reference == nil && options.golden == nil { throw .usage("give a reference model or --golden") }
        if options.reference != nil && options.golden != nil { throw .usage("give a reference model or --golden, not both") }
        if (options.inputs == nil) == (options.random == nil) { throw .usage("give exactly one of --inputs and --random") }
        if options.golden != nil && options.inputs == nil { throw .usage("--golden needs the inputs it was recorded on (--inputs)") }
        if options.golden != nil && options.perLayer { throw .usage("--per-layer needs a reference model, not --golden outputs") }
        if let n = options.random, n < 1 { throw .usage("--random must be at least 1") }
        if options.threads < 1 { throw .usage("--threads must be at least 1") }

        // Models, policy, precision.
        let candidate: Model
        if let m = options.candidateModel { candidate = m } else { candidate = try load(options.candidate) }
        var reference: Model? = options.referenceModel
        if reference == nil, let path = options.reference { reference = try load(path) }
        let policy = try options.policy.map { path throws(ParityError) in try TolerancePolicy.load(path: path) } ?? TolerancePolicy()
        let precision: Precision
        let precisionSource: String
        if let p = options.precision { (precision, precisionSource) = (p, "option") }
        else if let p = policy.precision { (precision, precisionSource) = (p, "policy") }
        else { (precision, precisionSource) = (Precision.detect(candidate), "detected") }

        let candidateRunner = try interpreter(candidate, path: options.candidate)
        let referenceRunner = try reference.map { m throws(ParityError) in try interpreter(m, path: options.reference!) }

        // Outputs: pair the reference's with the candidate's.
        let cg = candidate.graph
        let candidateOutputs = cg.outputs.map { cg[value: $0].name }
        var notes: [String] = []
        var pairs: [(ref: String, cand: String)]
        var matchedBy = "name"
        if let reference {
            let rg = reference.graph
            let refOutputs = rg.outputs.map { rg[value: $0].name }
            if refOutputs.allSatisfy(candidateOutputs.contains) {
                pairs = refOutputs.map { ($0, $0) }
                let extra = candidateOutputs.filter { !refOutputs.contains($0) }
                if !extra.isEmpty { notes.append("candidate outputs not in the reference are not compared: \(extra.joined(separator: ", "))") }
            } else if refOutputs.allSatisfy({ !candidateOutputs.contains($0) }) && refOutputs.count == candidateOutputs.count {
                pairs = Array(zip(refOutputs, candidateOutputs))
                matchedBy = "position"
                notes.append("no output names in common: outputs paired by position")
            } else {
                let missing = refOutputs.first { !candidateOutputs.contains($0) }!
                throw .input("\(options.candidate): has no output '\(missing)', which the reference \(options.reference!) has")
            }
        } else {
            pairs = candidateOutputs.map { ($0, $0) }
        }
        let specs: [ParityReport.OutputSpec] = pairs.map { pair in
            let id = cg.valueID(named: pair.cand)!
            let dtype = cg[value: id].type?.tensorDType
            var node = cg[value: id].producer.map { cg[node: $0].displayName } ?? ""
            if let reference, let rid = reference.graph.valueID(named: pair.ref) {
                node = reference.graph[value: rid].producer.map { reference.graph[node: $0].displayName } ?? ""
            }
            return ParityReport.OutputSpec(
                name: pair.ref, candidateName: pair.cand, dtype: dtype?.description ?? "unknown", node: node,
                tolerance: policy.tolerance(forOutput: pair.ref, precision: precision, isFloat: dtype?.isFloatingPoint ?? true))
        }
        for p in policy.unmatchedPatterns(specs.map(\.name)) {
            notes.append("policy \(policy.file ?? ""): outputs entry '\(p)' matches no output")
        }

        // Samples.
        let samples: SampleSet
        if let path = options.inputs { samples = try SampleSet.open(path) }
        else { samples = SampleSet.random(count: options.random!, seed: options.seed, shapes: options.inputShapes) }
        if samples.kind != .random && !options.inputShapes.isEmpty {
            throw .usage("--input-shape applies to --random samples only (given samples carry their shapes)")
        }
        var goldenIndex: [Int] = []
        var golden: SampleSet? = nil
        if let path = options.golden {
            let g = try SampleSet.open(path, role: .golden)
            golden = g
            if samples.count == 1 && g.count == 1 {
                goldenIndex = [0]
            } else {
                let byID = Dictionary(g.ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
                for id in samples.ids {
                    guard let k = byID[id] else {
                        throw .input("\(path): no golden outputs for sample '\(id)' (golden samples are paired with input samples by name)")
                    }
                    goldenIndex.append(k)
                }
            }
        }
        let shardIndices = options.shard?.indices(of: samples.count) ?? Array(0..<samples.count)

        // Per-layer setup.
        var layerSpec: ParityReport.LayerSpec? = nil
        if options.perLayer, let reference {
            layerSpec = ParityReport.LayerSpec(tolerance: policy.layerTolerance(precision: precision),
                                               matches: LayerMatcher.match(reference: reference.graph, candidate: candidate.graph))
        }

        let runInfo = ParityReport.RunInfo(
            referenceKind: reference == nil ? "golden" : "model", referencePath: options.reference ?? options.golden!,
            candidatePath: options.candidate, precision: precision, precisionSource: precisionSource,
            policyFile: options.policy, perLayer: options.perLayer, sampleSource: samples.kind.rawValue,
            samplePath: samples.path, sampleCount: samples.count, seed: samples.kind == .random ? options.seed : nil,
            inputShapes: options.inputShapes, shard: options.shard, outputsMatchedBy: matchedBy)

        var runOptions = RunOptions()
        runOptions.threads = options.threads
        runOptions.keepIntermediates = options.perLayer
        let generator = reference ?? candidate
        let refInputs = declaredInputs(reference ?? candidate)
        let candInputs = declaredInputs(candidate)
        var records: [ParityReport.SampleRecord] = []
        var refSeconds = 0.0, candSeconds = 0.0, layerSeconds = 0.0
        let loopStart = clock.now
        for (done, index) in shardIndices.enumerated() {
            progress?(ParityProgress(done: done, total: shardIndices.count, elapsedSeconds: seconds(since: loopStart)))
            let id = samples.ids[index]
            let tensors = try samples.tensors(index, model: generator)
            let candFeeds = try SampleSet.bind(tensors, to: candInputs, sample: id, what: "an input of \(options.candidate)")
                .mapValues { RuntimeValue.tensor($0) }

            var t = clock.now
            let candResult: RunResult
            do { candResult = try candidateRunner.run(candFeeds, options: runOptions) }
            catch { throw .input("sample '\(id)': \(options.candidate): \(error)") }
            candSeconds += seconds(since: t)
            let candOut = Dictionary(candResult.outputs.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })

            var refOut: [String: RuntimeValue] = [:]
            var refResult: RunResult? = nil
            t = clock.now
            if let referenceRunner {
                let refFeeds = try SampleSet.bind(tensors, to: refInputs, sample: id, what: "an input of \(options.reference!)")
                    .mapValues { RuntimeValue.tensor($0) }
                do { refResult = try referenceRunner.run(refFeeds, options: runOptions) }
                catch { throw .input("sample '\(id)': \(options.reference!): \(error)") }
                for (n, v) in refResult!.outputs where refOut[n] == nil { refOut[n] = v }
            } else if let golden {
                let g = golden.ids[goldenIndex[index]]
                let bound = try SampleSet.bind(try golden.tensors(goldenIndex[index], model: candidate), to: specs.map(\.name),
                                               sample: g, what: "an output of \(options.candidate)", ignoreOthers: true)
                refOut = bound.mapValues { RuntimeValue.tensor($0) }
            }
            refSeconds += seconds(since: t)

            var outputs: [ParityReport.OutputResult] = []
            for spec in specs {
                guard let rv = refOut[spec.name] else {
                    throw .outputMismatch(sample: id, output: spec.name, reason: "the golden outputs do not hold it")
                }
                guard let r = rv.tensor, let c = candOut[spec.candidateName]?.tensor else {
                    throw .outputMismatch(sample: id, output: spec.name, reason: "is not a tensor (\(rv.typeDescription)); only tensors are compared")
                }
                guard r.dims == c.dims else {
                    throw .outputMismatch(sample: id, output: spec.name,
                                          reason: "shape \(Shape(r.dims)) in the reference, \(Shape(c.dims)) in the candidate")
                }
                guard let rd = TensorValues.doubles(r), let cd = TensorValues.doubles(c) else {
                    throw .outputMismatch(sample: id, output: spec.name, reason: "\(r.dtype) vs \(c.dtype): no numeric comparison for this type")
                }
                let m = compare(rd, cd, tolerance: spec.tolerance, lastAxis: r.dims.last ?? 1, histogram: true)
                outputs.append(ParityReport.OutputResult(shape: r.dims, metrics: m))
            }

            var cumulative: [ErrorMetrics?] = []
            var isolated: [ErrorMetrics?] = []
            if let layerSpec, let refResult {
                t = clock.now
                (cumulative, isolated) = try perLayer(layerSpec, reference: refResult, candidate: candResult,
                                                      candidateModel: candidate, feeds: candFeeds, threads: options.threads, sample: id)
                layerSeconds += seconds(since: t)
            }
            records.append(ParityReport.SampleRecord(index: index, id: id, outputs: outputs, cumulative: cumulative, isolated: isolated))
        }
        progress?(ParityProgress(done: shardIndices.count, total: shardIndices.count, elapsedSeconds: seconds(since: loopStart)))
        let timing = ["total_seconds": seconds(since: start), "reference_seconds": refSeconds,
                      "candidate_seconds": candSeconds, "per_layer_seconds": layerSeconds]
        return ParityReport(run: runInfo, outputs: specs, layers: layerSpec, samples: records, notes: notes, timing: timing)
    }

    // MARK: Pieces

    static func load(_ path: String) throws(ParityError) -> Model {
        do {
            return try ONNXImporter.load(path: path)
        } catch {
            let text = "\(error)"
            throw .input(text.contains(path) ? text : "\(path): \(text)")
        }
    }

    static func interpreter(_ model: Model, path: String) throws(ParityError) -> Interpreter {
        do {
            return try Interpreter(model: model)
        } catch {
            throw .input("\(path): \(error)")
        }
    }

    static func declaredInputs(_ model: Model) -> [String] {
        let g = model.graph
        return g.inputs.filter { g[value: $0].initializer == nil }.map { g[value: $0].name }
    }

    static func compare(_ r: [Double], _ c: [Double], tolerance: Tolerance, lastAxis: Int, histogram: Bool) -> ErrorMetrics {
        r.withUnsafeBufferPointer { rb in
            c.withUnsafeBufferPointer { cb in
                ErrorMetrics.compute(reference: rb, candidate: cb, tolerance: tolerance, lastAxis: lastAxis, histogram: histogram)
            }
        }
    }

    /// Compares two tensors of a layer: nil unless both are float tensors of the same dims.
    static func compareLayer(_ r: Tensor?, _ c: Tensor?, tolerance: Tolerance) -> ErrorMetrics? {
        guard let r, let c, r.dims == c.dims, r.dtype.isFloatingPoint, c.dtype.isFloatingPoint,
              let rd = TensorValues.doubles(r), let cd = TensorValues.doubles(c) else { return nil }
        return compare(rd, cd, tolerance: tolerance, lastAxis: r.dims.last ?? 1, histogram: false)
    }

    /// The cumulative and isolated metrics of every match for one sample.
    static func perLayer(_ spec: ParityReport.LayerSpec, reference: RunResult, candidate: RunResult, candidateModel: Model,
                         feeds: [String: RuntimeValue], threads: Int, sample: String) throws(ParityError)
        -> ([ErrorMetrics?], [ErrorMetrics?]) {
        var refValues: [String: RuntimeValue] = [:]
        for v in reference.intermediates where refValues[v.name] == nil { refValues[v.name] = v.value }
        var candValues: [String: RuntimeValue] = [:]
        for v in candidate.intermediates where candValues[v.name] == nil { candValues[v.name] = v.value }
        let candToRef = Dictionary(spec.matches.map { ($0.candidateValue, $0.referenceValue) }, uniquingKeysWith: { a, _ in a })

        let g = candidateModel.graph
        var opsets: [String: Int] = [:]
        for o in candidateModel.opsetImports { opsets[o.domain == "ai.onnx" ? "" : o.domain] = Int(o.version) }
        var rerun: [NodeID: [RuntimeValue]?] = [:]

        /// Runs candidate node `id` alone on reference-fed inputs (nil for nodes with subgraphs).
        func isolatedOutputs(_ id: NodeID) throws(ParityError) -> [RuntimeValue]? {
            if let done = rerun[id] { return done }
            let node = g[node: id]
            guard node.subgraphs.isEmpty else { rerun[id] = .some(nil); return nil }
            var args: [RuntimeValue?] = []
            for input in node.inputs {
                guard let input else { args.append(nil); continue }
                let v = g[value: input]
                var value: RuntimeValue? = candValues[v.name] ?? feeds[v.name] ?? v.initializer.map { .tensor($0) }
                if let refName = candToRef[v.name], let rv = refValues[refName]?.tensor,
                   let own = value?.tensor, own.dtype == rv.dtype, own.dims == rv.dims {
                    value = .tensor(rv)
                }
                guard let value else { rerun[id] = .some(nil); return nil }
                args.append(value)
            }
            let domain = node.domain == "ai.onnx" ? "" : node.domain
            guard let schema = OpRegistry.schema(domain: domain, opType: node.opType) else { rerun[id] = .some(nil); return nil }
            let outputs: [RuntimeValue]
            do {
                outputs = try schema.kernel(KernelContext(node: node, opset: opsets[domain] ?? 1, inputs: args, threads: threads))
            } catch {
                throw .input("sample '\(sample)': isolated run of node '\(node.displayName)' (\(node.opType)) on reference inputs: \(error)")
            }
            rerun[id] = outputs
            return outputs
        }

        var cumulative: [ErrorMetrics?] = []
        var isolated: [ErrorMetrics?] = []
        for m in spec.matches {
            let ref = refValues[m.referenceValue]?.tensor
            cumulative.append(compareLayer(ref, candValues[m.candidateValue]?.tensor, tolerance: spec.tolerance))
            var iso: Tensor? = nil
            if let vid = g.valueID(named: m.candidateValue), let producer = g[value: vid].producer,
               let k = g[node: producer].outputs.firstIndex(of: vid),
               let outs = try isolatedOutputs(producer), k < outs.count {
                iso = outs[k].tensor
            }
            isolated.append(compareLayer(ref, iso, tolerance: spec.tolerance))
        }
        return (cumulative, isolated)
    }
}
