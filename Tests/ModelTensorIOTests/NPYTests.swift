import Testing
import Foundation
import ModelIR
@testable import ModelTensorIO

/// .npy files written by NumPy (make-fixtures.py): every dtype, scalars, empty arrays,
/// big-endian data, header versions 2.0 and 3.0, hand-written old-style headers.
@Suite("npy")
struct NPYTests {
    @Test("every fixture reads as NumPy says", arguments: Fixtures.npy.map(\.file))
    func readsFixture(_ file: String) throws {
        let expected = Fixtures.npy.first { $0.file == file }!.expected
        let tensor = try NPYFile.read(path: Fixtures.path(file))
        #expect(tensor.dtype.description == expected.dtype)
        #expect(tensor.dims == expected.shape)
        #expect(tensor.bytes == expected.bytes)
        #expect(tensor.name == String(file.dropLast(4)))
    }

    @Test func coversEveryDTypeNumPyHas() {
        let read = Set(Fixtures.npy.map(\.expected.dtype))
        let writable = DType.allCases.filter { NPYHeader.descr(for: $0) != nil }.map(\.description)
        #expect(Set(writable) == read, "a dtype with a NumPy descr has no fixture, or the reverse")
        #expect(writable.count == 14)
    }

    @Test func littleEndianAlignedDataIsBorrowedOtherwiseCopied() throws {
        #expect(try NPYFile.read(path: Fixtures.path("float32.npy")).isMapped)
        #expect(try NPYFile.read(path: Fixtures.path("v2_float32.npy")).isMapped)
        #expect(try !NPYFile.read(path: Fixtures.path("be_float32.npy")).isMapped, "big-endian: converted copy")
        #expect(try !NPYFile.read(path: Fixtures.path("odd_offset_uint16.npy")).isMapped, "offset 69: copied")
    }

    @Test("writing gives numpy.save's bytes", arguments: Fixtures.npy.map(\.file))
    func writesWhatNumPyWrites(_ file: String) throws {
        let expected = Fixtures.npy.first { $0.file == file }!.expected
        let dir = TempDir()
        try NPYFile.write(try NPYFile.read(path: Fixtures.path(file)), to: dir.file("out.npy"))
        #expect(dir.contents("out.npy") == expected.header! + expected.bytes)
        #expect(dir.listing() == ["out.npy"], "no temporary file is left behind")
    }

    @Test func headerNeedingVersion2() throws {
        // 22,000 dimensions of 1: a 66 KB header that only version 2.0's 32-bit length holds.
        let shape = [Int](repeating: 1, count: 22_000)
        let header = try #require(NPYHeader.encode(dtype: .int8, shape: shape))
        #expect(Array(header[0..<8]) == NPYHeader.magic + [2, 0])
        #expect(header.count % 64 == 0)
        let dir = TempDir()
        let tensor = try Tensor(dtype: .int8, dims: shape, storage: .owned([42]))
        try NPYFile.write(tensor, to: dir.file("wide.npy"))
        let back = try NPYFile.read(path: dir.file("wide.npy"))
        #expect(back.dims == shape && back.bytes == [42])
    }

