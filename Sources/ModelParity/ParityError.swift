/// Why a parity check could not be made (the CLI prints `description` as one line and
/// exits 2). A check that ran and found differences is not an error: it is a failing report.
public enum ParityError: Error, CustomStringConvertible, Sendable {
    /// The policy file is malformed. `key` is the dotted path of the bad key
    /// (`outputs.probs.rtoll`), `line` its 1-based line when known.
    case policy(file: String, line: Int?, key: String?, reason: String)
    /// A usage problem: conflicting or missing options.
    case usage(String)
    /// A model, sample or report that cannot be read.
    case input(String)
    /// Reference and candidate disagree on an output's shape (or one lacks it).
    case outputMismatch(sample: String, output: String, reason: String)
    /// Shard reports that do not belong together.
    case merge(String)
    /// A report file could not be written (nothing is left at the destination).
    case write(file: String, reason: String)

    public var description: String {
        let text: String
        switch self {
        case .policy(let file, let line, let key, let reason):
            let at = file + (line.map { ":\($0)" } ?? "")
            text = "\(at): " + (key.map { "key '\($0)': " } ?? "") + reason
        case .usage(let s): text = s
        case .input(let s): text = s
        case .outputMismatch(let sample, let output, let reason):
            text = "sample '\(sample)': output '\(output)': \(reason)"
        case .merge(let s): text = "merge: \(s)"
        case .write(let file, let reason): text = "\(file): cannot write: \(reason)"
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
