import Foundation
import Yams

extension TolerancePolicy {
    /// Reads a policy file (YAML). Throws `ParityError.policy` naming the file, the line and
    /// the dotted path of the first bad key: an unknown key, a value of the wrong type or
    /// range, or YAML that does not parse.
    public static func load(path: String) throws(ParityError) -> TolerancePolicy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .policy(file: path, line: nil, key: nil, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .policy(file: path, line: nil, key: nil, reason: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// The top-level keys of a policy file.
    static let topKeys = ["version", "precision", "defaults", "outputs", "layers"]

    /// Parses policy text (see `load`); `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ParityError) -> TolerancePolicy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        } catch {
            throw .policy(file: file, line: nil, key: nil, reason: "\(error)")
        }
        var policy = TolerancePolicy(file: file)
        guard let root else { return policy }  // an empty file: the defaults
        guard let top = root.mapping else {
            throw .policy(file: file, line: root.mark?.line, key: nil, reason: "expected a mapping of \(topKeys.joined(separator: ", "))")
        }
        for (keyNode, value) in top {
            let key = try keyString(keyNode, path: "", file: file)
            switch key {
            case "version":
                guard value.scalar?.string == "1" else {
                    throw .policy(file: file, line: value.mark?.line, key: "version", reason: "only version 1 is known, found '\(value.scalar?.string ?? "a non-scalar")'")
                }
            case "precision":
                guard let s = value.scalar?.string, let p = Precision(rawValue: s) else {
                    throw .policy(file: file, line: value.mark?.line, key: "precision",
                                  reason: "expected one of \(Precision.allCases.map(\.rawValue).joined(separator: ", ")), found '\(value.scalar?.string ?? "a non-scalar")'")
                }
                policy.precision = p
            case "defaults":
                policy.defaults = try override(value, path: "defaults", file: file)
            case "layers":
                policy.layers = try override(value, path: "layers", file: file)
            case "outputs":
                guard let m = value.mapping else {
                    if let s = value.scalar?.string, ["", "~", "null"].contains(s) { continue }
                    throw .policy(file: file, line: value.mark?.line, key: "outputs", reason: "expected a mapping of output names or globs to tolerance keys")
                }
                for (nameNode, body) in m {
                    let name = try keyString(nameNode, path: "outputs.", file: file)
                    if policy.outputs.contains(where: { $0.pattern == name }) {
                        throw .policy(file: file, line: nameNode.mark?.line, key: "outputs.\(name)", reason: "listed twice")
                    }
                    policy.outputs.append((name, try override(body, path: "outputs.\(name)", file: file)))
                }
            default:
                throw .policy(file: file, line: keyNode.mark?.line, key: key,
                              reason: "unknown key (expected one of \(topKeys.joined(separator: ", ")))")
            }
        }
        return policy
    }

    static func keyString(_ node: Node, path: String, file: String) throws(ParityError) -> String {
        guard let s = node.scalar?.string else {
            throw .policy(file: file, line: node.mark?.line, key: path.isEmpty ? nil : String(path.dropLast()), reason: "keys must be plain strings")
        }
        return s
    }

    static func override(_ node: Node, path: String, file: String) throws(ParityError) -> ToleranceOverride {
        var out = ToleranceOverride()
        if let s = node.scalar?.string, ["", "~", "null"].contains(s) {
            return out  // `defaults:` with nothing under it
        }
        guard let m = node.mapping else {
            throw .policy(file: file, line: node.mark?.line, key: path, reason: "expected a mapping of tolerance keys (\(ToleranceKey.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for (keyNode, value) in m {
            let name = try keyString(keyNode, path: path + ".", file: file)
            let dotted = "\(path).\(name)"
            guard let key = ToleranceKey(rawValue: name) else {
                throw .policy(file: file, line: keyNode.mark?.line, key: dotted,
                              reason: "unknown key (expected one of \(ToleranceKey.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let scalar = value.scalar else {
                throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "expected a number")
            }
            let s = scalar.string
            if s == "null" || s == "~" || s.isEmpty {
                guard key.isCheck else {
                    throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "expected a number, found null (only checks can be turned off)")
                }
                out.values[key] = .some(nil)
                continue
            }
            guard let v = Double(s), v.isFinite else {
                throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "expected a number, found '\(s)'")
            }
            switch key {
            case .rtol, .atol, .ulps, .relFloor, .maxFractionOutside:
                guard v >= 0 else { throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "must not be negative, found \(s)") }
                if key == .maxFractionOutside, v > 1 {
                    throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "is a fraction in [0, 1], found \(s)")
                }
                if key == .relFloor, v == 0 {
                    throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "must be positive, found \(s)")
                }
            case .minCosine:
                guard (-1...1).contains(v) else { throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "is a cosine in [-1, 1], found \(s)") }
            case .minTopKAgreement:
                guard (0...1).contains(v) else { throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "is a fraction in [0, 1], found \(s)") }
            case .topK:
                guard v >= 1, v == v.rounded(), v < 1e9 else {
                    throw .policy(file: file, line: value.mark?.line, key: dotted, reason: "expected a positive integer, found \(s)")
                }
            case .minSNRDB:
                break
            }
            out.values[key] = v
        }
        return out
    }

    static func yamlError(_ e: YamlError, file: String) -> ParityError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .policy(file: file, line: mark.line, key: nil, reason: "YAML: \(problem)")
        default:
            return .policy(file: file, line: nil, key: nil, reason: "YAML: \(e)")
        }
    }
}
