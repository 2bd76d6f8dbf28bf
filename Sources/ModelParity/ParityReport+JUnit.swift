import Foundation

extension ParityReport {
    /// JUnit XML as Jenkins reads it: one `<testsuites>` holding one `<testsuite>` named
    /// `parity`, one `<testcase>` per output (classname `parity.<candidate file stem>`,
    /// name = the output name). A failing output has a `<failure>` whose `message` names the
    /// failed checks and the first failing sample, and whose text lists every failing sample
    /// and the first divergence.
    public var junitXML: String {
        let stem = SampleSet.stem(run.candidatePath).replacingOccurrences(of: ".onnx", with: "")
        let failures = outputs.indices.filter { !outputPassed($0) }.count
        let total = timing["total_seconds"] ?? 0
        let each = outputs.isEmpty ? 0 : total / Double(outputs.count)
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"modelconv parity\" tests=\"\(outputs.count)\" failures=\"\(failures)\" errors=\"0\" time=\(attr(String(format: "%.3f", total)))>\n"
        x += "  <testsuite name=\"parity\" tests=\"\(outputs.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\" time=\(attr(String(format: "%.3f", total)))>\n"
        x += "    <properties>\n"
        var props: [(String, String)] = [
            ("reference", run.referencePath), ("candidate", run.candidatePath), ("precision", run.precision.rawValue),
            ("samples", String(samples.count)),
        ]
        if let p = run.policyFile { props.append(("policy", p)) }
        if let s = run.shard { props.append(("shard", s.description)) }
        if let d = firstDivergence { props.append(("first_divergence", "\(d.node) (\(d.view))")) }
        for (k, v) in props { x += "      <property name=\(attr(k)) value=\(attr(v))/>\n" }
        x += "    </properties>\n"
        for (o, spec) in outputs.enumerated() {
            let open = "    <testcase classname=\(attr("parity." + stem)) name=\(attr(spec.name)) time=\(attr(String(format: "%.3f", each)))"
            if outputPassed(o) {
                x += open + "/>\n"
                continue
            }
            x += open + ">\n"
            let failing = samples.filter { !spec.tolerance.passes($0.outputs[o].metrics) }
            let first = failing[0]
            let bad = spec.tolerance.checks(first.outputs[o].metrics).filter { !$0.passed }
            let message = bad.map { "\($0.metric) \(Self.short($0.value)) (limit \($0.relation) \(Self.short($0.limit)))" }
                .joined(separator: ", ") + " on sample \(first.id)" + (failing.count > 1 ? " and \(failing.count - 1) more" : "")
            var body: [String] = ["tolerance: \(spec.tolerance.summary)"]
            for s in failing {
                let m = s.outputs[o].metrics
                body.append("sample \(s.id): max_abs \(Self.short(m.maxAbs)), max_rel \(Self.short(m.maxRel)), "
                            + "cosine \(Self.cosine(m.cosine)), snr \(Self.decibels(m.snrDB)), outside \(m.outside)/\(m.count)")
            }
            if let d = firstDivergence { body.append("first divergence (\(d.view)): \(d.node) \(d.op)") }
            x += "      <failure message=\(attr(message)) type=\"parity\">\(text(body.joined(separator: "\n")))</failure>\n"
            x += "    </testcase>\n"
        }
        x += "  </testsuite>\n</testsuites>\n"
        return x
    }

    /// An XML attribute value, quoted.
    func attr(_ s: String) -> String { "\"" + Self.escapeXML(s, attribute: true) + "\"" }
    func text(_ s: String) -> String { Self.escapeXML(s, attribute: false) }

    /// Escapes &, <, >, quotes (in attributes: also newlines and tabs); drops characters XML 1.0 forbids.
    static func escapeXML(_ s: String, attribute: Bool) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "'" where attribute: out += "&apos;"
            case "\n" where attribute: out += "&#10;"
            case "\t" where attribute: out += "&#9;"
            case "\r": out += "&#13;"
            default:
                let v = u.value
                let allowed = v == 0x9 || v == 0xA || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000
                if allowed { out.unicodeScalars.append(u) } else { out += "\u{FFFD}" }
            }
        }
        return out
    }
}
