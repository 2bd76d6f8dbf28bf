import Foundation

extension ParityReport {
    /// The terminal summary: one line per output, the per-layer first divergences, and a
    /// verdict line. With `color`, PASS/FAIL are green/red (ANSI); otherwise plain text.
    public func terminalLines(color: Bool) -> [String] {
        func verdict(_ ok: Bool) -> String {
            let word = ok ? "PASS" : "FAIL"
            return color ? (ok ? "\u{1B}[32m" : "\u{1B}[1;31m") + word + "\u{1B}[0m" : word
        }
        var lines: [String] = []
        let width = outputs.map(\.name.count).max() ?? 0
        for (o, spec) in outputs.enumerated() {
            let ok = outputPassed(o)
            let name = spec.name.padding(toLength: max(width, spec.name.count), withPad: " ", startingAt: 0)
            guard !samples.isEmpty else {
                lines.append("\(verdict(ok)) \(name)  no samples in this shard")
                continue
            }
            let agg = outputAggregates(o)
            let worstOutside = samples.map { $0.outputs[o].metrics }.max { $0.fractionOutside < $1.fractionOutside }!
            var parts = [
                "max_abs \(Self.short(agg["max_abs"]!.worst))",
                "max_rel \(Self.short(agg["max_rel"]!.worst))",
                "mean_abs \(Self.short(agg["mean_abs"]!.worst))",
                "cos \(Self.cosine(agg["cosine"]!.worst))",
                "snr \(Self.decibels(agg["snr_db"]!.worst))",
                "outside \(worstOutside.outside)/\(worstOutside.count)",
            ]
            if let t = agg["topk_agreement"], let k = spec.tolerance.topK { parts.append("top-\(k) \(Self.short(t.worst))") }
            let failed = samples.filter { !spec.tolerance.passes($0.outputs[o].metrics) }.count
            if samples.count > 1 { parts.append(failed > 0 ? "failed \(failed)/\(samples.count) samples" : "\(samples.count) samples") }
            lines.append("\(verdict(ok)) \(name)  " + parts.joined(separator: "  ") + "  [\(spec.tolerance.summary)]")
        }
        if let layers {
            lines.append("layers: \(layers.matches.count) matched [\(layers.tolerance.summary)]")
            for view in View.allCases {
                let label = view.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                if let d = firstDivergence(view) {
                    lines.append("  \(label) first divergence: \(d.node) (\(d.op), layer \(d.match! + 1) of \(layers.matches.count)) "
                                 + "on sample \(d.sampleID): max_abs \(Self.short(d.metrics.maxAbs)), "
                                 + "\(d.metrics.outside)/\(d.metrics.count) outside")
                } else {
                    lines.append("  \(label) no layer crosses the tolerance")
                }
            }
        }
        let failedOutputs = outputs.indices.filter { !outputPassed($0) }.count
        var tail = "\(samples.count) sample\(samples.count == 1 ? "" : "s")"
        if let shard = run.shard { tail += " (shard \(shard) of \(run.sampleCount))" }
        tail += ", \(run.precision) policy"
        lines.append("parity: \(verdict(passed)) (" + (passed ? "\(outputs.count) output\(outputs.count == 1 ? "" : "s") within tolerance"
                                                      : "\(failedOutputs) of \(outputs.count) outputs out of tolerance") + "; \(tail))")
        return lines
    }

    static func short(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return "0" }
        return String(format: "%.3g", v)
    }

    static func cosine(_ v: Double) -> String { v.isFinite ? String(format: "%.7f", v) : short(v) }

    static func decibels(_ v: Double) -> String { v.isFinite ? String(format: "%.1f dB", v) : short(v) + " dB" }

    /// A progress line: `parity: 12/40 samples, 3.1 s, ETA 7.2 s`.
    public static func progressLine(_ p: ParityProgress) -> String {
        var s = "parity: \(p.done)/\(p.total) samples, \(String(format: "%.1f", p.elapsedSeconds)) s"
        if let eta = p.etaSeconds, p.done < p.total { s += ", ETA \(String(format: "%.1f", eta)) s" }
        return s
    }
}
