import Foundation
import Testing
@testable import ModelParity

/// Expected numbers come from NumPy (the one-liner above each), never from the code under
/// test. Sums run in a different order there (pairwise), so floats compare with an explicit
/// relative tolerance of 1e-12; counts compare exactly.
@Suite("Error metrics against NumPy")
struct MetricsTests {
    static let r: [Double] = [1.0, -2.0, 0.5, 0.0, 3.0]
    static let c: [Double] = [1.1, -2.0, 0.4, 1e-6, 2.5]

    static func metrics(_ r: [Double], _ c: [Double], _ t: Tolerance, lastAxis: Int = 0, histogram: Bool = false) -> ErrorMetrics {
        r.withUnsafeBufferPointer { rb in
            c.withUnsafeBufferPointer { cb in
                ErrorMetrics.compute(reference: rb, candidate: cb, tolerance: t, lastAxis: lastAxis == 0 ? r.count : lastAxis,
                                     histogram: histogram)
            }
        }
    }

    static func close(_ a: Double, _ b: Double, rtol: Double = 1e-12) -> Bool { abs(a - b) <= rtol * abs(b) }

    @Test func basicMetrics() {
        let m = Self.metrics(Self.r, Self.c, .preset(.float32), histogram: true)
        // np.max(np.abs(c-r))
        #expect(Self.close(m.maxAbs, 0.5))
        // np.max(np.abs(c-r)/np.maximum(np.abs(r), 1e-5/1e-4))   (rel_floor = atol/rtol)
        #expect(Self.close(m.maxRel, 0.19999999999999996))
        // np.mean(np.abs(c-r))
        #expect(Self.close(m.meanAbs, 0.14000020000000002))
        // np.sqrt(np.mean((c-r)**2))
        #expect(Self.close(m.rmse, 0.23237900077287535))
        // np.dot(r,c)/np.sqrt(np.sum(r*r)*np.sum(c*c))
        #expect(Self.close(m.cosine, 0.9947168470583467))
        // 10*np.log10(np.sum(r**2)/np.sum((c-r)**2))
        #expect(Self.close(m.snrDB, 17.224511001839332))
        // np.sum(~np.isclose(c, r, rtol=1e-4, atol=1e-5))
        #expect(m.outside == 3)
        #expect(m.count == 5)
        // h=np.abs(c-r); np.sum(h==0), np.histogram(np.log10(h[h>0]), bins=np.arange(-12,3))[0]
        //   -> 1, [0 0 0 0 0 0 1 0 0 0 0 3 0 0]  (bins 2...15 here are those 14 decades)
        #expect(m.histogram == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0])
        #expect(!Tolerance.preset(.float32).passes(m))
    }

    @Test func looserTolerance() {
        // np.sum(~np.isclose(c, r, rtol=0.1, atol=0.05))
        let m = Self.metrics(Self.r, Self.c, Tolerance(rtol: 0.1, atol: 0.05))
        #expect(m.outside == 1)
        #expect(Self.close(m.fractionOutside, 0.2))
        #expect(!Tolerance(rtol: 0.1, atol: 0.05, maxFractionOutside: 0.1).passes(m))
        #expect(Tolerance(rtol: 0.1, atol: 0.05, maxFractionOutside: 0.2).passes(m))
    }

    @Test func topKAgreement() {
        // R=[[0.1,0.5,0.2,0.9],[0.3,0.2,0.1,0.0]]; C=[[0.1,0.6,0.2,0.8],[0.1,0.2,0.3,0.0]]
        // np.mean(np.argmax(R,-1)==np.argmax(C,-1)) -> 0.5
        // np.mean([len(set(np.argsort(-a,kind='stable')[:2])&set(np.argsort(-b,kind='stable')[:2]))/2 for a,b in zip(R,C)]) -> 0.75
        let r = [0.1, 0.5, 0.2, 0.9, 0.3, 0.2, 0.1, 0.0], c = [0.1, 0.6, 0.2, 0.8, 0.1, 0.2, 0.3, 0.0]
        var t = Tolerance(rtol: 1, atol: 1)
        t.topK = 2
        t.minTopKAgreement = 0.8
        let m = Self.metrics(r, c, t, lastAxis: 4)
        #expect(m.top1Agreement == 0.5)
        #expect(m.topKAgreement == 0.75)
        #expect(!t.passes(m))
        t.minTopKAgreement = 0.75
        #expect(t.passes(m))
    }

