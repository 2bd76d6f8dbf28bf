import ModelIR
import ModelONNX

/// One entry point for tensor files, dispatching on the path: a folder, or the extension
/// (case-insensitive) `.npy`, `.npz` or `.pb`.
public enum TensorFiles {
    /// Reads the tensors at `path`:
    /// - `.npy`: one tensor named by the file's stem (`x.npy` -> `x`);
    /// - `.npz`: every member, in archive order, named without `.npy`;
    /// - `.pb`: one ONNX TensorProto, named by its `name` or, when that is empty, the stem;
    /// - a folder: `TensorFolder.read` (its `.pb` and `.npy` files in natural order).
    ///
    /// Throws `TensorFileError` naming the file (and member); `.unsupported` for any other
    /// extension.
    public static func read(_ path: String, options: TensorReadOptions = TensorReadOptions())
        throws(TensorFileError) -> [(name: String, tensor: Tensor)] {
        if Paths.isDirectory(path) { return try TensorFolder.read(path) }
        switch Paths.fileExtension(of: path) {
        case "npz": return try NPZFile.read(path: path, options: options)
        case "npy", "pb": return [try readOne(path)]
        case let ext:
            throw .unsupported(file: path, member: nil,
                               reason: "unknown tensor file type '\(ext.isEmpty ? "(no extension)" : "." + ext)': "
                                   + "expected .npy, .npz, .pb or a folder")
        }
    }

    /// Writes `tensors` to `path`, by the path's form:
    /// - `.npy`: exactly one tensor (its name is not stored: the file's stem is the name);
    /// - `.npz`: every tensor as `<name>.npy`, stored, or deflated when `compressed`;
    /// - `.pb`: exactly one tensor, as a TensorProto named `name`;
    /// - an existing folder, or a path ending in `/`: `TensorFolder.write` (`<name>.npy` each).
    ///
    /// Every file goes through a temporary file in its folder and a rename: a failure
    /// leaves no partial file behind.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to path: String,
                             compressed: Bool = false) throws(TensorFileError) {
        if path.hasSuffix("/") || Paths.isDirectory(path) {
            return try TensorFolder.write(tensors, to: path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path)
        }
        let ext = Paths.fileExtension(of: path)
        switch ext {
        case "npz":
            try NPZFile.write(tensors, to: path, compressed: compressed)
        case "npy", "pb":
            guard tensors.count == 1 else {
                throw .writeFailed(file: path, reason: "a .\(ext) file holds exactly one tensor, \(tensors.count) given "
                                   + "(write an .npz file or a folder)")
            }
            var tensor = tensors[0].tensor
            tensor.name = tensors[0].name
            if ext == "npy" {
                try NPYFile.write(tensor, to: path)
            } else {
                do {
                    try ONNXTensorFile.write(tensor, to: path)
                } catch {
                    throw .onnx(error)
                }
            }
        default:
            throw .unsupported(file: path, member: nil,
                               reason: "unknown tensor file type '\(ext.isEmpty ? "(no extension)" : "." + ext)': "
                                   + "expected .npy, .npz, .pb or a folder ending in '/'")
        }
    }

    /// Reads one `.npy` or `.pb` file with its name.
    static func readOne(_ path: String) throws(TensorFileError) -> (name: String, tensor: Tensor) {
        let stem = Paths.stem(of: path)
        if Paths.fileExtension(of: path) == "npy" {
            return (stem, try NPYFile.read(path: path, name: stem))
        }
        var tensor: Tensor
        do {
            tensor = try ONNXTensorFile.read(path: path)
        } catch {
            throw .onnx(error)
        }
        if tensor.name.isEmpty { tensor.name = stem }
        return (tensor.name, tensor)
    }
}
