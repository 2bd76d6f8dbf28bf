import Foundation
import ModelIR
import ZIPFoundation

/// Limits for reading tensor files.
public struct TensorReadOptions: Sendable {
    /// The most bytes the members of one .npz may inflate to, all together (default 4 GiB).
    /// Checked against the sizes the archive declares before anything is inflated, and
    /// against the bytes actually produced while inflating.
    public var maxNPZBytes: Int = 4 << 30

    public init() {}
}

/// Reads and writes NumPy `.npz` archives: a zip of `.npy` members named `<name>.npy`, as
/// `numpy.savez` (stored members) and `numpy.savez_compressed` (deflated) write them.
public enum NPZFile {
    /// Reads every member of the archive at `path`, in archive order, named without the
    /// `.npy` suffix (`x.npy` -> `x`).
    ///
    /// Before inflating anything, every member is checked: its name (no `..` component,
    /// backslash or NUL; `/` is allowed, NumPy keys may hold it), that it is a `.npy` file
    /// and appears once, and that the declared uncompressed sizes stay within
    /// `options.maxNPZBytes` in total. While inflating, each member's `.npy` header is parsed
    /// from its first bytes and must agree with the declared size; a member that inflates
    /// past its declared size is stopped there. Members are copied into memory (owned
    /// storage), big-endian data converted to little-endian; the CRC-32 is verified.
    public static func read(path: String, options: TensorReadOptions = TensorReadOptions())
        throws(TensorFileError) -> [(name: String, tensor: Tensor)] {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .unreadable(file: path, reason: error.reason)
        }
        let declaredCount: UInt64
        do {
            declaredCount = try ZipDirectory.entryCount(file.bytes)
        } catch {
            throw .malformed(file: path, member: nil, reason: error.reason)
        }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw .malformed(file: path, member: nil, reason: "not a readable zip archive (\(error))")
        }
        let entries = Array(archive)
        guard UInt64(entries.count) == declaredCount else {
            throw .malformed(file: path, member: nil, reason: "the zip's end record lists \(declaredCount) entries, "
                             + "but only \(entries.count) central-directory records could be read")
        }

        // Everything that can be checked without inflating.
        var members: [(entry: Entry, member: String, name: String)] = []
        var seen = Set<String>()
        var total: UInt64 = 0
        for entry in entries where entry.type != .directory {
            let member = entry.path
            guard entry.type == .file else {
                throw .unsupported(file: path, member: member, reason: "a symbolic link, not a .npy member")
            }
            guard member.hasSuffix(".npy") else {
                throw .unsupported(file: path, member: member,
                                   reason: "not a .npy member (numpy.savez writes only '<name>.npy' members)")
            }
            let name = String(member.dropLast(4))
            if let problem = Paths.memberNameProblem(name) {
                throw .unsafeName(file: path, name: member, reason: problem)
            }
            guard seen.insert(member).inserted else {
                throw .malformed(file: path, member: member, reason: "the name appears twice in the archive")
            }
            let (sum, overflow) = total.addingReportingOverflow(entry.uncompressedSize)
            guard !overflow, sum <= UInt64(max(options.maxNPZBytes, 0)) else {
                throw .tooLarge(file: path, member: member,
                                reason: "it declares \(entry.uncompressedSize) bytes uncompressed, which takes the "
                                    + "archive past the cap of \(options.maxNPZBytes) bytes "
                                    + "(TensorReadOptions.maxNPZBytes)")
            }
            total = sum
            members.append((entry, member, name))
        }

        var out: [(name: String, tensor: Tensor)] = []
        out.reserveCapacity(members.count)
        for (entry, member, name) in members {
            let sink = MemberSink(declared: Int(entry.uncompressedSize), file: path, member: member)
            let crc: CRC32
            do {
                crc = try archive.extract(entry, bufferSize: 1 << 20) { chunk in try sink.consume(chunk) }
            } catch let error as TensorFileError {
                throw error
            } catch {
                throw .malformed(file: path, member: member, reason: "cannot inflate: \(error)")
            }
            let (header, data) = try sink.finish()
            guard crc == entry.checksum else {
                throw .malformed(file: path, member: member,
                                 reason: "CRC-32 mismatch (declared \(hex(entry.checksum)), computed \(hex(crc)))")
            }
            let storage: TensorStorage = .owned(data)
            out.append((name, try NPYFile.tensor(header, storage, name: name, file: path, member: member)))
        }
        return out
    }

    /// Writes `tensors` as an .npz archive that `numpy.load` reads, with members
    /// `<name>.npy` in the given order, each byte-identical to `NPYFile.write`'s output.
    /// Deterministic: the same tensors give the same bytes (fixed 1980-01-01 timestamps,
    /// fixed permissions; deflate when `compressed`, stored otherwise, as `numpy.savez`).
    ///
    /// Names may contain `/` (NumPy keys and ONNX value names do); empty names, a `..`
    /// component, backslashes, NUL and duplicates are refused before anything is written.
    /// The archive is built in a temporary file in the destination folder and renamed into
    /// place when complete.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to path: String,
                             compressed: Bool = false) throws(TensorFileError) {
        var headers: [[UInt8]] = []
        var seen = Set<String>()
        for (name, tensor) in tensors {
            if let problem = Paths.memberNameProblem(name) {
                throw .unsafeName(file: path, name: name, reason: problem)
            }
            guard seen.insert(name).inserted else {
                throw .unsafeName(file: path, name: name, reason: "two tensors have this name")
            }
            headers.append(try NPYFile.encodedHeader(for: tensor, file: path))
        }
        let out = try OutputFile(path: path)
        out.write(ZipDirectory.emptyArchive)
        do {
            try fill(out.temporaryPath, tensors, headers, compressed: compressed)
        } catch {
            out.discard()
            throw .writeFailed(file: path, reason: "\(error)")
        }
        // ZIPFoundation closes its file without reporting a failed final flush: check that the
        // archive on disk is complete before it replaces anything.
        do {
            let written = try MappedFile(path: out.temporaryPath)
            let count = try? ZipDirectory.entryCount(written.bytes)
            guard count == UInt64(tensors.count) else {
                out.discard()
                throw TensorFileError.writeFailed(file: path, reason: "the archive written is incomplete (disk full?)")
            }
        } catch let error as TensorFileError {
            throw error
        } catch {
            out.discard()
            throw .writeFailed(file: path, reason: "\(error)")
        }
        try out.commit()
    }

    /// Adds the members to the empty archive at `archivePath` (the Archive is closed on return).
    private static func fill(_ archivePath: String, _ tensors: [(name: String, tensor: Tensor)], _ headers: [[UInt8]],
                             compressed: Bool) throws {
        let archive = try Archive(url: URL(fileURLWithPath: archivePath), accessMode: .update)
        let epoch = Date(timeIntervalSince1970: 315_532_800)  // 1980-01-01T00:00:00Z, the zip epoch
        for (k, (name, tensor)) in tensors.enumerated() {
            let header = headers[k]
            let size = header.count + tensor.byteCount
            try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(size),
                                 modificationDate: epoch, permissions: 0o644,
                                 compressionMethod: compressed ? .deflate : .none,
                                 bufferSize: 1 << 20) { position, count in
                chunk(header, tensor, from: Int(position), count: count)
            }
        }
    }

    /// Bytes `from..<from + count` of the .npy file made of `header` and `tensor`'s data.
    private static func chunk(_ header: [UInt8], _ tensor: Tensor, from: Int, count: Int) -> Data {
        var data = Data(capacity: count)
        var position = from, remaining = count
        if position < header.count {
            let n = min(remaining, header.count - position)
            data.append(contentsOf: header[position..<(position + n)])
            position += n
            remaining -= n
        }
        if remaining > 0 {
            tensor.withUnsafeBytes { bytes in
                let start = position - header.count
                data.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + remaining)]))
            }
        }
        return data
    }

    private static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}

