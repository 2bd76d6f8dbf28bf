import Testing
import Foundation
import ModelIR
import ModelONNX

/// Every model of Debian's libonnx-testdata, imported and exported again, must still pass
/// libonnx's checker whenever the original does (onnxruntime's bit-identical outputs for
/// the same round trip are checked by Tests/oracle).
@Suite("libonnx checker accepts round-tripped backend test models")
struct TestDataCheckerTests {
    static let suites = ["node", "pytorch-converted", "pytorch-operator", "simple"]

    @Test(.enabled(if: FileManager.default.fileExists(atPath: testData), "needs Debian libonnx-testdata"),
          arguments: suites)
    func roundTripPassesTheChecker(suite: String) throws {
        let dir = TempDir()
        let cases = try FileManager.default.contentsOfDirectory(atPath: testData + "/" + suite).sorted()
        var passed = 0, excluded: [String] = [], failures: [String] = []
        for name in cases {
            let source = "\(testData)/\(suite)/\(name)/model.onnx"
            guard FileManager.default.fileExists(atPath: source) else { continue }
            let model = try ONNXImporter.load(path: source)
            let original = ONNXChecker.check(path: source, model: model)
            guard original == .passed else {
                excluded.append("\(name): original \(original)")
                continue
            }
            let out = dir.file("\(name).onnx")
            try ONNXExporter.write(model, to: out)
            let result = ONNXChecker.check(path: out, model: try ONNXImporter.load(path: out))
            if result == .passed { passed += 1 } else { failures.append("\(name): \(result)") }
        }
        print("checker round trip \(suite): \(passed) passed / \(passed + excluded.count + failures.count) total, "
              + "\(excluded.count) excluded (the original fails libonnx's checker), \(failures.count) failed")
        for e in excluded { print("  excluded \(e)") }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
        #expect(passed > 0)
    }
}
