import Foundation

extension ParityReport {
    /// One self-contained HTML page (no scripts, no external files): the verdict, the outputs
    /// table, an inline SVG chart of the error per layer along the reference graph (with
    /// `--per-layer`: worst max_abs per matched layer, both views, log scale, failing layers
    /// in red, the first divergence marked), an inline SVG histogram of |candidate − reference|
    /// per output, and the layer table.
    public var html: String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>modelconv parity: \(esc(run.candidatePath))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
            h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
            table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
            th{background:#f3f3f3}.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
            .num{text-align:right;font-family:ui-monospace,monospace}tr.div td{background:#fff0f0}
            svg{background:#fff;border:1px solid #ddd;margin:4px 0}
            </style></head><body>

            """
        h += "<h1>Parity: <span class=\"\(passed ? "pass" : "fail")\">\(passed ? "PASS" : "FAIL")</span></h1>\n"
        h += "<table>\n"
        var facts: [(String, String)] = [
            ("reference", "\(run.referencePath) (\(run.referenceKind))"), ("candidate", run.candidatePath),
            ("precision", "\(run.precision) (\(run.precisionSource))"), ("policy", run.policyFile ?? "built-in defaults"),
            ("samples", "\(samples.count)" + (run.shard.map { " (shard \($0) of \(run.sampleCount))" } ?? "")
                + " from \(run.sampleSource)" + (run.samplePath.map { " \($0)" } ?? "") + (run.seed.map { ", seed \($0)" } ?? "")),
        ]
        if let d = firstDivergence {
            facts.append(("first divergence", "\(d.node) (\(d.op.isEmpty ? "output" : d.op)), \(d.view) view, sample \(d.sampleID)"))
        }
        for (k, v) in facts { h += "<tr><th>\(esc(k))</th><td>\(esc(v))</td></tr>\n" }
        h += "</table>\n"
        for n in notes { h += "<p>Note: \(esc(n))</p>\n" }

        h += "<h2>Outputs</h2>\n<table><tr><th>output</th><th>verdict</th><th>max abs</th><th>max rel</th><th>mean abs</th>"
        h += "<th>RMSE</th><th>cosine</th><th>SNR dB</th><th>outside</th><th>tolerance</th></tr>\n"
        for (o, spec) in outputs.enumerated() {
            let ok = outputPassed(o)
            let a = outputAggregates(o)
            func cell(_ k: String) -> String { "<td class=\"num\">\(a[k].map { Self.short($0.worst) } ?? "-")</td>" }
            h += "<tr><td>\(esc(spec.name))</td><td class=\"\(ok ? "pass" : "fail")\">\(ok ? "PASS" : "FAIL")</td>"
            h += cell("max_abs") + cell("max_rel") + cell("mean_abs") + cell("rmse")
            h += "<td class=\"num\">\(a["cosine"].map { Self.cosine($0.worst) } ?? "-")</td>" + cell("snr_db")
            h += "<td class=\"num\">\(a["fraction_outside"].map { Self.short($0.worst * 100) + "%" } ?? "-")</td>"
            h += "<td>\(esc(spec.tolerance.summary))</td></tr>\n"
        }
        h += "</table>\n<p>Worst value over samples; outside: the fraction of elements outside the element tolerance.</p>\n"

        h += "<h2>Error per layer</h2>\n"
        if layers == nil {
            h += "<p>Run with <code>--per-layer</code> for the error of each layer along the graph.</p>\n"
        } else {
            h += layerChart()
        }
        h += "<h2>Error histogram</h2>\n<p>Elements per decade of |candidate − reference|, summed over samples.</p>\n"
        for (o, spec) in outputs.enumerated() { h += histogramChart(title: spec.name, counts: outputHistogram(o)) }

        if let layers {
            let cumulative = Dictionary(layerSummaries(.cumulative).map { ($0.match, $0) }, uniquingKeysWith: { a, _ in a })
            let isolated = Dictionary(layerSummaries(.isolated).map { ($0.match, $0) }, uniquingKeysWith: { a, _ in a })
            let firstMatch = firstDivergence(.cumulative)?.match ?? firstDivergence(.isolated)?.match
            h += "<h2>Layers</h2>\n<table><tr><th>#</th><th>reference node</th><th>op</th><th>candidate node</th><th>matched by</th>"
            h += "<th>cumulative max abs</th><th>isolated max abs</th></tr>\n"
            for (j, m) in layers.matches.enumerated() {
                func cell(_ s: LayerSummary?) -> String {
                    guard let s else { return "<td class=\"num\">-</td>" }
                    return "<td class=\"num \(s.passed ? "" : "fail")\">\(Self.short(s.worstMaxAbs))</td>"
                }
                h += "<tr\(j == firstMatch ? " class=\"div\"" : "")><td class=\"num\">\(j + 1)</td><td>\(esc(m.referenceNode))</td>"
                h += "<td>\(esc(m.referenceOp))</td><td>\(esc(m.candidateNode))</td><td>\(esc(m.matchedBy))</td>"
                h += cell(cumulative[j]) + cell(isolated[j]) + "</tr>\n"
            }
            h += "</table>\n"
        }
        h += "</body></html>\n"
        return h
    }

    func esc(_ s: String) -> String { Self.escapeXML(s, attribute: true) }

    /// y position for an error on a log scale from 1e-12 (bottom) to `top`.
    private static func logY(_ v: Double, lo: Double, hi: Double, y0: Double, y1: Double) -> Double {
        let c = min(max(v.isFinite ? v : hi, pow(10, lo)), pow(10, hi))
        let t = (log10(c) - lo) / (hi - lo)
        return y1 - t * (y1 - y0)
    }

    /// The per-layer line chart (both views).
    func layerChart() -> String {
        guard let layers, !layers.matches.isEmpty else { return "<p>No layers were matched.</p>\n" }
        let n = layers.matches.count
        let w = 1000.0, hgt = 320.0, left = 60.0, right = 20.0, top = 20.0, bottom = 40.0
        let views: [(View, String)] = [(.cumulative, "#0969da"), (.isolated, "#bf8700")]
        let summaries = views.map { v in (v.0, v.1, layerSummaries(v.0)) }
        let values = summaries.flatMap { $0.2.map(\.worstMaxAbs) }.filter { $0 > 0 && $0.isFinite }
        let hi = max(0.0, (log10(values.max() ?? 1)).rounded(.up))
        let lo = min(-12.0, hi - 1)
        func x(_ j: Int) -> Double { left + (n == 1 ? 0.5 : Double(j) / Double(n - 1)) * (w - left - right) }
        func y(_ v: Double) -> Double { Self.logY(v, lo: lo, hi: hi, y0: top, y1: hgt - bottom) }
        var s = "<svg class=\"chart layer-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(hgt))\" "
        s += "viewBox=\"0 0 \(Int(w)) \(Int(hgt))\" role=\"img\" aria-label=\"error per layer\">\n"
        s += "<title>Worst max abs error per layer, in reference graph order</title>\n"
        var decade = lo
        while decade <= hi {
            let yy = y(pow(10, decade))
            s += "<line x1=\"\(f(left))\" x2=\"\(f(w - right))\" y1=\"\(f(yy))\" y2=\"\(f(yy))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" font-size=\"10\" text-anchor=\"end\">1e\(Int(decade))</text>\n"
            decade += 2
        }
        s += "<line x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(top))\" y2=\"\(f(hgt - bottom))\" stroke=\"#888\"/>"
        s += "<line x1=\"\(f(left))\" x2=\"\(f(w - right))\" y1=\"\(f(hgt - bottom))\" y2=\"\(f(hgt - bottom))\" stroke=\"#888\"/>\n"
        s += "<text x=\"\(f((left + w - right) / 2))\" y=\"\(f(hgt - 8))\" font-size=\"11\" text-anchor=\"middle\">layer (reference graph order, 1..\(n))</text>\n"
        if let d = firstDivergence(.cumulative) ?? firstDivergence(.isolated), let j = d.match {
            s += "<line class=\"first-divergence\" x1=\"\(f(x(j)))\" x2=\"\(f(x(j)))\" y1=\"\(f(top))\" y2=\"\(f(hgt - bottom))\" "
            s += "stroke=\"#cf222e\" stroke-dasharray=\"4 3\"><title>first divergence: \(esc(d.node))</title></line>\n"
        }
        for (k, (view, colour, rows)) in summaries.enumerated() {
            let points = rows.map { "\(f(x($0.match))),\(f(y($0.worstMaxAbs)))" }.joined(separator: " ")
            s += "<polyline class=\"series \(view.rawValue)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            for r in rows {
                let m = layers.matches[r.match]
                s += "<circle cx=\"\(f(x(r.match)))\" cy=\"\(f(y(r.worstMaxAbs)))\" r=\"\(r.passed ? 2.5 : 4)\" "
                s += "fill=\"\(r.passed ? colour : "#cf222e")\"><title>\(view.rawValue) #\(r.match + 1) \(esc(m.referenceNode)) "
                s += "(\(esc(m.referenceOp))): max_abs \(Self.short(r.worstMaxAbs))\(r.passed ? "" : ", FAILS")</title></circle>\n"
            }
            s += "<rect x=\"\(f(w - right - 150))\" y=\"\(f(top + 4 + Double(k) * 16))\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
            s += "<text x=\"\(f(w - right - 135))\" y=\"\(f(top + 13 + Double(k) * 16))\" font-size=\"11\">\(view.rawValue)</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// A bar chart of one output's |d| histogram.
    func histogramChart(title: String, counts: [Int]) -> String {
        let labels = ErrorMetrics.histogramEdges
        let w = 1000.0, hgt = 200.0, left = 60.0, right = 20.0, top = 24.0, bottom = 36.0
        let maxCount = max(counts.max() ?? 0, 1)
        let bw = (w - left - right) / Double(max(labels.count, 1))
        var s = "<svg class=\"chart histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(hgt))\" "
        s += "viewBox=\"0 0 \(Int(w)) \(Int(hgt))\" role=\"img\" aria-label=\"error histogram \(esc(title))\">\n"
        s += "<title>|candidate − reference| histogram of \(esc(title))</title>\n"
        s += "<text x=\"\(f(left))\" y=\"16\" font-size=\"12\" font-weight=\"bold\">\(esc(title))</text>\n"
        s += "<line x1=\"\(f(left))\" x2=\"\(f(w - right))\" y1=\"\(f(hgt - bottom))\" y2=\"\(f(hgt - bottom))\" stroke=\"#888\"/>\n"
        for (k, label) in labels.enumerated() {
            let c = k < counts.count ? counts[k] : 0
            let bh = Double(c) / Double(maxCount) * (hgt - top - bottom)
            let xx = left + Double(k) * bw
            s += "<rect class=\"bin\" x=\"\(f(xx + 2))\" y=\"\(f(hgt - bottom - bh))\" width=\"\(f(bw - 4))\" height=\"\(f(bh))\" "
            s += "fill=\"\(k == labels.count - 1 ? "#cf222e" : "#0969da")\"><title>\(esc(label)): \(c)</title></rect>"
            s += "<text x=\"\(f(xx + bw / 2))\" y=\"\(f(hgt - bottom + 14))\" font-size=\"9\" text-anchor=\"middle\">\(esc(label))</text>\n"
        }
        s += "<text x=\"\(f(left - 6))\" y=\"\(f(top + 8))\" font-size=\"10\" text-anchor=\"end\">\(maxCount)</text>\n"
        s += "</svg>\n"
        return s
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
