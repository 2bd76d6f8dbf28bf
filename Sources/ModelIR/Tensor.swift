/// Where a tensor's bytes live.
public enum TensorStorage: @unchecked Sendable {
    /// Bytes the tensor owns, little-endian ONNX `raw_data` layout.
    case owned([UInt8])
    /// `count` bytes at `offset` in a mapped file (a model's `raw_data` or an external-data
    /// file), borrowed without copying.
    case mapped(MappedFile, offset: Int, count: Int)
    /// The elements of a `string` tensor, each as raw bytes.
    case strings([[UInt8]])
}

/// A constant tensor: an initializer or a tensor-valued attribute. Its bytes are exactly
/// ONNX's `raw_data` layout (little-endian, C order, 4-bit types packed low nibble first).
public struct Tensor: @unchecked Sendable {
    public var dtype: DType
    /// Dimensions; an empty array is a scalar.
    public var dims: [Int]
    public var storage: TensorStorage
    /// The name the tensor had in its `TensorProto` (attribute tensors keep theirs).
    public var name: String
    public var docString: String

    /// Creates a tensor and checks that the storage holds exactly the elements `dims` says.
    /// Throws `Tensor.Invalid` naming the tensor when it does not.
    public init(dtype: DType, dims: [Int], storage: TensorStorage, name: String = "",
                docString: String = "") throws(Tensor.Invalid) {
        self.dtype = dtype
        self.dims = dims
        self.storage = storage
        self.name = name
        self.docString = docString
        try validate()
    }

    /// Creates a tensor without validation, for callers that computed the bytes themselves.
    public init(unchecked dtype: DType, dims: [Int], storage: TensorStorage, name: String = "") {
        self.dtype = dtype
        self.dims = dims
        self.storage = storage
        self.name = name
        self.docString = ""
    }

    /// The number of elements; nil when the product of `dims` overflows or a dim is negative.
    public var elementCount: Int? { Shape.elementCount(of: dims) }

    /// Bytes of storage (for `string` tensors, the sum of the element lengths).
    public var byteCount: Int {
        switch storage {
        case .owned(let b): return b.count
        case .mapped(_, _, let count): return count
        case .strings(let s): return s.reduce(0) { $0 + $1.count }
        }
    }

    /// Whether the bytes are borrowed from a mapped file.
    public var isMapped: Bool {
        if case .mapped = storage { return true }
        return false
    }

    /// Calls `body` with the raw bytes (empty for `string` tensors). No copy is made.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .owned(let b):
            return try b.withUnsafeBytes(body)
        case .mapped(let file, let offset, let count):
            return try body(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + count)]))
        case .strings:
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// The same tensor with its bytes moved to an unlinked temporary file and mapped, when
    /// it owns at least `threshold` bytes (see `MappedFile.spill`); otherwise itself. Falls
    /// back to itself if the file cannot be written.
    public func spilled(threshold: Int = 1 << 20) -> Tensor {
        guard case .owned(let bytes) = storage, bytes.count >= threshold,
              let file = try? bytes.withUnsafeBytes({ b throws(MappedFile.Failure) in try MappedFile.spill(b) }) else { return self }
        var t = self
        t.storage = .mapped(file, offset: 0, count: bytes.count)
        return t
    }

    /// For a mapped tensor, gives back the memory its pages hold (see
    /// `MappedFile.releasePages`); a no-op for owned storage.
    public func releaseResidentPages() {
        if case .mapped(let file, let offset, let count) = storage { file.releasePages(offset: offset, count: count) }
    }

    /// Whether two tensors have the same dtype, dims and bytes (exact, bitwise).
    public func isBitwiseEqual(to other: Tensor) -> Bool {
        guard dtype == other.dtype, dims == other.dims else { return false }
        if case .strings(let a) = storage {
            if case .strings(let b) = other.storage { return a == b }
            return false
        }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in a.elementsEqual(b) }
        }
    }

    /// Checks dims and the element count against the storage.
    public func validate() throws(Tensor.Invalid) {
        if let bad = dims.first(where: { $0 < 0 }) {
            throw Invalid(tensor: name, reason: "negative dimension \(bad) in \(dims)")
        }
        guard let count = elementCount else {
            throw Invalid(tensor: name, reason: "the element count of dims \(dims) overflows a 64-bit integer")
        }
        if dtype == .undefined {
            throw Invalid(tensor: name, reason: "data type is undefined (0)")
        }
        if case .strings(let s) = storage {
            guard dtype == .string else {
                throw Invalid(tensor: name, reason: "\(dtype) tensor holds string elements")
            }
            guard s.count == count else {
                throw Invalid(tensor: name, reason: "dims \(dims) need \(count) strings, found \(s.count)")
            }
            return
        }
        guard dtype != .string else {
            throw Invalid(tensor: name, reason: "string tensor stored as raw bytes")
        }
        guard let expected = dtype.byteCount(elements: count) else {
            throw Invalid(tensor: name, reason: "the byte size of dims \(dims) overflows a 64-bit integer")
        }
        guard expected == byteCount else {
            throw Invalid(tensor: name,
                          reason: "dims \(dims) of \(dtype) need \(expected) bytes, found \(byteCount)")
        }
    }

    /// A tensor whose contents do not match its declared type and shape.
    public struct Invalid: Error, CustomStringConvertible {
        public let tensor: String
        public let reason: String
        public var description: String { "tensor '\(tensor)': \(reason)" }
    }
}
