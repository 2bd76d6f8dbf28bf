import ModelIR

/// The header of a NumPy `.npy` file, versions 1.0, 2.0 and 3.0.
///
/// Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length
/// (little-endian `UInt16` in 1.0, `UInt32` in 2.0 and 3.0), then that many bytes of a
/// Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// padded with spaces and a newline. The data follows, `dataOffset` bytes from the start.
///
/// Element types: NumPy's `<f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 <c8 <c16` map to
/// modelconv's `float16 ... complex128`; `>` (big-endian) is read and converted; `=` means
/// the host's order (little-endian on every platform modelconv builds for); 1-byte types
/// accept any of `| < > =`. Refused: Fortran order, object (`|O`), string, datetime,
/// structured and long-double arrays, and raw void types. bfloat16 has no NumPy dtype:
/// NumPy saves ml_dtypes' bfloat16 as the raw type `<V2`, which could be any 2-byte
/// type, so `<V2` is refused rather than guessed.
public struct NPYHeader: Sendable, Equatable {
    public var dtype: DType
    /// Dimensions in C order; empty for a 0-d (scalar) array.
    public var shape: [Int]
    /// Whether the file's data is big-endian (`>`); readers convert it.
    public var isBigEndian: Bool
    /// The format's major version: 1, 2 or 3.
    public var majorVersion: Int
    /// Bytes from the start of the file to the first data byte.
    public var dataOffset: Int
    /// The `descr` as written in the header (for messages).
    public var descr: String

    /// `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]
    /// Headers longer than this are refused (NumPy itself refuses more than 10,000 bytes).
    public static let maxHeaderLength = 1 << 20
    /// NumPy's alignment of the data offset.
    static let alignment = 64
    /// NumPy pads the dict so the first dimension can grow to this many digits in place.
    static let growthDigits = 21

    /// Elements the shape holds (checked not to overflow when parsing).
    public var elementCount: Int { Shape.elementCount(of: shape) ?? 0 }
    /// Bytes of data the shape needs.
    public var dataByteCount: Int { dtype.byteCount(elements: elementCount) ?? 0 }
    /// The byte-swapping unit of one element: its size, or half of it for complex numbers.
    var swapUnit: Int {
        let size = (dtype.bitWidth ?? 8) / 8
        return dtype == .complex64 || dtype == .complex128 ? size / 2 : size
    }

    /// What is wrong with a header, before the file and member are known.
    enum Problem: Error {
        case malformed(String)
        case unsupported(String)

        func error(file: String, member: String?) -> TensorFileError {
            switch self {
            case .malformed(let r): return .malformed(file: file, member: member, reason: r)
            case .unsupported(let r): return .unsupported(file: file, member: member, reason: r)
            }
        }
    }

    // MARK: Reading

    /// The total header length (the data offset) from the first bytes of a file: nil when
    /// `prefix` is shorter than the fixed prefix (10 bytes for version 1.0, 12 for 2.0/3.0).
    /// Throws for a bad magic, an unknown version or a length past `maxHeaderLength`.
    static func headerLength(prefix: UnsafeRawBufferPointer) throws(Problem) -> Int? {
        let n = min(prefix.count, magic.count)
        guard prefix.prefix(n).elementsEqual(magic.prefix(n)) else { throw .malformed(Self.badMagic(prefix)) }
        guard prefix.count >= 8 else { return nil }
        let major = Int(prefix[6]), minor = Int(prefix[7])
        guard (1...3).contains(major), minor == 0 else {
            throw .unsupported("format version \(major).\(minor) (modelconv reads 1.0, 2.0 and 3.0)")
        }
        let lengthSize = major == 1 ? 2 : 4
        guard prefix.count >= 8 + lengthSize else { return nil }
        var length = 0
        for k in 0..<lengthSize { length |= Int(prefix[8 + k]) << (8 * k) }
        guard length <= maxHeaderLength else {
            throw .malformed("the header length field says \(length) bytes, over the \(maxHeaderLength)-byte limit")
        }
        return 8 + lengthSize + length
    }

    static func badMagic(_ prefix: UnsafeRawBufferPointer) -> String {
        let shown = prefix.prefix(6).map { b -> String in
            (0x20..<0x7f).contains(b) ? String(Character(Unicode.Scalar(b))) : "\\x" + String(b, radix: 16)
        }.joined()
        return "not an .npy file: it starts with '\(shown)', not the magic '\\x93NUMPY'"
    }

