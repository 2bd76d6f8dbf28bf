extension ParityReport {
    // MARK: Encoding

    /// The report as JSON (schema in docs/parity.md). Deterministic: see `JSON.text`.
    public var json: JSON {
        var top: [String: JSON] = [
            "schema": .string(Self.schema),
            "passed": .bool(passed),
            "exit_code": .int(Int(exitCode)),
            "run": run.json,
            "notes": .array(notes.map { .string($0) }),
            "timing": .object(timing.mapValues { .number($0) }),
        ]
        top["outputs"] = .array(outputs.indices.map(outputJSON))
        top["layers"] = layersJSON
        top["first_divergence"] = firstDivergence.map(\.json) ?? .null
        top["per_sample"] = .array(samples.map(sampleJSON))
        return .object(top)
    }

    /// The JSON text (what `--report` writes).
    public var jsonText: String { json.text }

    func outputJSON(_ o: Int) -> JSON {
        let spec = outputs[o]
        var failed: [JSON] = []
        var worstCheck: [String: Tolerance.Check] = [:]
        for s in samples {
            let checks = spec.tolerance.checks(s.outputs[o].metrics)
            if !checks.allSatisfy(\.passed) { failed.append(.int(s.index)) }
            for c in checks {
                if let w = worstCheck[c.metric] {
                    let worse = c.relation == "<=" ? (c.value > w.value || c.value.isNaN) : (c.value < w.value || c.value.isNaN)
                    if worse && !w.value.isNaN { worstCheck[c.metric] = c }
                } else {
                    worstCheck[c.metric] = c
                }
            }
        }
        let checks: [JSON] = ["fraction_outside", "cosine", "snr_db", "topk_agreement"].compactMap { key in
            guard let c = worstCheck[key] else { return nil }
            return .object(["metric": .string(c.metric), "relation": .string(c.relation), "limit": .number(c.limit),
                            "worst": .number(c.value), "passed": .bool(c.passed)])
        }
        return .object([
            "name": .string(spec.name), "candidate_name": .string(spec.candidateName), "dtype": .string(spec.dtype),
            "node": .string(spec.node), "tolerance": spec.tolerance.json, "passed": .bool(failed.isEmpty),
            "samples": .int(samples.count), "failed_samples": .array(failed),
            "metrics": .object(outputAggregates(o).mapValues(\.json)),
            "checks": .array(checks),
            "histogram": .array(outputHistogram(o).map { .int($0) }),
        ])
    }

    var layersJSON: JSON {
        guard let layers else { return .null }
        var o: [String: JSON] = [
            "tolerance": layers.tolerance.json,
            "matches": .array(layers.matches.map(\.json)),
        ]
        for view in View.allCases {
            let rows: [JSON] = layerSummaries(view).map { l in
                .object([
                    "match": .int(l.match), "passed": .bool(l.passed), "samples": .int(l.compared.count),
                    "failed_samples": .array(l.failedSamples.map { .int($0) }),
                    "metrics": .object(Self.aggregates(l.compared.map(\.metrics)).mapValues(\.json)),
                ])
            }
            o[view.rawValue] = .object([
                "first_divergence": firstDivergence(view).map(\.json) ?? .null,
                "layers": .array(rows),
            ])
        }
        return .object(o)
    }

    func sampleJSON(_ s: SampleRecord) -> JSON {
        var outs: [String: JSON] = [:]
        var passed = true
        for (o, r) in s.outputs.enumerated() {
            let ok = outputs[o].tolerance.passes(r.metrics)
            passed = passed && ok
            guard case .object(var m) = r.metrics.json else { continue }
            m["shape"] = .array(r.shape.map { .int($0) })
            m["passed"] = .bool(ok)
            outs[outputs[o].name] = .object(m)
        }
        var o: [String: JSON] = [
            "index": .int(s.index), "id": .string(s.id), "passed": .bool(passed), "outputs": .object(outs),
        ]
        if layers != nil {
            o["layers"] = .object([
                "cumulative": .array(s.cumulative.map { $0?.json ?? .null }),
                "isolated": .array(s.isolated.map { $0?.json ?? .null }),
            ])
        }
        return .object(o)
    }

    // MARK: Decoding

    /// Reads a report written by `jsonText` (for `merge`). Only the recorded parts are read;
    /// verdicts and aggregates are recomputed. Throws `.input` naming `file` and the part
    /// that is missing or malformed.
    public init(json: JSON, file: String) throws(ParityError) {
        func bad(_ what: String) -> ParityError { .input("\(file): not a parity report: \(what)") }
        guard json["schema"]?.stringValue == Self.schema else {
            throw bad("'schema' is not '\(Self.schema)'")
        }
        guard let runJSON = json["run"], let run = RunInfo(json: runJSON) else { throw bad("'run' is missing or malformed") }
        guard let outs = json["outputs"]?.arrayValue else { throw bad("'outputs' is missing") }
        var outputs: [OutputSpec] = []
        for (k, o) in outs.enumerated() {
            guard let name = o["name"]?.stringValue, let cand = o["candidate_name"]?.stringValue,
                  let dtype = o["dtype"]?.stringValue, let node = o["node"]?.stringValue,
                  let tj = o["tolerance"], let t = Tolerance(json: tj) else { throw bad("outputs[\(k)] is malformed") }
            outputs.append(OutputSpec(name: name, candidateName: cand, dtype: dtype, node: node, tolerance: t))
        }
        var layers: LayerSpec? = nil
        if let l = json["layers"], !l.isNull {
            guard let tj = l["tolerance"], let t = Tolerance(json: tj), let ms = l["matches"]?.arrayValue else {
                throw bad("'layers' is malformed")
            }
            var matches: [LayerMatch] = []
            for (k, m) in ms.enumerated() {
                guard let match = LayerMatch(json: m) else { throw bad("layers.matches[\(k)] is malformed") }
                matches.append(match)
            }
            layers = LayerSpec(tolerance: t, matches: matches)
        }
        guard let per = json["per_sample"]?.arrayValue else { throw bad("'per_sample' is missing") }
        var samples: [SampleRecord] = []
        for (k, s) in per.enumerated() {
            guard let index = s["index"]?.intValue, let id = s["id"]?.stringValue, let o = s["outputs"]?.objectValue else {
                throw bad("per_sample[\(k)] is malformed")
            }
            var results: [OutputResult] = []
            for spec in outputs {
                guard let r = o[spec.name], let m = ErrorMetrics(json: r),
                      let shape = r["shape"]?.arrayValue?.compactMap(\.intValue) else {
                    throw bad("per_sample[\(k)].outputs['\(spec.name)'] is missing or malformed")
                }
                results.append(OutputResult(shape: shape, metrics: m))
            }
            func row(_ view: String) throws(ParityError) -> [ErrorMetrics?] {
                guard layers != nil else { return [] }
                guard let items = s["layers"]?[view]?.arrayValue, items.count == layers!.matches.count else {
                    throw bad("per_sample[\(k)].layers.\(view) is missing or has the wrong length")
                }
                var out: [ErrorMetrics?] = []
                for item in items {
                    if item.isNull { out.append(nil); continue }
                    guard let m = ErrorMetrics(json: item) else { throw bad("per_sample[\(k)].layers.\(view) is malformed") }
                    out.append(m)
                }
                return out
            }
            samples.append(SampleRecord(index: index, id: id, outputs: results, cumulative: try row("cumulative"),
                                        isolated: try row("isolated")))
        }
        let notes = json["notes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var timing: [String: Double] = [:]
        for (k, v) in json["timing"]?.objectValue ?? [:] { timing[k] = v.doubleValue }
        self.init(run: run, outputs: outputs, layers: layers, samples: samples, notes: notes, timing: timing)
    }
}

extension ParityReport.RunInfo {
    var json: JSON {
        .object([
            "reference": .object(["kind": .string(referenceKind), "path": .string(referencePath)]),
            "candidate": .object(["path": .string(candidatePath)]),
            "precision": .string(precision.rawValue),
            "precision_source": .string(precisionSource),
            "policy": policyFile.map { .string($0) } ?? .null,
            "per_layer": .bool(perLayer),
            "samples": .object([
                "source": .string(sampleSource),
                "path": samplePath.map { .string($0) } ?? .null,
                "count": .int(sampleCount),
                "seed": seed.map { .string(String($0)) } ?? .null,
                "input_shapes": .object(inputShapes.mapValues { .array($0.map { .int($0) }) }),
            ]),
            "shard": shard?.json ?? .null,
            "outputs_matched_by": .string(outputsMatchedBy),
        ])
    }

    init?(json: JSON) {
        guard let kind = json["reference"]?["kind"]?.stringValue, let refPath = json["reference"]?["path"]?.stringValue,
              let candPath = json["candidate"]?["path"]?.stringValue,
              let precision = json["precision"]?.stringValue.flatMap(Precision.init(rawValue:)),
              let source = json["precision_source"]?.stringValue, let perLayer = json["per_layer"]?.boolValue,
              let samples = json["samples"], let sampleSource = samples["source"]?.stringValue,
              let count = samples["count"]?.intValue, let by = json["outputs_matched_by"]?.stringValue else { return nil }
        var shapes: [String: [Int]] = [:]
        for (k, v) in samples["input_shapes"]?.objectValue ?? [:] { shapes[k] = v.arrayValue?.compactMap(\.intValue) ?? [] }
        var shard: Shard? = nil
        if let s = json["shard"], !s.isNull {
            guard let i = s["index"]?.intValue, let n = s["count"]?.intValue, let parsed = try? Shard(index: i, count: n) else { return nil }
            shard = parsed
        }
        self.init(referenceKind: kind, referencePath: refPath, candidatePath: candPath, precision: precision,
                  precisionSource: source, policyFile: json["policy"]?.stringValue, perLayer: perLayer,
                  sampleSource: sampleSource, samplePath: samples["path"]?.stringValue, sampleCount: count,
                  seed: samples["seed"]?.stringValue.flatMap { UInt64($0) }, inputShapes: shapes,
                  shard: shard, outputsMatchedBy: by)
    }
}

extension ParityReport.Divergence {
    var json: JSON {
        var o: [String: JSON] = [
            "view": .string(view), "node": .string(node), "op": .string(op), "value": .string(value),
            "candidate_node": .string(candidateNode), "candidate_value": .string(candidateValue),
            "sample": .int(sample), "sample_id": .string(sampleID),
            "max_abs": .number(metrics.maxAbs), "max_rel": .number(metrics.maxRel),
            "fraction_outside": .number(metrics.fractionOutside), "cosine": .number(metrics.cosine),
            "snr_db": .number(metrics.snrDB),
        ]
        o["match"] = match.map { .int($0) } ?? .null
        return .object(o)
    }
}
