import Foundation
import ModelIR

/// Fixtures written by make-fixtures.py (NumPy and onnx as the oracle), located from this
/// source file so no resource bundle is needed.
enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { dir + "/" + name }

    /// manifest.json: what NumPy says each fixture holds.
    /// (Parsed once, never mutated: JSONSerialization values are not Sendable.)
    nonisolated(unsafe) static let manifest: [String: Any] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: path("manifest.json")))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    /// One array as NumPy described it.
    struct Expected {
        let dtype: String
        let shape: [Int]
        let bytes: [UInt8]
        /// The header numpy.save writes for the little-endian C-order array (nil for .pb).
        let header: [UInt8]?

        init(_ json: Any) {
            let d = json as! [String: Any]
            dtype = d["dtype"] as? String ?? ""
            shape = (d["shape"] as! [Any]).map { ($0 as! NSNumber).intValue }
            bytes = hexBytes(d["hex"] as? String ?? "")
            header = (d["header_hex"] as? String).map(hexBytes)
        }
    }

    static func section(_ name: String) -> [String: Any] { manifest[name] as! [String: Any] }

    static var npy: [(file: String, expected: Expected)] {
        section("npy").map { ($0.key, Expected($0.value)) }.sorted { $0.file < $1.file }
    }

    /// Fixture file -> a word the refusal must contain.
    static var refused: [(file: String, mention: String)] {
        (section("refused") as! [String: String]).map { ($0.key, $0.value) }.sorted { $0.file < $1.file }
    }
}

func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count / 2)
    var it = s.utf8.makeIterator()
    while let hi = it.next(), let lo = it.next() {
        out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
    }
    return out
}

extension Tensor {
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// A fresh temporary folder, removed when the test ends.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "modelconv-tensorio-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    /// Every entry in the folder (hidden ones included), sorted.
    func listing() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func write(_ bytes: [UInt8], _ name: String) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
    }
    func contents(_ name: String) -> [UInt8] {
        Array((try? Data(contentsOf: URL(fileURLWithPath: file(name)))) ?? Data())
    }
}

/// The oracle's Python (numpy, onnx): $PY, else the venv scripts/lib/python-env.sh makes.
enum Oracle {
    static let python: String? = {
        let env = ProcessInfo.processInfo.environment
        let cache = env["MODELCONV_CACHE"] ?? (NSHomeDirectory() + "/.cache/modelconv")
        for candidate in [env["PY"], cache + "/venv/bin/python"].compactMap({ $0 }) {
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Runs `script` with the oracle Python and `arguments`; returns (exit status, stdout+stderr).
    static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python!)
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

let backendTestData = "/usr/share/libonnx-testdata/data/node"