/// Receives one member's inflated bytes: parses its .npy header from the first bytes, checks
/// it against the declared size, then collects the data. Stops a member that inflates past
/// what it declared.
private final class MemberSink {
    let declared: Int
    let file: String
    let member: String
    private var headerBytes: [UInt8] = []
    private var header: NPYHeader?
    private var data: [UInt8] = []
    private var received = 0

    init(declared: Int, file: String, member: String) {
        self.declared = declared
        self.file = file
        self.member = member
    }

    func consume(_ chunk: Data) throws(TensorFileError) {
        received += chunk.count
        guard received <= declared else {
            throw .tooLarge(file: file, member: member,
                            reason: "it inflates to more than the \(declared) bytes it declares (a zip bomb?)")
        }
        if header != nil {
            chunk.withUnsafeBytes { data.append(contentsOf: $0) }
            return
        }
        headerBytes.append(contentsOf: chunk)
        let parsed = headerBytes.withUnsafeBytes { bytes in
            Result { () throws(NPYHeader.Problem) -> NPYHeader? in
                guard let length = try NPYHeader.headerLength(prefix: bytes), bytes.count >= length else { return nil }
                return try NPYHeader.parse(bytes)
            }
        }
        let h: NPYHeader
        switch parsed {
        case .failure(let problem): throw problem.error(file: file, member: member)
        case .success(nil): return
        case .success(let value?): h = value
        }
        guard h.dataOffset + h.dataByteCount == declared else {
            throw .malformed(file: file, member: member,
                             reason: "its header gives shape \(NPYHeader.repr(h.shape)) of '\(h.descr)', "
                                 + "\(h.dataByteCount) bytes of data after a \(h.dataOffset)-byte header, "
                                 + "but the member declares \(declared) bytes")
        }
        header = h
        data.reserveCapacity(h.dataByteCount)
        data.append(contentsOf: headerBytes[h.dataOffset...])
        headerBytes = []
    }

    /// The header and the little-endian data, once every byte has arrived.
    func finish() throws(TensorFileError) -> (NPYHeader, [UInt8]) {
        guard let header else {
            throw .malformed(file: file, member: member,
                             reason: "the member ends inside its .npy header (\(received) bytes)")
        }
        guard received == declared else {
            throw .malformed(file: file, member: member,
                             reason: "it inflates to \(received) bytes, fewer than the \(declared) it declares")
        }
        if header.isBigEndian { NPYFile.swapBytes(&data, unit: header.swapUnit) }
        return (header, data)
    }
}
