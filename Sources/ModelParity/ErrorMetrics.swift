#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a candidate tensor is from its reference, element by element (both read as
/// Double, in C order). With d = c − r over the `count` elements:
///
/// - `maxAbs` = max |d|;
/// - `maxRel` = max |d| / max(|r|, rel_floor) (the tolerance's `effectiveRelFloor`);
/// - `meanAbs` = Σ|d| / count;  `rmse` = sqrt(Σd² / count);
/// - `cosine` = Σ r·c / sqrt(Σr² · Σc²), 1 when both are all zeros, 0 when one is;
/// - `snrDB` = 10·log10(Σr² / Σd²): +inf when d is all zeros, −inf when r is but d is not;
/// - `outside` = elements outside atol + rtol·|r| + ulps·u16(r) (see `Tolerance`);
/// - for class scores (`Tolerance.topK` = k), over the rows of the last axis: `top1Agreement`
///   = the fraction of rows whose arg-max agrees, `topKAgreement` = the mean over rows of
///   |top-k(r) ∩ top-k(c)| / k (ties go to the lower index, k capped at the row length);
/// - `histogram`: counts of |d| in the bins of `histogramEdges`.
///
/// Non-finite values: a pair of NaNs, or of equal infinities, is equal (d = 0) and left out
/// of every sum; any other pair with a non-finite side is outside and makes `maxAbs`,
/// `maxRel`, `meanAbs` and `rmse` +inf and `snrDB` −inf (`cosine` uses the finite pairs).
/// Sums run in element order in Double, so the numbers are the same on every run.
public struct ErrorMetrics: Sendable, Equatable {
    public var count: Int
    public var maxAbs: Double
    public var maxRel: Double
    public var meanAbs: Double
    public var rmse: Double
    public var cosine: Double
    public var snrDB: Double
    public var outside: Int
    public var top1Agreement: Double?
    public var topKAgreement: Double?
    /// Counts per bin of `histogramEdges` (empty when not collected).
    public var histogram: [Int]

    public var fractionOutside: Double { count == 0 ? 0 : Double(outside) / Double(count) }

    public init(count: Int, maxAbs: Double, maxRel: Double, meanAbs: Double, rmse: Double, cosine: Double,
                snrDB: Double, outside: Int, top1Agreement: Double? = nil, topKAgreement: Double? = nil,
                histogram: [Int] = []) {
        self.count = count
        self.maxAbs = maxAbs
        self.maxRel = maxRel
        self.meanAbs = meanAbs
        self.rmse = rmse
        self.cosine = cosine
        self.snrDB = snrDB
        self.outside = outside
        self.top1Agreement = top1Agreement
        self.topKAgreement = topKAgreement
        self.histogram = histogram
    }

    /// The bins of the |d| histogram: bin 0 is exactly 0; bin 1 is (0, 1e-12); bins 2...15
    /// are the decades [1e-12, 1e-11) ... [10, 100); bin 16 is [100, inf); bin 17 counts the
    /// non-finite mismatches. These are the labels.
    public static let histogramEdges: [String] = ["0", "<1e-12"] + (-12...1).map { "1e\($0)" } + [">=1e2", "non-finite"]

    static func histogramBin(_ d: Double) -> Int {
        if d == 0 { return 0 }
        if !d.isFinite { return 17 }
        let e = Int(log10(d).rounded(.down))
        if e < -12 { return 1 }
        if e >= 2 { return 16 }
        return e + 14
    }

    /// Compares `candidate` with `reference` (same count, C order). `rows` is the length of
    /// the last axis (for top-k). Throws nothing: shapes are checked by the caller.
    public static func compute(reference r: UnsafeBufferPointer<Double>, candidate c: UnsafeBufferPointer<Double>,
                               tolerance: Tolerance, lastAxis: Int, histogram collectHistogram: Bool) -> ErrorMetrics {
        precondition(r.count == c.count)
        let n = r.count
        let floor = tolerance.effectiveRelFloor
        var maxAbs = 0.0, maxRel = 0.0, sumAbs = 0.0, sumSq = 0.0
        var rr = 0.0, cc = 0.0, rc = 0.0
        var outside = 0, mismatched = 0
        var hist = [Int](repeating: 0, count: collectHistogram ? histogramEdges.count : 0)
        let rtol = tolerance.rtol, atol = tolerance.atol, ulps = tolerance.ulps
        for i in 0..<n {
            let a = r[i], b = c[i]
            if !a.isFinite || !b.isFinite {
                let same = (a.isNaN && b.isNaN) || (a == b)
                if same {
                    if collectHistogram { hist[0] += 1 }
                } else {
                    mismatched += 1
                    outside += 1
                    if collectHistogram { hist[17] += 1 }
                }
                continue
            }
            let d = b - a
            let ad = abs(d)
            let ar = abs(a)
            if ad > maxAbs { maxAbs = ad }
            let rel = ad / max(ar, floor)
            if rel > maxRel { maxRel = rel }
            sumAbs += ad
            sumSq += d * d
            rr += a * a
            cc += b * b
            rc += a * b
            var bound = atol + rtol * ar
            if ulps != 0 { bound += ulps * Tolerance.float16Spacing(a) }
            if ad > bound { outside += 1 }
            if collectHistogram { hist[histogramBin(ad)] += 1 }
        }
        let cosine: Double
        if rr == 0 && cc == 0 { cosine = 1 } else if rr == 0 || cc == 0 { cosine = 0 } else { cosine = rc / (rr * cc).squareRoot() }
        var m = ErrorMetrics(count: n, maxAbs: maxAbs, maxRel: maxRel,
                             meanAbs: n == 0 ? 0 : sumAbs / Double(n), rmse: n == 0 ? 0 : (sumSq / Double(n)).squareRoot(),
                             cosine: cosine, snrDB: snr(signal: rr, noise: sumSq), outside: outside, histogram: hist)
        if mismatched > 0 {
            m.maxAbs = .infinity
            m.maxRel = .infinity
            m.meanAbs = .infinity
            m.rmse = .infinity
            m.snrDB = -.infinity
        }
        if let k = tolerance.topK, k > 0 {
            let (top1, topk) = topKAgreement(r, c, k: k, rowLength: max(lastAxis, 1))
            m.top1Agreement = top1
            m.topKAgreement = topk
        }
        return m
    }

