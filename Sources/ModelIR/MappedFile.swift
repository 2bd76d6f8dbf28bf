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

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Why a file could not be mapped.
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
