#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written through a temporary file in its destination folder (same file system,
/// so the final rename is atomic). Nothing appears at `path` until `commit()` succeeds; on
/// any failure, or when the object is dropped uncommitted, the temporary file is removed.
final class OutputFile {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var failure: String?
    private var finished = false

    /// Creates `.<name>.tmp-XXXXXX` beside `path` (mode 0644).
    init(path: String) throws(TensorFileError) {
        self.path = path
        var template = (Paths.folder(of: path) + "/." + Paths.fileName(of: path) + ".tmp-XXXXXX").utf8CString
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .writeFailed(file: path, reason: Paths.errnoText()) }
        fchmod(fd, 0o644)
        self.fd = fd
        self.temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { if !finished { discard() } }

    /// Appends `bytes` (the first error is remembered and reported by `commit`).
    func write(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = Paths.errnoText()
                return
            }
            offset += n
        }
    }

    func write(_ bytes: [UInt8]) { bytes.withUnsafeBytes { write($0) } }

    /// Closes the temporary file and renames it to `path`.
    func commit() throws(TensorFileError) {
        finished = true
        let closed = close(fd)
        fd = -1
        if let reason = failure ?? (closed != 0 ? Paths.errnoText() : nil) {
            unlink(temporaryPath)
            throw .writeFailed(file: path, reason: reason)
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = Paths.errnoText()
            unlink(temporaryPath)
            throw .writeFailed(file: path, reason: reason)
        }
    }

    /// Removes the temporary file without touching `path`.
    func discard() {
        finished = true
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(temporaryPath)
    }
}
