#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small path helpers (POSIX paths, `/`-separated).
enum Paths {
    /// The folder part of `path` (`.` when it has none, `/` for a file at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The last component of `path`.
    static func fileName(of path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    /// The file name without its last extension: `input_0.pb` -> `input_0`.
    static func stem(of path: String) -> String {
        let name = fileName(of: path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// The last extension, lowercased, without the dot (empty when none).
    static func fileExtension(of path: String) -> String {
        let name = fileName(of: path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...]).lowercased()
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Why `name` cannot be a file name in a folder (nil when it can): empty, `.`, `..`,
    /// or containing `/`, `\` or NUL.
    static func fileNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an empty name cannot be a file name" }
        if name == "." || name == ".." { return "'\(name)' cannot be a file name" }
        if name.contains("/") || name.contains("\\") { return "a name containing '/' or '\\' cannot be a file name" }
        if name.utf8.contains(0) { return "a name containing NUL cannot be a file name" }
        return nil
    }

    /// Why `name` cannot be an .npz member name (nil when it can). '/' is allowed (NumPy
    /// keys may contain it, and ONNX value names often do: `/encoder/Add_output_0`), but a
    /// `..` component, a backslash or NUL is not: zip tools would use them as paths.
    static func memberNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an empty name" }
        if name.utf8.contains(0) { return "the name contains NUL" }
        if name.contains("\\") { return "the name contains '\\', which zip tools treat as a path separator" }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            return "the name has a '..' path component, which would escape the folder it is extracted to"
        }
        return nil
    }
}
