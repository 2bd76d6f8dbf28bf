import ModelIR
#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes to a file descriptor, remembering the first error.
final class FileSink {
    let fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var used = 0
    private(set) var written = 0
    private(set) var failure: String?
    /// Mapped files whose pages are given back once written (weights are streamed from the
    /// input model's mapping; after the copy, keeping them resident only costs memory).
    var releasing: [MappedFile] = []

    init(fd: Int32) {
        self.fd = fd
        buffer = malloc(capacity)!
    }

    deinit { free(buffer) }

    func write(_ data: UnsafeRawPointer?, _ count: Int) {
        guard failure == nil, count > 0, let data else { return }
        defer { release(data, count) }
        if count >= capacity {
            flush()
            writeAll(data, count)
            return
        }
        if used + count > capacity { flush() }
        memcpy(buffer + used, data, count)
        used += count
        written += count
    }

    /// Gives back the pages of `data` when it lies in one of the `releasing` mappings (it
    /// has been copied to the buffer or written by then).
    private func release(_ data: UnsafeRawPointer, _ count: Int) {
        guard count >= 1 << 16 else { return }
        for file in releasing {
            guard let base = file.bytes.baseAddress, data >= base, data + count <= base + file.bytes.count else { continue }
            file.releasePages(offset: data - base, count: count)
            return
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) { write(bytes.baseAddress, bytes.count) }

    /// Writes `count` zero bytes.
    func pad(_ count: Int) {
        let zeros = [UInt8](repeating: 0, count: count)
        zeros.withUnsafeBytes { write($0) }
    }

    func flush() {
        guard used > 0 else { return }
        let n = used
        used = 0
        let saved = written
        writeAll(buffer, n)
        written = saved
    }

    private func writeAll(_ data: UnsafeRawPointer, _ count: Int) {
        var offset = 0
        while offset < count && failure == nil {
            let n = Glibc.write(fd, data + offset, count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
            } else {
                offset += n
            }
        }
        written += count
    }
}
