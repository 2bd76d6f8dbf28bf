import Testing
import Foundation
import ModelIR
@testable import ModelTensorIO

/// .npz archives from numpy.savez / savez_compressed, modelconv's own, and hostile ones.
@Suite("npz")
struct NPZTests {
    @Test("numpy.savez and savez_compressed read as NumPy says", arguments: ["savez.npz", "savez_compressed.npz"])
    func readsNumPyArchives(_ file: String) throws {
        let entry = Fixtures.section("npz")[file] as! [String: Any]
        let order = entry["order"] as! [String]
        let members = entry["members"] as! [String: Any]
        let tensors = try NPZFile.read(path: Fixtures.path(file))
        #expect(tensors.map(\.name) == order)
        for (name, tensor) in tensors {
            let expected = Fixtures.Expected(members[name]!)
            #expect(tensor.dtype.description == expected.dtype, "\(name)")
            #expect(tensor.dims == expected.shape, "\(name)")
            #expect(tensor.bytes == expected.bytes, "\(name)")
            #expect(tensor.name == name)
        }
    }

    func sample() throws -> [(name: String, tensor: Tensor)] {
        [
            ("x", try NPYFile.read(path: Fixtures.path("float32.npy"))),
            ("/encoder/Add_output_0", try NPYFile.read(path: Fixtures.path("int64.npy"))),
            ("s", try NPYFile.read(path: Fixtures.path("scalar_float32.npy"))),
            ("e", try NPYFile.read(path: Fixtures.path("empty_int8.npy"))),
            ("be", try NPYFile.read(path: Fixtures.path("be_complex128.npy"))),
        ]
    }

    @Test("write then read back", arguments: [false, true])
    func roundTrip(compressed: Bool) throws {
        let dir = TempDir()
        let tensors = try sample()
        try NPZFile.write(tensors, to: dir.file("t.npz"), compressed: compressed)
        let back = try NPZFile.read(path: dir.file("t.npz"))
        #expect(back.map(\.name) == tensors.map(\.name))
        for (a, b) in zip(tensors, back) {
            #expect(b.tensor.isBitwiseEqual(to: a.tensor), "\(a.name)")
        }
        #expect(dir.listing() == ["t.npz"], "no temporary file is left behind")
    }

    @Test("writing is deterministic", arguments: [false, true])
    func deterministic(compressed: Bool) throws {
        let dir = TempDir()
        try NPZFile.write(try sample(), to: dir.file("a.npz"), compressed: compressed)
        try NPZFile.write(try sample(), to: dir.file("b.npz"), compressed: compressed)
        #expect(dir.contents("a.npz") == dir.contents("b.npz"))
        #expect(!dir.contents("a.npz").isEmpty)
    }

    @Test func membersAreWhatNPYFileWrites() throws {
        // A stored member's bytes appear verbatim in the archive: check numpy.save's header
        // and the data are there in one piece.
        let dir = TempDir()
        let x = try NPYFile.read(path: Fixtures.path("float32.npy"))
        try NPZFile.write([("x", x)], to: dir.file("x.npz"))
        let expected = Fixtures.npy.first { $0.file == "float32.npy" }!.expected
        let archive = dir.contents("x.npz")
        let member = expected.header! + expected.bytes
        #expect(archive.count > member.count)
        #expect((0...(archive.count - member.count)).contains { Array(archive[$0..<($0 + member.count)]) == member })
    }

    @Test("hostile archives are refused naming the member",
          arguments: Fixtures.refused.filter { $0.file.hasSuffix(".npz") }.map(\.file))
    func refuses(_ file: String) {
        let mention = Fixtures.refused.first { $0.file == file }!.mention
        do {
            let t = try NPZFile.read(path: Fixtures.path(file))
            Issue.record("\(file) was read: \(t.map(\.name))")
        } catch {
            #expect(error.description.hasPrefix(Fixtures.path(file) + ": "), "\(error)")
            #expect(error.description.dropFirst(Fixtures.path(file).count).contains(mention), "\(error)")
        }
    }

    @Test func refusalKinds() {
        func kind(_ file: String) -> String {
            do { _ = try NPZFile.read(path: Fixtures.path(file)); return "read" } catch {
                switch error {
                case .tooLarge(_, let member, _): return "tooLarge \(member)"
                case .unsafeName(_, let name, _): return "unsafeName \(name)"
                case .malformed(_, let member, _): return "malformed \(member ?? "-")"
                case .unsupported(_, let member, _): return "unsupported \(member ?? "-")"
                default: return "other: \(error)"
                }
            }
        }
        #expect(kind("declared_huge.npz") == "tooLarge b.npy", "the second member takes the total past 4 GiB")
        #expect(kind("inflates_past_declared.npz") == "tooLarge a.npy")
        #expect(kind("dotdot.npz") == "unsafeName ../evil.npy")
        #expect(kind("shape_mismatch.npz") == "malformed m.npy")
        #expect(kind("duplicate.npz") == "malformed a.npy")
        #expect(kind("not_npy.npz") == "unsupported notes.txt")
        #expect(kind("not_a_zip.npz") == "malformed -")
    }

    @Test func capIsConfigurable() throws {
        var options = TensorReadOptions()
        options.maxNPZBytes = 300  // savez.npz's members are 128 + their data bytes each
        #expect {
            try NPZFile.read(path: Fixtures.path("savez.npz"), options: options)
        } throws: { error in
            guard case .tooLarge(_, let member, let reason) = error as? TensorFileError else { return false }
            return member == "mask.npy" && reason.contains("300")
        }
        options.maxNPZBytes = 4096
        #expect(try NPZFile.read(path: Fixtures.path("savez.npz"), options: options).count == 5)
    }

    @Test func unsafeNamesAreNotWritten() throws {
        let dir = TempDir()
        let t = try NPYFile.read(path: Fixtures.path("int8.npy"))
        for bad in ["../x", "a/../../x", "", "a\\b", "n\u{0}ul"] {
            #expect(throws: TensorFileError.self, "\(bad)") { try NPZFile.write([(bad, t)], to: dir.file("o.npz")) }
        }
        #expect(throws: TensorFileError.self) { try NPZFile.write([("a", t), ("a", t)], to: dir.file("o.npz")) }
        #expect(dir.listing().isEmpty, "nothing is written")
    }

    @Test func failedWriteLeavesThePreviousFile() throws {
        let dir = TempDir()
        let t = try NPYFile.read(path: Fixtures.path("int8.npy"))
        try NPZFile.write([("a", t)], to: dir.file("o.npz"))
        let before = dir.contents("o.npz")
        let bf16 = try Tensor(dtype: .bfloat16, dims: [1], storage: .owned([0, 0]), name: "b")
        #expect(throws: TensorFileError.self) { try NPZFile.write([("a", t), ("b", bf16)], to: dir.file("o.npz")) }
        #expect(dir.contents("o.npz") == before)
        #expect(dir.listing() == ["o.npz"])
    }

    @Test func corruptedArchivesNeverCrash() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("savez_compressed.npz"))))
        let dir = TempDir()
        var rng = SplitMix64(seed: 11)
        for k in 0..<150 {
            var bytes = whole
            if k < 50 {
                bytes = Array(bytes[0..<Int(rng.next() % UInt64(bytes.count))])
            } else {
                for _ in 0..<(1 + k % 4) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            dir.write(bytes, "c.npz")
            // Either refused with an error naming the file, or read into valid tensors.
            do {
                for (_, t) in try NPZFile.read(path: dir.file("c.npz")) { try t.validate() }
            } catch let error as TensorFileError {
                #expect(error.description.contains("c.npz"), "\(error)")
            }
        }
    }
}

