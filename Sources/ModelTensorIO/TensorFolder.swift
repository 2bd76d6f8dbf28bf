import Foundation
import ModelIR
import ModelONNX

/// A folder of tensor files: the ONNX backend test layout (`test_data_set_0/input_0.pb`,
/// `input_1.pb`, ..., `output_0.pb`) or a folder of `.npy` files.
public enum TensorFolder {
    /// Reads the `.pb` and `.npy` files in `dir` (not its subfolders; hidden files and
    /// other extensions are ignored), in natural order: numbers inside names compare as
    /// numbers, so `input_2.pb` comes before `input_10.pb`. With `prefix`, only files named
    /// `<prefix>_<N>.pb` or `<prefix>_<N>.npy` are read (`prefix: "input"` gives a test
    /// case's inputs in order).
    ///
    /// Names: a `.npy` file's stem; a `.pb` file's TensorProto name, or its stem when the
    /// name is empty. Names are returned as they are, repeats included.
    /// Throws `.unreadable` when the folder cannot be listed or holds no matching file,
    /// else the error of the first file that fails.
    public static func read(_ dir: String, prefix: String? = nil) throws(TensorFileError)
        -> [(name: String, tensor: Tensor)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            throw .unreadable(file: dir, reason: (error as NSError).localizedDescription)
        }
        let files = names.filter { name in
            guard !name.hasPrefix("."), ["npy", "pb"].contains(Paths.fileExtension(of: name)) else { return false }
            if let prefix {
                let stem = Paths.stem(of: name)
                guard stem.hasPrefix(prefix + "_") else { return false }
                let number = stem.dropFirst(prefix.count + 1)
                guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            }
            return !Paths.isDirectory(dir + "/" + name)
        }.sorted(by: naturalOrder)
        guard !files.isEmpty else {
            let which = prefix.map { "'\($0)_<N>.pb' or '\($0)_<N>.npy' files" } ?? ".npy or .pb files"
            throw .unreadable(file: dir, reason: "the folder has no \(which)")
        }
        var out: [(name: String, tensor: Tensor)] = []
        for file in files {
            out.append(try TensorFiles.readOne(dir + "/" + file))
        }
        return out
    }

    /// Writes each tensor to `dir/<name>.npy` (creating `dir` when missing), each file
    /// through a temporary file and a rename. Every name must be usable as a file name (no
    /// `/`, `\`, NUL, not empty, `.` or `..`) and appear once; this is checked before
    /// anything is written.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to dir: String) throws(TensorFileError) {
        var seen = Set<String>()
        for (name, tensor) in tensors {
            if let problem = Paths.fileNameProblem(name) {
                throw .unsafeName(file: dir, name: name, reason: problem)
            }
            guard seen.insert(name).inserted else {
                throw .unsafeName(file: dir, name: name, reason: "two tensors have this name")
            }
            _ = try NPYFile.encodedHeader(for: tensor, file: dir + "/" + name + ".npy")
        }
        if !Paths.isDirectory(dir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            } catch {
                throw .writeFailed(file: dir, reason: (error as NSError).localizedDescription)
            }
        }
        for (name, tensor) in tensors {
            try NPYFile.write(tensor, to: dir + "/" + name + ".npy")
        }
    }

    /// Natural order: runs of digits compare by value, other text by bytes.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let x = chunks(a), y = chunks(b)
        for (p, q) in zip(x, y) where p != q {
            if p.isNumber && q.isNumber {
                let u = p.text.drop(while: { $0 == "0" }), v = q.text.drop(while: { $0 == "0" })
                if u.count != v.count { return u.count < v.count }
                if u != v { return u < v }
                continue
            }
            return Array(p.text.utf8).lexicographicallyPrecedes(Array(q.text.utf8))
        }
        if x.count != y.count { return x.count < y.count }
        return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
    }

    private struct Chunk: Equatable {
        let text: String
        let isNumber: Bool
    }

    private static func chunks(_ s: String) -> [Chunk] {
        var out: [Chunk] = []
        var current = "", digits = false
        for c in s {
            let d = c.isASCII && c.isNumber
            if !current.isEmpty && d != digits {
                out.append(Chunk(text: current, isNumber: digits))
                current = ""
            }
            digits = d
            current.append(c)
        }
        if !current.isEmpty { out.append(Chunk(text: current, isNumber: digits)) }
        return out
    }
}
