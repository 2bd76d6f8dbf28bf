import Testing
import Foundation
import ModelIR
import ModelONNX
@testable import ModelTensorIO

/// ONNX TensorProto .pb files: written by onnx (fixtures) and the backend test data, as
/// `onnx.numpy_helper.to_array(onnx.load_tensor(path))` reads them.
@Suite("pb")
struct PBTests {
    static var fixtureCases: [String] { Fixtures.section("pb").keys.filter { !$0.hasPrefix("/") }.sorted() }
    static var backendCases: [String] { Fixtures.section("pb").keys.filter { $0.hasPrefix("/") }.sorted() }
    static let hasBackendData = FileManager.default.fileExists(atPath: backendTestData + "/test_abs")

    @Test("fixtures read as onnx says", arguments: fixtureCases)
    func readsFixture(_ key: String) throws {
        try check(key, path: Fixtures.path(key))
    }

    @Test("backend test data reads as onnx says",
          .enabled(if: hasBackendData, "needs Debian's libonnx-testdata"), arguments: backendCases)
    func readsBackendData(_ path: String) throws {
        try check(path, path: path)
    }

    func check(_ key: String, path: String) throws {
        let entry = Fixtures.section("pb")[key] as! [String: Any]
        let tensor = try ONNXTensorFile.read(path: path)
        #expect(tensor.dtype.rawValue == (entry["data_type"] as! NSNumber).int32Value)
        #expect(tensor.dims == (entry["shape"] as! [NSNumber]).map(\.intValue))
        #expect(tensor.name == entry["name"] as! String)
        if let strings = entry["strings_hex"] as? [String] {
            guard case .strings(let s) = tensor.storage else { Issue.record("not a string tensor"); return }
            #expect(s == strings.map(hexBytes))
        } else {
            #expect(tensor.bytes == hexBytes(entry["hex"] as! String))
        }
    }

    @Test func rawDataIsBorrowedFromTheMapping() throws {
        #expect(try ONNXTensorFile.read(path: Fixtures.path("raw_uint16.pb")).isMapped)
        #expect(try !ONNXTensorFile.read(path: Fixtures.path("typed_float32.pb")).isMapped)
    }

    @Test func namesComeFromTheProtoOrTheStem() throws {
        let named = try TensorFiles.read(Fixtures.path("typed_int64.pb"))
        #expect(named.map(\.name) == ["t_i64"])
        let unnamed = try TensorFiles.read(Fixtures.path("noname_int8.pb"))
        #expect(unnamed.map(\.name) == ["noname_int8"])
        #expect(unnamed[0].tensor.name == "noname_int8")
    }

    @Test("sequences and optionals are not TensorProtos", arguments: ["sequence.pb", "optional.pb"])
    func refusesContainers(_ file: String) {
        #expect {
            try ONNXTensorFile.read(path: Fixtures.path(file))
        } throws: { error in
            let text = (error as! ONNXError).description
            return text.hasPrefix(Fixtures.path(file) + ": ") && text.contains("not a TensorProto")
                && text.contains("SequenceProto")
        }
    }

    @Test(.enabled(if: hasBackendData, "needs Debian's libonnx-testdata"))
    func refusesBackendSequenceData() {
        for test in ["test_identity_sequence", "test_optional_get_element_sequence", "test_sequence_insert_at_back",
                     "test_optional_has_element_empty", "test_sequence_map_add_2_sequences"] {
            let path = backendTestData + "/\(test)/test_data_set_0/input_0.pb"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            #expect {
                try ONNXTensorFile.read(path: path)
            } throws: { error in
                (error as! ONNXError).description.contains("it looks like a SequenceProto, OptionalProto or MapProto")
            }
        }
    }

    @Test func writeThenRead() throws {
        let dir = TempDir()
        let sources = ["typed_float32.pb", "bfloat16.pb", "strings.pb", "typed_int64.pb"]
        for file in sources {
            let t = try ONNXTensorFile.read(path: Fixtures.path(file))
            try ONNXTensorFile.write(t, to: dir.file(file))
            let back = try ONNXTensorFile.read(path: dir.file(file))
            #expect(back.isBitwiseEqual(to: t), "\(file)")
            #expect(back.name == t.name)
        }
        #expect(dir.listing() == sources.sorted(), "no temporary file is left behind")
    }

    @Test func garbageNeverCrashes() throws {
        let dir = TempDir()
        var rng = SplitMix64(seed: 3)
        let base = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("typed_float32.pb"))))
        for k in 0..<300 {
            var bytes = base
            if k < 100 {
                bytes = (0..<(k % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                if k % 2 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            }
            dir.write(bytes, "g.pb")
            do {
                try ONNXTensorFile.read(path: dir.file("g.pb")).validate()
            } catch let error as ONNXError {
                #expect(error.description.contains("g.pb"))
            }
        }
    }
}
