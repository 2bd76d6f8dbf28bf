/// What "close enough" means for one output (or for the layers of `--per-layer`).
///
/// An element pair (reference r, candidate c) is **inside** when
///
///     |c − r| ≤ atol + rtol·|r| + ulps·u16(r)
///
/// where u16(r) is the spacing of float16 numbers at |r| (2^(e−10) for |r| in [2^e, 2^(e+1)),
/// e clamped to [−14, 15]; so 2^−24 below the float16 normal range). Two NaNs are equal, and
/// so are two infinities of the same sign; any other pair with a non-finite side is outside.
///
/// The verdict checks, each skipped when its limit is nil:
/// - `maxFractionOutside`: (elements outside) / (elements) ≤ the limit (0: every element inside,
///   which is `numpy.allclose(c, r, rtol, atol)` when ulps is 0);
/// - `minCosine`: cosine similarity ≥ the limit;
/// - `minSNRDB`: signal-to-noise ratio in dB ≥ the limit;
/// - `minTopKAgreement`: mean top-k overlap ≥ the limit (outputs with `topK`).
///
/// `relFloor` is the denominator floor of the relative error, |c − r| / max(|r|, relFloor);
/// nil means atol/rtol (or 1e-12 when rtol or atol is 0). With that default, max_rel ≤ rtol
/// implies every element is inside (when ulps is 0), and every element inside implies
/// max_rel ≤ 2·rtol.
public struct Tolerance: Sendable, Equatable {
    public var rtol: Double
    public var atol: Double
    public var ulps: Double
    public var relFloor: Double?
    public var maxFractionOutside: Double?
    public var minCosine: Double?
    public var minSNRDB: Double?
    /// Marks the output as class scores over its last axis: top-k agreement is computed.
    public var topK: Int?
    public var minTopKAgreement: Double?

    public init(rtol: Double = 0, atol: Double = 0, ulps: Double = 0, relFloor: Double? = nil,
                maxFractionOutside: Double? = 0, minCosine: Double? = nil, minSNRDB: Double? = nil,
                topK: Int? = nil, minTopKAgreement: Double? = nil) {
        self.rtol = rtol
        self.atol = atol
        self.ulps = ulps
        self.relFloor = relFloor
        self.maxFractionOutside = maxFractionOutside
        self.minCosine = minCosine
        self.minSNRDB = minSNRDB
        self.topK = topK
        self.minTopKAgreement = minTopKAgreement
    }

    /// The floor used for max_rel: `relFloor`, or atol/rtol, or 1e-12.
    public var effectiveRelFloor: Double {
        if let relFloor { return relFloor }
        return rtol > 0 && atol > 0 ? atol / rtol : 1e-12
    }

    /// The preset for a candidate of `precision`.
    ///
    /// - float32: rtol 1e-4, atol 1e-5, every element inside (numpy.allclose with those).
    /// - float16: atol 1e-3, 8 float16 ULPs of the reference, every element inside.
    /// - int8: SNR ≥ 20 dB and cosine ≥ 0.99; elements outside rtol 0.05, atol 0.05 are
    ///   counted (reported) but not checked.
    public static func preset(_ precision: Precision) -> Tolerance {
        switch precision {
        case .float32: return Tolerance(rtol: 1e-4, atol: 1e-5, maxFractionOutside: 0)
        case .float16: return Tolerance(rtol: 0, atol: 1e-3, ulps: 8, maxFractionOutside: 0)
        case .int8: return Tolerance(rtol: 0.05, atol: 0.05, maxFractionOutside: nil, minCosine: 0.99, minSNRDB: 20)
        }
    }

    /// Exact equality, for integer and bool outputs under the float32 and float16 presets.
    public static let exact = Tolerance(rtol: 0, atol: 0, maxFractionOutside: 0)

    /// The float16 spacing at |r| (see the type's documentation).
    @inline(__always)
    static func float16Spacing(_ r: Double) -> Double {
        let m = abs(r)
        guard m.isFinite, m > 0 else { return 0x1p-24 }
        let e = min(max(Int(m.exponent), -14), 15)
        return Double(sign: .plus, exponent: e - 10, significand: 1)
    }

    // MARK: Checks

    /// One check of the verdict: the metric's value against its limit.
    public struct Check: Sendable, Equatable {
        /// `fraction_outside`, `cosine`, `snr_db` or `topk_agreement`.
        public let metric: String
        /// "<=" or ">=".
        public let relation: String
        public let limit: Double
        public let value: Double
        public var passed: Bool {
            relation == "<=" ? value <= limit : value >= limit   // NaN fails either way
        }
    }

    /// The checks this tolerance makes on `m`, in a fixed order.
    public func checks(_ m: ErrorMetrics) -> [Check] {
        var out: [Check] = []
        if let limit = maxFractionOutside {
            out.append(Check(metric: "fraction_outside", relation: "<=", limit: limit, value: m.fractionOutside))
        }
        if let limit = minCosine { out.append(Check(metric: "cosine", relation: ">=", limit: limit, value: m.cosine)) }
        if let limit = minSNRDB { out.append(Check(metric: "snr_db", relation: ">=", limit: limit, value: m.snrDB)) }
        if let limit = minTopKAgreement, let v = m.topKAgreement {
            out.append(Check(metric: "topk_agreement", relation: ">=", limit: limit, value: v))
        }
        return out
    }

    /// Whether `m` passes every check.
    public func passes(_ m: ErrorMetrics) -> Bool { checks(m).allSatisfy(\.passed) }

    /// A short text: `rtol 0.0001, atol 1e-05, outside <= 0`.
    public var summary: String {
        var parts: [String] = []
        if rtol != 0 || atol != 0 || ulps == 0 { parts.append("rtol \(fmt(rtol)), atol \(fmt(atol))") }
        if ulps != 0 { parts.append("ulps \(fmt(ulps))") }
        if let v = maxFractionOutside { parts.append("outside <= \(fmt(v))") }
        if let v = minCosine { parts.append("cosine >= \(fmt(v))") }
        if let v = minSNRDB { parts.append("snr >= \(fmt(v)) dB") }
        if let k = topK { parts.append("top-\(k)" + (minTopKAgreement.map { " >= \(fmt($0))" } ?? "")) }
        return parts.joined(separator: ", ")
    }

    private func fmt(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : "\(v)" }

    /// The JSON form (every key present; null for a check that is not made).
    public var json: JSON {
        .object([
            "rtol": .number(rtol), "atol": .number(atol), "ulps": .number(ulps),
            "rel_floor": .number(effectiveRelFloor),
            "max_fraction_outside": .number(maxFractionOutside),
            "min_cosine": .number(minCosine), "min_snr_db": .number(minSNRDB),
            "top_k": topK.map { .int($0) } ?? .null,
            "min_topk_agreement": .number(minTopKAgreement),
        ])
    }

    /// Reads the JSON form back.
    public init?(json: JSON) {
        guard let rtol = json["rtol"]?.doubleValue, let atol = json["atol"]?.doubleValue,
              let ulps = json["ulps"]?.doubleValue, let floor = json["rel_floor"]?.doubleValue else { return nil }
        func opt(_ key: String) -> Double? { json[key]?.doubleValue }
        self.init(rtol: rtol, atol: atol, ulps: ulps, relFloor: floor,
                  maxFractionOutside: opt("max_fraction_outside"), minCosine: opt("min_cosine"),
                  minSNRDB: opt("min_snr_db"), topK: json["top_k"]?.intValue,
                  minTopKAgreement: opt("min_topk_agreement"))
    }
}
