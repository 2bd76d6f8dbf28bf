#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, private memory mapping of a whole file. Tensors borrow byte ranges of it
/// (`TensorStorage.mapped`) instead of copying; the mapping lives as long as any tensor
/// that references it. Pages are read from disk only when touched, so importing a model
/// whose weights are never read costs no resident memory for them.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The mapped bytes (empty for an empty file). Immutable for the mapping's lifetime.
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path` read-only. Throws `MappedFile.Failure` naming the path and the errno.
    public init(path: String) throws(MappedFile.Failure) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, reason: Self.errnoText()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure(path: path, reason: Self.errnoText()) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(path: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw Failure(path: path, reason: Self.errnoText()) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Writes `bytes` to a new unlinked temporary file (in `$TMPDIR`, default /tmp) and maps
    /// it: the bytes live on disk and in the page cache, not in the process's heap. Passes
    /// use it for large tensors they compute, so that memory stays bounded by the largest
    /// single tensor rather than the sum of all rewritten weights.
    public static func spill(_ bytes: UnsafeRawBufferPointer) throws(MappedFile.Failure) -> MappedFile {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = (dir + "/modelconv-spill-XXXXXX").utf8CString
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Failure(path: dir, reason: errnoText()) }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        unlink(path)
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, reason: errnoText())
            }
            offset += n
        }
        return try MappedFile(fd: fd, path: path, size: bytes.count)
    }

    private init(fd: Int32, path: String, size: Int) throws(MappedFile.Failure) {
        self.path = path
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw Failure(path: path, reason: Self.errnoText()) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Why a file could not be mapped.
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Drops the resident pages wholly inside `offset..<offset+count` (they are re-read
    /// from the file if touched again). For passes that read a weight once to compute a
    /// replacement: the mapping stays valid, only the memory it holds is given back.
    public func releasePages(offset: Int, count: Int) {
        guard let base = bytes.baseAddress, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        let end = (offset + count) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