    /// Parses the header at the start of `bytes` (which must hold at least the whole
    /// header; the data may follow). Throws naming what is wrong.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(Problem) -> NPYHeader {
        guard let total = try headerLength(prefix: bytes) else {
            throw .malformed("the file is \(bytes.count) bytes, too short for an .npy header")
        }
        let major = Int(bytes[6])
        let start = major == 1 ? 10 : 12
        guard total <= bytes.count else {
            throw .malformed("the header length field says \(total - start) bytes, which runs past the end "
                             + "of the \(bytes.count)-byte file")
        }
        let literal: PythonLiteral
        do {
            literal = try PythonLiteral.parse(Array(bytes[start..<total]))
        } catch {
            throw .malformed("the header is not a Python dict literal: \(error.reason) at header byte \(error.offset)")
        }
        guard case .dict(let entries) = literal else {
            throw .malformed("the header is not a dict: \(literal.repr)")
        }
        let keys = entries.map(\.key).sorted()
        guard keys == ["descr", "fortran_order", "shape"] else {
            throw .malformed("the header's keys are \(keys), expected ['descr', 'fortran_order', 'shape']")
        }
        let values = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })

        guard case .bool(let fortran) = values["fortran_order"]! else {
            throw .malformed("fortran_order is not True or False: \(values["fortran_order"]!.repr)")
        }
        let descr: String
        switch values["descr"]! {
        case .string(let s): descr = s
        case .list(let fields):
            throw .unsupported("structured dtype with \(fields.count) fields (descr \(values["descr"]!.repr)); "
                               + "save each field as its own array")
        case let other: throw .malformed("descr is not a dtype string: \(other.repr)")
        }
        let (dtype, bigEndian) = try Self.dtype(descr: descr)
        guard !fortran else {
            throw .unsupported("fortran_order is True (column-major data); only C order is read: "
                               + "save numpy.ascontiguousarray(a) instead")
        }
        guard case .tuple(let dims) = values["shape"]! else {
            throw .malformed("shape is not a tuple: \(values["shape"]!.repr)")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let n) = d else { throw .malformed("shape \(values["shape"]!.repr) holds a non-integer") }
            guard n >= 0 else { throw .malformed("shape \(values["shape"]!.repr) has a negative dimension") }
            shape.append(n)
        }
        guard let count = Shape.elementCount(of: shape), dtype.byteCount(elements: count) != nil else {
            throw .malformed("the size of shape \(Self.repr(shape)) overflows a 64-bit integer")
        }
        return NPYHeader(dtype: dtype, shape: shape, isBigEndian: bigEndian, majorVersion: major,
                         dataOffset: total, descr: descr)
    }

    /// Checks that exactly the bytes the shape needs follow the header. NumPy ignores extra
    /// bytes after the data; modelconv refuses them (they usually mean a second array was
    /// appended to the file, or a wrong shape).
    func checkData(available: Int) throws(Problem) {
        let needed = dataByteCount
        if available < needed {
            throw .malformed("shape \(Self.repr(shape)) of '\(descr)' needs \(needed) bytes of data, "
                             + "the file has \(available) after its \(dataOffset)-byte header (truncated?)")
        }
        if available > needed {
            throw .malformed("\(available - needed) extra bytes after the \(needed) bytes of data that "
                             + "shape \(Self.repr(shape)) of '\(descr)' needs")
        }
    }

    /// The element type a NumPy type string stands for, and whether it is big-endian.
    static func dtype(descr: String) throws(Problem) -> (DType, Bool) {
        var chars = Array(descr.utf8)
        var order: UInt8 = UInt8(ascii: "=")
        if let first = chars.first, "<>|=".utf8.contains(first) {
            order = first
            chars.removeFirst()
        }
        guard let kind = chars.first else { throw .malformed("empty descr '\(descr)'") }
        if kind == UInt8(ascii: "O") {  // '|O', or '|O8' from old NumPy
            throw .unsupported("object array ('\(descr)': pickled Python objects); only numeric arrays are read")
        }
        let digits = chars.dropFirst()
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count <= 4, let size = Int(String(decoding: digits, as: UTF8.self)) else {
            throw .unsupported("descr '\(descr)' is not a NumPy type string of a kind and a size, like '<f4'")
        }
        let dtype: DType?
        switch Character(Unicode.Scalar(kind)) {
        case "f": dtype = [2: .float16, 4: .float32, 8: .float64][size]
        case "i": dtype = [1: .int8, 2: .int16, 4: .int32, 8: .int64][size]
        case "u": dtype = [1: .uint8, 2: .uint16, 4: .uint32, 8: .uint64][size]
        case "b": dtype = size == 1 ? .bool : nil
        case "c": dtype = [8: .complex64, 16: .complex128][size]
        case "V":
            if size == 2 {
                throw .unsupported("raw 2-byte void type '\(descr)': this is how NumPy saves ml_dtypes' bfloat16 "
                                   + "(and any other 2-byte custom type), so the element type is ambiguous; "
                                   + "save bfloat16 as float32, or as an ONNX TensorProto .pb")
            }
            throw .unsupported("raw void type '\(descr)' (\(size) bytes of unknown type)")
        case "U", "S", "a": throw .unsupported("string array ('\(descr)'); only numeric arrays are read")
        case "M", "m": throw .unsupported("datetime array ('\(descr)') has no ONNX type")
        default: dtype = nil
        }
        guard let dtype else {
            let hint = kind == UInt8(ascii: "f") && size > 8 ? " (long double has no ONNX type)" : ""
            throw .unsupported("dtype '\(descr)' has no ONNX equivalent\(hint)")
        }
        let singleByte = size == 1
        switch order {
        case UInt8(ascii: ">"): return (dtype, !singleByte)
        case UInt8(ascii: "|") where !singleByte:
            throw .unsupported("descr '\(descr)' gives no byte order ('|') for a \(size)-byte type")
        default: return (dtype, false)
        }
    }

    // MARK: Writing

    /// NumPy's type string for `dtype`, or nil when NumPy has none.
    public static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .float16: return "<f2"
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .int8: return "|i1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .uint8: return "|u1"
        case .uint16: return "<u2"
        case .uint32: return "<u4"
        case .uint64: return "<u8"
        case .bool: return "|b1"
        case .complex64: return "<c8"
        case .complex128: return "<c16"
        case .undefined, .string, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
             .uint4, .int4, .float4e2m1, .float8e8m0, .uint2, .int2:
            return nil
        }
    }

    /// Why `dtype` cannot be written as .npy (for a dtype `descr(for:)` has no string for).
    static func whyNoDescr(_ dtype: DType) -> String {
        switch dtype {
        case .bfloat16:
            return "bfloat16 has no NumPy dtype (NumPy would save ml_dtypes' bfloat16 as the ambiguous raw type '<V2'); "
                + "write an ONNX .pb file, or convert to float32"
        case .string: return "string tensors are not written as .npy; write an ONNX .pb file"
        default: return "\(dtype) has no NumPy dtype; write an ONNX .pb file"
        }
    }

    /// The header NumPy's `numpy.lib.format.write_array` writes for a little-endian C-order
    /// array of `dtype` and `shape`, byte for byte: keys sorted, the growth padding after the
    /// dict, spaces and a newline up to a 64-byte boundary; version 1.0 unless the header
    /// needs 2.0's 32-bit length. Nil when `dtype` has no NumPy type string.
    public static func encode(dtype: DType, shape: [Int]) -> [UInt8]? {
        guard let d = descr(for: dtype) else { return nil }
        var dict = "{'descr': '\(d)', 'fortran_order': False, 'shape': \(repr(shape)), }"
        if let first = shape.first {
            dict += String(repeating: " ", count: max(0, growthDigits - String(first).count))
        }
        let body = Array(dict.utf8)
        let length = body.count + 1  // + the final newline
        var version: UInt8 = 1
        var lengthSize = 2
        var padding = alignment - (8 + lengthSize + length) % alignment
        if length + padding > Int(UInt16.max) {
            version = 2
            lengthSize = 4
            padding = alignment - (8 + lengthSize + length) % alignment
        }
        var out = magic + [version, 0]
        let field = length + padding
        for k in 0..<lengthSize { out.append(UInt8(truncatingIfNeeded: field >> (8 * k))) }
        out += body
        out += [UInt8](repeating: 0x20, count: padding)
        out.append(0x0a)
        return out
    }

    /// Python's repr of a shape tuple: `()`, `(3,)`, `(2, 3)`.
    static func repr(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