    @Test("refused files name the file and the problem",
          arguments: Fixtures.refused.filter { $0.file.hasSuffix(".npy") }.map(\.file))
    func refuses(_ file: String) {
        let mention = Fixtures.refused.first { $0.file == file }!.mention
        do {
            let t = try NPYFile.read(path: Fixtures.path(file))
            Issue.record("\(file) was read: \(t.dtype) \(t.dims)")
        } catch {
            #expect(error.description.hasPrefix(Fixtures.path(file) + ": "), "\(error)")
            let problem = error.description.dropFirst(Fixtures.path(file).count)  // the path names many fixtures' problem
            #expect(problem.lowercased().contains(mention.lowercased()), "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func refusalKinds() {
        func kind(_ file: String) -> String {
            do { _ = try NPYFile.read(path: Fixtures.path(file)); return "read" } catch {
                switch error {
                case .malformed: return "malformed"
                case .unsupported: return "unsupported"
                default: return "other: \(error)"
                }
            }
        }
        #expect(kind("fortran_float32.npy") == "unsupported")
        #expect(kind("object.npy") == "unsupported")
        #expect(kind("bfloat16_v2.npy") == "unsupported")
        #expect(kind("truncated.npy") == "malformed")
        #expect(kind("header_past_eof.npy") == "malformed")
        #expect(kind("bad_magic.npy") == "malformed")
        #expect(kind("negative_shape.npy") == "malformed")
        #expect(kind("unparsable.npy") == "malformed")
    }

    @Test func bfloat16AndOtherTypesWithoutNumPyDTypeAreNotWritten() throws {
        let dir = TempDir()
        for dtype in [DType.bfloat16, .float8e4m3fn, .int4] {
            let zeros = [UInt8](repeating: 0, count: dtype.byteCount(elements: 2)!)
            let t = try Tensor(dtype: dtype, dims: [2], storage: .owned(zeros), name: "w")
            #expect {
                try NPYFile.write(t, to: dir.file("w.npy"))
            } throws: { error in
                let text = (error as! TensorFileError).description
                return text.contains("w.npy") && text.contains("tensor 'w'") && text.contains("\(dtype)")
            }
        }
        #expect(dir.listing().isEmpty, "nothing is written")
    }

    @Test func everyTruncationIsRefusedWithoutCrashing() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("complex128.npy"))))
        let dir = TempDir()
        for n in 0..<whole.count {
            dir.write(Array(whole[0..<n]), "cut.npy")
            #expect(throws: TensorFileError.self) { try NPYFile.read(path: dir.file("cut.npy")) }
        }
    }

    @Test func hostileHeadersNeverCrash() {
        let dir = TempDir()
        func header(_ text: String) -> [UInt8] {
            let body = Array(text.utf8)
            let version: UInt8 = body.count > 0xffff ? 2 : 1
            var out = NPYHeader.magic + [version, 0]
            out += version == 1 ? [UInt8(body.count & 0xff), UInt8(body.count >> 8)]
                : [UInt8(body.count & 0xff), UInt8(body.count >> 8 & 0xff), 0, 0]
            return out + body
        }
        let cases: [(String, String)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "needs 8 bytes"),
            (String(repeating: "(", count: 100_000), "nested"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", "too large"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "overflow"),
            ("{'descr': '<f4', 'fortran_order': False}", "keys"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "keys"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "twice"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "fortran_order"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "not a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}", "non-integer"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", "after the literal"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "header"),
            ("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", "byte order"),
            ("{'descr': '<x4', 'fortran_order': False, 'shape': (2,)}", "no onnx equivalent"),
            ("{'descr': 'float32', 'fortran_order': False, 'shape': (2,)}", "type string"),
            ("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,)}", "type string"),
            ("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2,)}", "unexpected name"),
            ("", "end of header"),
            ("\u{0}\u{0}", "unexpected byte 0x0"),
        ]
        for (k, (text, mention)) in cases.enumerated() {
            dir.write(header(text), "h\(k).npy")
            do {
                _ = try NPYFile.read(path: dir.file("h\(k).npy"))
                Issue.record("case \(k) was read: \(text.prefix(80))")
            } catch {
                #expect(error.description.lowercased().contains(mention.lowercased()), "case \(k): \(error)")
            }
        }
        // Unknown versions and a header length over the cap.
        dir.write(NPYHeader.magic + [4, 0, 10, 0] + Array("{}        ".utf8), "v4.npy")
        #expect(throws: TensorFileError.self) { try NPYFile.read(path: dir.file("v4.npy")) }
        dir.write(NPYHeader.magic + [2, 0, 0xff, 0xff, 0xff, 0xff], "huge.npy")
        #expect(throws: TensorFileError.self) { try NPYFile.read(path: dir.file("huge.npy")) }
    }

    @Test func missingFileIsUnreadable() {
        #expect {
            try NPYFile.read(path: "/nonexistent/x.npy")
        } throws: { error in
            guard case .unreadable(let f, _) = error as? TensorFileError else { return false }
            return f == "/nonexistent/x.npy"
        }
    }
}