    static func snr(signal: Double, noise: Double) -> Double {
        if noise == 0 { return .infinity }
        if signal == 0 { return -.infinity }
        return 10 * log10(signal / noise)
    }

    /// (top-1 agreement, mean top-k overlap) over rows of `rowLength`.
    static func topKAgreement(_ r: UnsafeBufferPointer<Double>, _ c: UnsafeBufferPointer<Double>,
                              k: Int, rowLength: Int) -> (Double, Double) {
        let rows = r.count / rowLength
        guard rows > 0 else { return (1, 1) }
        let kk = min(k, rowLength)
        var agree1 = 0, overlap = 0.0
        for row in 0..<rows {
            let base = row * rowLength
            let a = topIndices(r, base: base, length: rowLength, k: kk)
            let b = topIndices(c, base: base, length: rowLength, k: kk)
            if a.first == b.first { agree1 += 1 }
            overlap += Double(Set(a).intersection(b).count) / Double(kk)
        }
        return (Double(agree1) / Double(rows), overlap / Double(rows))
    }

    /// The indices of the k largest values (NaN lowest; ties to the lower index), largest first.
    static func topIndices(_ x: UnsafeBufferPointer<Double>, base: Int, length: Int, k: Int) -> [Int] {
        func key(_ i: Int) -> Double { x[base + i].isNaN ? -.infinity : x[base + i] }
        return (0..<length).sorted { key($0) != key($1) ? key($0) > key($1) : $0 < $1 }.prefix(k).map { $0 }
    }

    // MARK: JSON

    public var json: JSON {
        var o: [String: JSON] = [
            "count": .int(count), "max_abs": .number(maxAbs), "max_rel": .number(maxRel),
            "mean_abs": .number(meanAbs), "rmse": .number(rmse), "cosine": .number(cosine),
            "snr_db": .number(snrDB), "outside": .int(outside), "fraction_outside": .number(fractionOutside),
        ]
        if let v = top1Agreement { o["top1_agreement"] = .number(v) }
        if let v = topKAgreement { o["topk_agreement"] = .number(v) }
        if !histogram.isEmpty { o["histogram"] = .array(histogram.map { .int($0) }) }
        return .object(o)
    }

    public init?(json: JSON) {
        guard let count = json["count"]?.intValue, let maxAbs = json["max_abs"]?.doubleValue,
              let maxRel = json["max_rel"]?.doubleValue, let meanAbs = json["mean_abs"]?.doubleValue,
              let rmse = json["rmse"]?.doubleValue, let cosine = json["cosine"]?.doubleValue,
              let snr = json["snr_db"]?.doubleValue, let outside = json["outside"]?.intValue else { return nil }
        let hist = json["histogram"]?.arrayValue?.compactMap(\.intValue) ?? []
        self.init(count: count, maxAbs: maxAbs, maxRel: maxRel, meanAbs: meanAbs, rmse: rmse, cosine: cosine,
                  snrDB: snr, outside: outside, top1Agreement: json["top1_agreement"]?.doubleValue,
                  topKAgreement: json["topk_agreement"]?.doubleValue, histogram: hist)
    }

    /// The metrics named in reports, with whether a larger value is worse.
    public static let names: [(key: String, largerIsWorse: Bool)] = [
        ("max_abs", true), ("max_rel", true), ("mean_abs", true), ("rmse", true),
        ("cosine", false), ("snr_db", false), ("fraction_outside", true),
        ("top1_agreement", false), ("topk_agreement", false),
    ]

    /// The value of a metric by its report name (nil for an absent top-k metric).
    public func value(_ key: String) -> Double? {
        switch key {
        case "max_abs": return maxAbs
        case "max_rel": return maxRel
        case "mean_abs": return meanAbs
        case "rmse": return rmse
        case "cosine": return cosine
        case "snr_db": return snrDB
        case "fraction_outside": return fractionOutside
        case "top1_agreement": return top1Agreement
        case "topk_agreement": return topKAgreement
        default: return nil
        }
    }
}