    @Test func float16ULPs() {
        // r=np.array([1.0,1000.0,0.001,1e-6,-3.0]); d=np.array([0.004,0.6,3e-6,2e-7,0.01])
        // 4*np.spacing(np.abs(r).astype(np.float16)).astype(np.float64)
        //   -> [3.90625e-03, 2.0, 3.814697265625e-06, 2.384185791015625e-07, 7.8125e-03]
        // np.sum(np.abs(d) > that) -> 2
        let r = [1.0, 1000.0, 0.001, 1e-6, -3.0]
        let d = [0.004, 0.6, 3e-6, 2e-7, 0.01]
        let c = zip(r, d).map { $0 + $1 }
        #expect(Tolerance.float16Spacing(1.0) == 0x1p-10)
        #expect(Tolerance.float16Spacing(1000.0) * 4 == 2.0)
        #expect(Tolerance.float16Spacing(1e-6) * 4 == 2.384185791015625e-07)
        let m = Self.metrics(r, c, Tolerance(rtol: 0, atol: 0, ulps: 4))
        #expect(m.outside == 2)
    }

    @Test func nonFinite() {
        // Equal NaNs and equal infinities are inside; a mismatched infinity is outside, as is
        // the finite pair |2-1| > 1e-5 + 1e-4.
        let m = Self.metrics([.nan, .infinity, 1, -.infinity], [.nan, .infinity, 2, .infinity], .preset(.float32))
        #expect(m.outside == 2)
        #expect(m.maxAbs == .infinity)
        #expect(m.snrDB == -.infinity)
        let same = Self.metrics([.nan, 1], [.nan, 1], .preset(.float32))
        #expect(same.outside == 0 && same.maxAbs == 0 && same.snrDB == .infinity && same.cosine == 1)
    }

    @Test func zeroVectors() {
        let m = Self.metrics([0, 0], [0, 0], .preset(.float32))
        #expect(m.cosine == 1 && m.snrDB == .infinity)
        let n = Self.metrics([0, 0], [1, 0], .preset(.float32))
        #expect(n.cosine == 0 && n.snrDB == -.infinity)
    }

    @Test func aggregates() {
        // v = [0.3,0.1,0.7,0.2,0.9,0.05,0.4,0.6,0.8,0.15,0.25,0.35,0.45,0.55,0.65,0.75,0.85,0.95,0.5,0.02]
        // np.percentile(v,95,method='inverted_cdf') -> 0.9;  np.mean(v) -> 0.476;  v.max() -> 0.95
        // -np.percentile(-v,95,method='inverted_cdf') -> 0.05;  v.min() -> 0.02
        let v = [0.3, 0.1, 0.7, 0.2, 0.9, 0.05, 0.4, 0.6, 0.8, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 0.5, 0.02]
        let up = ParityReport.Aggregate(v, largerIsWorse: true)
        #expect(up.worst == 0.95 && up.p95 == 0.9 && Self.close(up.mean, 0.476))
        let down = ParityReport.Aggregate(v, largerIsWorse: false)
        #expect(down.worst == 0.02 && down.p95 == 0.05)
        // v3=[2.0,1.0,3.0]: np.percentile(v3,95,method='inverted_cdf') -> 3.0; -np.percentile(-v3,95,...) -> 1.0
        #expect(ParityReport.Aggregate([2, 1, 3], largerIsWorse: true).p95 == 3)
        #expect(ParityReport.Aggregate([2, 1, 3], largerIsWorse: false).p95 == 1)
    }

    @Test func relFloorBoundsTheAllcloseTest() {
        // With the default floor atol/rtol: max_rel <= rtol implies every element inside, and
        // every element inside implies max_rel <= 2*rtol (see Tolerance).
        let t = Tolerance.preset(.float32)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let r = (0..<16).map { _ in Double.random(in: -2...2, using: &rng) * pow(10, Double(Int.random(in: -6...1, using: &rng))) }
            let c = r.map { $0 + Double.random(in: -3e-4...3e-4, using: &rng) * max(abs($0), 0.1) }
            let m = Self.metrics(r, c, t)
            if m.maxRel <= t.rtol { #expect(m.outside == 0) }
            if m.outside == 0 { #expect(m.maxRel <= 2 * t.rtol) }
        }
    }
}
