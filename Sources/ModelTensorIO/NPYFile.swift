import ModelIR

/// Reads and writes NumPy `.npy` files (see `NPYHeader` for the dtypes and what is refused).
public enum NPYFile {
    /// Reads the array in `path` as a tensor named `name` (default: the file's stem,
    /// `x.npy` -> `x`).
    ///
    /// The file is memory-mapped. Little-endian data at an offset aligned to its element
    /// (every file NumPy writes: its data starts on a 64-byte boundary) is borrowed from the
    /// mapping (`TensorStorage.mapped`), not copied; big-endian data is copied and converted
    /// to little-endian, and data at an unaligned offset is copied.
    ///
    /// Throws `TensorFileError` naming the file: `.unreadable`, `.malformed` (bad magic, a
    /// header that runs past the end or does not parse, a negative dimension, data shorter
    /// or longer than the shape needs), `.unsupported` (Fortran order, object arrays, a dtype
    /// with no ONNX type).
    public static func read(path: String, name: String? = nil) throws(TensorFileError) -> Tensor {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .unreadable(file: path, reason: error.reason)
        }
        let header: NPYHeader
        do {
            header = try NPYHeader.parse(file.bytes)
            try header.checkData(available: file.bytes.count - header.dataOffset)
        } catch {
            throw error.error(file: path, member: nil)
        }
        let count = header.dataByteCount
        let storage: TensorStorage
        if count == 0 {
            storage = .owned([])
        } else if !header.isBigEndian && header.dataOffset % header.swapUnit == 0 {
            storage = .mapped(file, offset: header.dataOffset, count: count)
        } else {
            var bytes = Array(file.bytes[header.dataOffset..<(header.dataOffset + count)])
            if header.isBigEndian { swapBytes(&bytes, unit: header.swapUnit) }
            storage = .owned(bytes)
        }
        return try tensor(header, storage, name: name ?? Paths.stem(of: path), file: path, member: nil)
    }

    /// Writes `tensor` to `path` as an .npy file byte-identical to what
    /// `numpy.save(path, array)` writes for the same little-endian C-order array (header
    /// version 1.0 unless it needs 2.0). The file is written to a temporary name in the same
    /// folder and renamed into place when complete.
    ///
    /// Throws `.cannotWrite` for a dtype NumPy has no type for (bfloat16, the float8 and
    /// 4-bit types, strings) or a tensor whose storage disagrees with its dims, and
    /// `.writeFailed` when the file cannot be written.
    public static func write(_ tensor: Tensor, to path: String) throws(TensorFileError) {
        let header = try encodedHeader(for: tensor, file: path)
        let out = try OutputFile(path: path)
        out.write(header)
        tensor.withUnsafeBytes { out.write($0) }
        try out.commit()
    }

    /// The .npy header for `tensor` after checking that it can be written.
    static func encodedHeader(for tensor: Tensor, file: String) throws(TensorFileError) -> [UInt8] {
        guard let header = NPYHeader.encode(dtype: tensor.dtype, shape: tensor.dims) else {
            throw .cannotWrite(file: file, tensor: tensor.name, reason: NPYHeader.whyNoDescr(tensor.dtype))
        }
        do {
            try tensor.validate()
        } catch {
            throw .cannotWrite(file: file, tensor: tensor.name, reason: error.reason)
        }
        return header
    }

    /// A validated tensor of `header`'s type and shape over `storage`.
    static func tensor(_ header: NPYHeader, _ storage: TensorStorage, name: String, file: String,
                       member: String?) throws(TensorFileError) -> Tensor {
        do {
            return try Tensor(dtype: header.dtype, dims: header.shape, storage: storage, name: name)
        } catch {
            throw .malformed(file: file, member: member, reason: error.reason)
        }
    }

    /// Reverses the byte order of every `unit`-byte group of `bytes` in place.
    static func swapBytes(_ bytes: inout [UInt8], unit: Int) {
        guard unit > 1 else { return }
        bytes.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i + unit <= b.count {
                var lo = i, hi = i + unit - 1
                while lo < hi {
                    b.swapAt(lo, hi)
                    lo += 1
                    hi -= 1
                }
                i += unit
            }
        }
    }
}
