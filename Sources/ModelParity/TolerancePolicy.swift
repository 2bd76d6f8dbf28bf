#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tolerance keys as the policy file spells them, in the order they are documented.
public enum ToleranceKey: String, CaseIterable, Sendable {
    case rtol, atol, ulps
    case relFloor = "rel_floor"
    case maxFractionOutside = "max_fraction_outside"
    case minCosine = "min_cosine"
    case minSNRDB = "min_snr_db"
    case topK = "top_k"
    case minTopKAgreement = "min_topk_agreement"

    /// Keys that are checks: `null` turns the check off.
    var isCheck: Bool {
        switch self {
        case .maxFractionOutside, .minCosine, .minSNRDB, .topK, .minTopKAgreement, .relFloor: return true
        default: return false
        }
    }
}

/// A set of tolerance keys given in a policy file; a key set to `null` turns its check off.
public struct ToleranceOverride: Sendable, Equatable {
    public var values: [ToleranceKey: Double?] = [:]

    public init(_ values: [ToleranceKey: Double?] = [:]) { self.values = values }

    /// `base` with these keys replaced.
    public func applied(to base: Tolerance) -> Tolerance {
        var t = base
        for (key, value) in values {
            switch key {
            case .rtol: t.rtol = value ?? 0
            case .atol: t.atol = value ?? 0
            case .ulps: t.ulps = value ?? 0
            case .relFloor: t.relFloor = value
            case .maxFractionOutside: t.maxFractionOutside = value
            case .minCosine: t.minCosine = value
            case .minSNRDB: t.minSNRDB = value
            case .topK: t.topK = value.map { Int($0) }
            case .minTopKAgreement: t.minTopKAgreement = value
            }
        }
        return t
    }
}

/// The tolerance policy: the precision's preset, overridden by a policy file's `defaults`,
/// then by the first matching `outputs` entry (an exact name first, else the first glob in
/// file order). Layers of `--per-layer` use the preset, `defaults`, then `layers`.
///
/// Globs are POSIX `fnmatch` patterns without flags: `*` and `?` also match `/`.
public struct TolerancePolicy: Sendable {
    /// The file it was read from (nil: the built-in defaults).
    public var file: String?
    /// A precision the file fixes (over detection).
    public var precision: Precision?
    public var defaults = ToleranceOverride()
    public var outputs: [(pattern: String, override: ToleranceOverride)] = []
    public var layers = ToleranceOverride()

    public init(file: String? = nil) { self.file = file }

    /// The tolerance for output `name` of a candidate of `precision`. Integer and bool
    /// outputs (`isFloat` false) start from exact equality under the float32 and float16
    /// presets.
    public func tolerance(forOutput name: String, precision: Precision, isFloat: Bool) -> Tolerance {
        var t = isFloat || precision == .int8 ? Tolerance.preset(precision) : Tolerance.exact
        t = defaults.applied(to: t)
        if let entry = outputEntry(for: name) { t = entry.override.applied(to: t) }
        return t
    }

    /// The tolerance for the layers of `--per-layer`.
    public func layerTolerance(precision: Precision) -> Tolerance {
        layers.applied(to: defaults.applied(to: Tolerance.preset(precision)))
    }

    /// The `outputs` entry that applies to `name`: an exact match, else the first glob that matches.
    public func outputEntry(for name: String) -> (pattern: String, override: ToleranceOverride)? {
        if let exact = outputs.first(where: { $0.pattern == name }) { return exact }
        return outputs.first { Self.isGlob($0.pattern) && Self.glob($0.pattern, matches: name) }
    }

    /// The `outputs` patterns that match none of `names` (likely typos; reported as warnings).
    public func unmatchedPatterns(_ names: [String]) -> [String] {
        outputs.map(\.pattern).filter { p in !names.contains { $0 == p || (Self.isGlob(p) && Self.glob(p, matches: $0)) } }
    }

    static func isGlob(_ p: String) -> Bool { p.contains { "*?[".contains($0) } }

    /// POSIX fnmatch(3) with no flags.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
