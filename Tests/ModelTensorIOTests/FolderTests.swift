import Testing
import Foundation
import ModelIR
import ModelONNX
@testable import ModelTensorIO

/// TensorFolder (backend test layout, folders of .npy) and the TensorFiles entry point.
@Suite("folders and dispatch")
struct FolderTests {
    @Test(.enabled(if: PBTests.hasBackendData, "needs Debian's libonnx-testdata"))
    func backendTestCase() throws {
        let dir = backendTestData + "/test_abs/test_data_set_0"
        let all = try TensorFolder.read(dir)
        #expect(all.map(\.name) == ["x", "y"], "input_0.pb then output_0.pb, named by their TensorProtos")
        let inputs = try TensorFolder.read(dir, prefix: "input")
        #expect(inputs.map(\.name) == ["x"])
        let expected = Fixtures.section("pb")[dir + "/input_0.pb"] as! [String: Any]
        #expect(inputs[0].tensor.bytes == hexBytes(expected["hex"] as! String))
        #expect(try TensorFiles.read(dir).map(\.name) == ["x", "y"])
    }

    @Test func numericOrderAndIgnoredEntries() throws {
        let dir = TempDir()
        for k in [0, 1, 2, 10, 11, 3] {
            let t = try Tensor(dtype: .int32, dims: [1], storage: .owned([UInt8(k), 0, 0, 0]), name: "in\(k)")
            try ONNXTensorFile.write(t, to: dir.file("input_\(k).pb"))
        }
        let out = try Tensor(dtype: .int8, dims: [], storage: .owned([9]))
        try NPYFile.write(out, to: dir.file("output_0.npy"))
        try NPYFile.write(out, to: dir.file(".hidden.npy"))
        dir.write(Array("notes".utf8), "README.txt")
        try FileManager.default.createDirectory(atPath: dir.file("sub.npy"), withIntermediateDirectories: false)

        let inputs = try TensorFolder.read(dir.path, prefix: "input")
        #expect(inputs.map(\.name) == ["in0", "in1", "in2", "in3", "in10", "in11"])
        #expect(inputs.map { $0.tensor.bytes[0] } == [0, 1, 2, 3, 10, 11])
        let all = try TensorFolder.read(dir.path)
        #expect(all.map(\.name) == ["in0", "in1", "in2", "in3", "in10", "in11", "output_0"])
        #expect(try TensorFolder.read(dir.path, prefix: "output").map(\.name) == ["output_0"])
        #expect {
            try TensorFolder.read(dir.path, prefix: "label")
        } throws: { error in
            (error as! TensorFileError).description.contains("'label_<N>.pb'")
        }
    }

    @Test func naturalOrder() {
        let names = ["b10.npy", "a.npy", "b2.npy", "b02x.npy", "input_10.pb", "input_9.pb", "B.npy"]
        #expect(names.sorted(by: TensorFolder.naturalOrder)
                == ["B.npy", "a.npy", "b2.npy", "b02x.npy", "b10.npy", "input_9.pb", "input_10.pb"])
    }

    @Test func folderOfNPYRoundTrip() throws {
        let dir = TempDir()
        let tensors: [(name: String, tensor: Tensor)] = [
            ("logits", try NPYFile.read(path: Fixtures.path("float16.npy"))),
            ("ids", try NPYFile.read(path: Fixtures.path("uint64.npy"))),
        ]
        try TensorFiles.write(tensors, to: dir.file("outputs") + "/")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.file("outputs"))) == ["logits.npy", "ids.npy"])
        let back = try TensorFiles.read(dir.file("outputs"))
        #expect(back.map(\.name) == ["ids", "logits"])
        #expect(back[0].tensor.isBitwiseEqual(to: tensors[1].tensor))
        #expect(back[1].tensor.isBitwiseEqual(to: tensors[0].tensor))
    }

    @Test func folderNamesMustBeFileNames() throws {
        let dir = TempDir()
        let t = try NPYFile.read(path: Fixtures.path("int8.npy"))
        for bad in ["/model/Conv_output_0", "..", "a\\b", ""] {
            #expect {
                try TensorFolder.write([(bad, t)], to: dir.path)
            } throws: { error in
                guard case .unsafeName(_, let name, _) = error as? TensorFileError else { return false }
                return name == bad
            }
        }
        #expect(dir.listing().isEmpty)
    }

    @Test func dispatchByExtension() throws {
        #expect(try TensorFiles.read(Fixtures.path("int16.npy")).map(\.name) == ["int16"])
        #expect(try TensorFiles.read(Fixtures.path("savez.npz")).count == 5)
        #expect(try TensorFiles.read(Fixtures.path("strings.pb")).map(\.name) == ["t_str"])
        #expect {
            try TensorFiles.read(Fixtures.path("manifest.json"))
        } throws: { error in
            guard case .unsupported(let f, nil, let r) = error as? TensorFileError else { return false }
            return f.hasSuffix("manifest.json") && r.contains(".json")
        }
        #expect {
            try TensorFiles.read("/nonexistent/x.npy")
        } throws: { error in
            if case .unreadable("/nonexistent/x.npy", _) = error as? TensorFileError { return true }
            return false
        }
    }

    @Test func writeDispatch() throws {
        let dir = TempDir()
        let a = try NPYFile.read(path: Fixtures.path("int32.npy"))
        let b = try NPYFile.read(path: Fixtures.path("bool.npy"))
        try TensorFiles.write([("a", a)], to: dir.file("a.npy"))
        try TensorFiles.write([("renamed", a)], to: dir.file("a.pb"))
        try TensorFiles.write([("a", a), ("b", b)], to: dir.file("ab.npz"), compressed: true)
        #expect(throws: TensorFileError.self) { try TensorFiles.write([("a", a), ("b", b)], to: dir.file("two.npy")) }
        #expect(throws: TensorFileError.self) { try TensorFiles.write([("a", a)], to: dir.file("a.txt")) }
        #expect(dir.listing() == ["a.npy", "a.pb", "ab.npz"])
        #expect(try TensorFiles.read(dir.file("a.pb")).map(\.name) == ["renamed"])
        #expect(try TensorFiles.read(dir.file("ab.npz")).map(\.name) == ["a", "b"])
        #expect(try TensorFiles.read(dir.file("a.npy"))[0].tensor.isBitwiseEqual(to: a))
    }

    @Test func errorsAreOneLineNamingTheFile() {
        let cases: [TensorFileError] = [
            .unreadable(file: "f.npy", reason: "No such file or directory"),
            .malformed(file: "f.npz", member: "x.npy", reason: "bad"),
            .unsupported(file: "f.npy", member: nil, reason: "object array"),
            .tooLarge(file: "f.npz", member: "x.npy", reason: "big"),
            .unsafeName(file: "f.npz", name: "../x", reason: "dots"),
            .cannotWrite(file: "f.npy", tensor: "w", reason: "bfloat16"),
            .writeFailed(file: "f.npz", reason: "disk full"),
            .onnx(.unreadable(file: "f.pb", reason: "not a TensorProto")),
        ]
        for e in cases {
            #expect(e.description.hasPrefix("f."), "\(e)")
            #expect(!e.description.contains("\n"))
        }
        #expect(cases[1].description == "f.npz: member 'x.npy': malformed: bad")
        let hostile = TensorFileError.malformed(file: "f.npz", member: "a\nb\r\u{2028}.npy", reason: "x")
        #expect(hostile.description == "f.npz: member 'a\\u{A}b\\u{D}\\u{2028}.npy': malformed: x")
    }

    @Test func namesFromAFileCannotBreakTheLine() throws {
        let dir = TempDir()
        let t = try NPYFile.read(path: Fixtures.path("int32.npy"))
        try NPZFile.write([("line\nbreak", t)], to: dir.file("n.npz"))
        var options = TensorReadOptions()
        options.maxNPZBytes = 10
        #expect {
            try NPZFile.read(path: dir.file("n.npz"), options: options)
        } throws: { error in
            let text = (error as! TensorFileError).description
            return !text.contains("\n") && text.contains("line\\u{A}break.npy")
        }
    }
}
