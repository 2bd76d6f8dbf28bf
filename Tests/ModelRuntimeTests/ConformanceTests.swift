import Testing
import Foundation
import ModelIR
import ModelOps
import ModelRuntime

/// The ONNX backend conformance suite through the interpreter. Cases come from Debian's
/// libonnx-testdata and, when `scripts/gen-node-tests` has written them, the newer node
/// tests of the current onnx wheel. `conformance-expectations.txt` lists every case as
/// `pass` or `skip <reason>`; a listed pass that fails is a regression. Run with
/// MODELCONV_UPDATE_EXPECTATIONS=1 to rewrite the file from the current results.
@Suite("ONNX backend conformance", .serialized)
struct ConformanceTests {
    static let testData = "/usr/share/libonnx-testdata/data"

    /// (key "suite/case", folder) for every case present on this machine.
    static func cases() -> [(String, String)] {
        var out: [(String, String)] = []
        let fm = FileManager.default
        for suite in ["node", "pytorch-converted", "pytorch-operator", "simple"] {
            let dir = testData + "/" + suite
            for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            where fm.fileExists(atPath: "\(dir)/\(name)/model.onnx") {
                out.append(("\(suite)/\(name)", "\(dir)/\(name)"))
            }
        }
        if let newer = ProcessInfo.processInfo.environment["MODELCONV_NODE_TESTS"] ?? defaultNodeTests(),
           let names = try? fm.contentsOfDirectory(atPath: newer) {
            for name in names.sorted() where fm.fileExists(atPath: "\(newer)/\(name)/model.onnx") {
                out.append(("onnx-node/\(name)", "\(newer)/\(name)"))
            }
        }
        return out
    }

    /// `${MODELCONV_CACHE:-~/.cache/modelconv}/onnx-node-tests/<version>/node`, if generated.
    static func defaultNodeTests() -> String? {
        let env = ProcessInfo.processInfo.environment
        let cache = env["MODELCONV_CACHE"] ?? (NSHomeDirectory() + "/.cache/modelconv")
        let root = cache + "/onnx-node-tests"
        guard let versions = try? FileManager.default.contentsOfDirectory(atPath: root) else { return nil }
        return versions.sorted().last.map { "\(root)/\($0)/node" }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: testData), "needs Debian libonnx-testdata"))
    func conformance() throws {
        let expectations = Conformance.loadExpectations()
        var results: [(String, Conformance.Outcome)] = []
        // MODELCONV_CONFORMANCE_FILTER=a,b runs only cases whose key contains a or b;
        // MODELCONV_CONFORMANCE_VERBOSE=1 prints every case that does not pass, with its reason.
        let env = ProcessInfo.processInfo.environment
        let filters = (env["MODELCONV_CONFORMANCE_FILTER"] ?? "").split(separator: ",").map(String.init)
        for (key, dir) in Self.cases() where filters.isEmpty || filters.contains(where: { key.contains($0) }) {
            let outcome = Conformance.run(caseDirectory: dir)
            if env["MODELCONV_CONFORMANCE_VERBOSE"] == "1", let reason = outcome.reason { print("FAIL \(key): \(reason)") }
            results.append((key, outcome))
        }
        var regressions: [String] = [], newPasses: [String] = []
        var tally: [String: (pass: Int, total: Int)] = [:]
        for (key, outcome) in results {
            let suite = String(key.split(separator: "/")[0])
            tally[suite, default: (0, 0)].total += 1
            if outcome == .pass { tally[suite, default: (0, 0)].pass += 1 }
            let listed = expectations[key]
            if listed == "pass", let reason = outcome.reason { regressions.append("\(key): \(reason)") }
            if outcome == .pass && listed != "pass" { newPasses.append(key) }
        }
        for suite in tally.keys.sorted() {
            let t = tally[suite]!
            print("conformance \(suite): \(t.pass) passed / \(t.total)")
        }
        // Issue 3's goal counts the cases that are not training, string or sequence/optional.
        var goal = (pass: 0, total: 0)
        var excluded: [Conformance.Kind: (pass: Int, total: Int)] = [:]
        let directories = Dictionary(Self.cases(), uniquingKeysWith: { a, _ in a })
        for (key, outcome) in results {
            let kind = Conformance.kind(caseDirectory: directories[key] ?? "")
            if kind == .tensor {
                goal.total += 1
                if outcome == .pass { goal.pass += 1 }
            } else {
                excluded[kind, default: (0, 0)].total += 1
                if outcome == .pass { excluded[kind, default: (0, 0)].pass += 1 }
            }
        }
        if goal.total > 0 {
            print("conformance goal set (not training, string or sequence/optional): \(goal.pass) passed / \(goal.total) = "
                  + String(format: "%.1f%%", 100 * Double(goal.pass) / Double(goal.total)))
        }
        for (kind, t) in excluded.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            print("conformance excluded from the goal, \(kind.rawValue): \(t.pass) passed / \(t.total)")
        }
        let passed = results.filter { $0.1 == .pass }.count
        print("conformance: \(passed) passed / \(results.count) total; \(newPasses.count) pass but are not listed as pass; \(regressions.count) regressions")
        if env["MODELCONV_UPDATE_EXPECTATIONS"] == "1" && filters.isEmpty {
            var lines = ["# ONNX backend conformance expectations: `suite/case pass` or `suite/case skip <reason>`.",
                         "# Regenerate: MODELCONV_UPDATE_EXPECTATIONS=1 swift test --filter ConformanceTests"]
            for (key, outcome) in results {
                let reason = (outcome.reason ?? "").replacingOccurrences(of: "\n", with: " ")
                lines.append(outcome == .pass ? "\(key) pass" : "\(key) skip \(reason)")
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: Conformance.expectationsPath, atomically: true, encoding: .utf8)
            print("rewrote \(Conformance.expectationsPath)")
        }
        #expect(regressions.isEmpty, "\(regressions.count) listed passes fail:\n\(regressions.prefix(30).joined(separator: "\n"))")
    }
}
