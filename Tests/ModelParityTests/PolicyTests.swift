import Testing
@testable import ModelParity

@Suite("Tolerance policy")
struct PolicyTests {
    @Test func presetsByPrecision() {
        let p = TolerancePolicy()
        let f32 = p.tolerance(forOutput: "y", precision: .float32, isFloat: true)
        #expect(f32.rtol == 1e-4 && f32.atol == 1e-5 && f32.maxFractionOutside == 0 && f32.ulps == 0)
        let f16 = p.tolerance(forOutput: "y", precision: .float16, isFloat: true)
        #expect(f16.ulps == 8 && f16.atol == 1e-3)
        let i8 = p.tolerance(forOutput: "y", precision: .int8, isFloat: true)
        #expect(i8.minSNRDB == 20 && i8.minCosine == 0.99 && i8.maxFractionOutside == nil)
        // Integer outputs are compared exactly under the float presets.
        #expect(p.tolerance(forOutput: "idx", precision: .float32, isFloat: false) == .exact)
    }

    @Test func overridesByNameAndGlob() throws {
        let p = try TolerancePolicy.parse("""
            version: 1
            precision: float16
            defaults:
              atol: 2e-3
            outputs:
              "boxes*":
                rtol: 0.01
              boxes_final:
                rtol: 0.5
              "*":
                min_cosine: 0.9
              probs:
                top_k: 5
                min_topk_agreement: 0.8
                max_fraction_outside: null
            layers:
              rtol: 1e-3
            """, file: "p.yaml")
        #expect(p.precision == .float16)
        // An exact name wins over a glob listed before it.
        #expect(p.tolerance(forOutput: "boxes_final", precision: .float32, isFloat: true).rtol == 0.5)
        // The first glob in file order wins among globs.
        let b = p.tolerance(forOutput: "boxes_raw", precision: .float32, isFloat: true)
        #expect(b.rtol == 0.01 && b.atol == 2e-3 && b.minCosine == nil)
        #expect(p.tolerance(forOutput: "other", precision: .float32, isFloat: true).minCosine == 0.9)
        let probs = p.tolerance(forOutput: "probs", precision: .float32, isFloat: true)
        #expect(probs.topK == 5 && probs.minTopKAgreement == 0.8 && probs.maxFractionOutside == nil)
        let layers = p.layerTolerance(precision: .float32)
        #expect(layers.rtol == 1e-3 && layers.atol == 2e-3)
        // fnmatch: '*' crosses '/'.
        #expect(TolerancePolicy.glob("/head/*", matches: "/head/fc/Gemm_output_0"))
        #expect(p.unmatchedPatterns(["probs", "boxes_final"]) == [])
        #expect(TolerancePolicy().unmatchedPatterns(["x"]) == [])
    }

    /// Each malformed policy must be refused with the dotted key (and line) named.
    @Test(arguments: [
        ("outputs:\n  probs:\n    rtoll: 1e-3\n", "outputs.probs.rtoll", 3),
        ("defaults:\n  atol: abc\n", "defaults.atol", 2),
        ("defaults:\n  atol: -1\n", "defaults.atol", 2),
        ("precision: float8\n", "precision", 1),
        ("tolerances:\n  rtol: 1\n", "tolerances", 1),
        ("version: 2\n", "version", 1),
        ("layers:\n  max_fraction_outside: 1.5\n", "layers.max_fraction_outside", 2),
        ("outputs:\n  y:\n    top_k: 2.5\n", "outputs.y.top_k", 3),
        ("defaults:\n  rtol: null\n", "defaults.rtol", 2),
        ("outputs:\n  y: 3\n", "outputs.y", 2),
        ("defaults:\n  rtol: [1, 2]\n", "defaults.rtol", 2),
    ])
    func malformed(text: String, key: String, line: Int) {
        do {
            _ = try TolerancePolicy.parse(text, file: "p.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            guard case .policy(let file, let l, let k, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == "p.yaml")
            #expect(k == key)
            #expect(l == line)
            #expect(error.description.contains("'\(key)'"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func yamlSyntaxErrorNamesLine() {
        do {
            _ = try TolerancePolicy.parse("defaults:\n  rtol: [1,\n", file: "p.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("p.yaml:"))
        }
    }

    @Test func emptyPolicyIsDefaults() throws {
        let p = try TolerancePolicy.parse("", file: "p.yaml")
        #expect(p.tolerance(forOutput: "y", precision: .float32, isFloat: true) == .preset(.float32))
    }
}
