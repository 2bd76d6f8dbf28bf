import Foundation

extension ParityReport {
    /// Combines shard reports into the report a single run over all samples gives (its
    /// `timing` holds each shard's timing under `shard<I>.<key>`).
    ///
    /// The shards must agree on everything but the shard and its samples: the same models,
    /// samples, policy, tolerances, outputs and layer matches. Together their samples must
    /// be each sample index in 0..<count exactly once. Throws `.merge` naming the first
    /// disagreement, or the sample indices that are missing or repeated.
    public static func merge(_ parts: [(file: String, report: ParityReport)]) throws(ParityError) -> ParityReport {
        guard let first = parts.first else { throw .merge("no reports given") }
        var run = first.report.run
        run.shard = nil
        for (file, r) in parts.dropFirst() {
            var other = r.run
            other.shard = nil
            if other != run {
                let mine = run.json.objectValue ?? [:], theirs = other.json.objectValue ?? [:]
                let key = mine.keys.sorted().first { mine[$0] != theirs[$0] } ?? "run"
                throw .merge("\(file) and \(first.file) come from different runs: 'run.\(key)' differs")
            }
            if r.outputs != first.report.outputs {
                throw .merge("\(file) and \(first.file) compare different outputs or tolerances")
            }
            if r.layers != first.report.layers {
                throw .merge("\(file) and \(first.file) differ in their per-layer setup (tolerance or matched layers)")
            }
        }
        var seen: [Int: String] = [:]
        var samples: [SampleRecord] = []
        for (file, r) in parts {
            for s in r.samples {
                if let other = seen[s.index] {
                    throw .merge("sample \(s.index) is in both \(other) and \(file)")
                }
                guard s.index >= 0, s.index < run.sampleCount else {
                    throw .merge("\(file): sample index \(s.index) is outside 0..<\(run.sampleCount)")
                }
                seen[s.index] = file
                samples.append(s)
            }
        }
        let missing = (0..<run.sampleCount).filter { seen[$0] == nil }
        if !missing.isEmpty {
            let shown = missing.prefix(10).map(String.init).joined(separator: ", ")
            throw .merge("\(missing.count) of \(run.sampleCount) samples are in no report (\(shown)\(missing.count > 10 ? ", ..." : "")): is a shard missing?")
        }
        samples.sort { $0.index < $1.index }
        var notes: [String] = []
        for (_, r) in parts { for n in r.notes where !notes.contains(n) { notes.append(n) } }
        var timing: [String: Double] = [:]
        for (_, r) in parts {
            let tag = r.run.shard.map { "shard\($0.index)" } ?? "part"
            for (k, v) in r.timing { timing["\(tag).\(k)"] = v }
        }
        return ParityReport(run: run, outputs: first.report.outputs, layers: first.report.layers, samples: samples,
                            notes: notes, timing: timing)
    }

    /// Reads a report file for `merge`.
    public static func read(path: String) throws(ParityError) -> ParityReport {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .input("\(path): cannot read: \(error.localizedDescription)")
        }
        let json: JSON
        do {
            json = try JSON.parse(text)
        } catch {
            throw .input("\(path): \(error)")
        }
        return try ParityReport(json: json, file: path)
    }
}
