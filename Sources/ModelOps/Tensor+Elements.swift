import ModelIR

extension Tensor {
    /// Calls `body` with the elements as `T` (whose dtype must match). Storage that is not
    /// aligned for `T` (a mapped raw_data field at an odd offset) is copied first.
    public func withElements<T: TensorElement, R>(_: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(T.dtype == dtype, "tensor '\(name)' is \(dtype), read as \(T.dtype)")
        return try withUnsafeBytes { raw in
            let count = raw.count / MemoryLayout<T>.stride
            if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<T>.alignment != 0 {
                let copy = [UInt8](raw)
                return try copy.withUnsafeBytes { c in
                    try body(UnsafeBufferPointer(start: c.baseAddress?.assumingMemoryBound(to: T.self), count: count))
                }
            }
            return try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: count))
        }
    }

    /// The elements copied into an array (for small tensors: shapes, axes, scalars).
    public func elements<T: TensorElement>(_: T.Type) -> [T] {
        withElements(T.self) { Array($0) }
    }

    /// A new tensor of `dims` whose elements `fill` writes (they start zeroed).
    public static func make<T: TensorElement>(_: T.Type, dims: [Int], name: String = "",
                                             _ fill: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> Tensor {
        let count = Shape.elementCount(of: dims) ?? 0
        var bytes = [UInt8](repeating: 0, count: count * MemoryLayout<T>.stride)
        try bytes.withUnsafeMutableBytes { raw in
            try fill(UnsafeMutableBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: count))
        }
        return Tensor(unchecked: T.dtype, dims: dims, storage: .owned(bytes), name: name)
    }

    /// A tensor holding `values` with `dims` (default: 1-D).
    public static func of<T: TensorElement>(_ values: [T], dims: [Int]? = nil, name: String = "") -> Tensor {
        let bytes = values.withUnsafeBytes { Array($0) }
        return Tensor(unchecked: T.dtype, dims: dims ?? [values.count], storage: .owned(bytes), name: name)
    }

    /// A 0-d tensor holding `value`.
    public static func scalar<T: TensorElement>(_ value: T, name: String = "") -> Tensor {
        of([value], dims: [], name: name)
    }

    /// The same bytes viewed with other dims (element count must agree). No copy.
    public func reshaped(_ newDims: [Int]) -> Tensor {
        var t = self
        t.dims = newDims
        return t
    }

    /// Integer contents as Int (int32/int64/uint8... tensors used as shapes, axes, indices).
    public func integers() -> [Int]? {
        switch dtype {
        case .int64: return elements(Int64.self).map { Int($0) }
        case .int32: return elements(Int32.self).map { Int($0) }
        case .int16: return elements(Int16.self).map { Int($0) }
        case .int8: return elements(Int8.self).map { Int($0) }
        case .uint8: return elements(UInt8.self).map { Int($0) }
        case .uint16: return elements(UInt16.self).map { Int($0) }
        case .uint32: return elements(UInt32.self).map { Int($0) }
        case .uint64: return elements(UInt64.self).map { Int(truncatingIfNeeded: $0) }
        default: return nil
        }
    }
}
