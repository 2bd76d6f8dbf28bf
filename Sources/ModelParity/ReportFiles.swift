#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes a set of report files all-or-nothing: each goes to a temporary file beside its
/// destination (`.<name>.tmp-XXXXXX`, same file system), and only when every one is written
/// and closed are they renamed into place. On any failure the temporary files are removed
/// and no destination is touched (a rename failing after others succeeded, which needs a
/// destination that vanished mid-way, is the one case that leaves some files written).
public enum ReportFiles {
    public static func write(_ files: [(path: String, contents: String)]) throws(ParityError) {
        var temps: [(temp: String, path: String)] = []
        func cleanup() { for t in temps { unlink(t.temp) } }
        for (path, contents) in files {
            let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            let name = path.split(separator: "/").last.map(String.init) ?? path
            var template = ((folder.isEmpty ? "/" : folder) + "/." + name + ".tmp-XXXXXX").utf8CString
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                cleanup()
                throw .write(file: path, reason: reason)
            }
            let temp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            temps.append((temp, path))
            fchmod(fd, 0o644)
            var failure: String? = nil
            let bytes = Array(contents.utf8)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = String(cString: strerror(errno))
                        return
                    }
                    offset += n
                }
            }
            if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
            if let failure {
                cleanup()
                throw .write(file: path, reason: failure)
            }
        }
        for (k, t) in temps.enumerated() {
            guard rename(t.temp, t.path) == 0 else {
                let reason = String(cString: strerror(errno))
                for rest in temps[k...] { unlink(rest.temp) }
                throw .write(file: t.path, reason: reason)
            }
        }
    }
}
