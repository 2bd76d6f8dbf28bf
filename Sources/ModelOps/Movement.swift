import ModelIR

/// A Swift type one element of a tensor is moved as: an unsigned integer of the element's
/// size for fixed-width dtypes (bool and float16 move as UInt8 and UInt16), `Bytes16` for
/// complex128, `[UInt8]` for strings. Movement kernels are generic over it, so one
/// specialization per element size serves every dtype.
protocol MoveCarrier {
    /// The element a new tensor starts with: all-zero bytes, or the empty string.
    static var blank: Self { get }
    /// Calls `body` with `tensor`'s elements (copied first only when a mapped tensor's bytes
    /// are misaligned for `Self`).
    static func read<R>(_ tensor: Tensor, _ body: (UnsafeBufferPointer<Self>) throws -> R) throws -> R
    /// Storage for `count` elements written by `fill`. They start as `blank` unless
    /// `uninitialized` (fixed-width carriers only: `fill` then writes every element).
    static func make(count: Int, uninitialized: Bool, _ fill: (UnsafeMutableBufferPointer<Self>) throws -> Void) rethrows -> TensorStorage
}

/// A carrier for fixed-width elements: raw little-endian bytes reinterpreted in place.
protocol FixedMoveCarrier: MoveCarrier {}

extension FixedMoveCarrier {
    static func read<R>(_ tensor: Tensor, _ body: (UnsafeBufferPointer<Self>) throws -> R) throws -> R {
        try tensor.withUnsafeBytes { raw in
            let count = raw.count / MemoryLayout<Self>.stride
            if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Self>.alignment != 0 {
                let copy = [UInt8](raw)
                return try copy.withUnsafeBytes { c in
                    try body(UnsafeBufferPointer(start: c.baseAddress?.assumingMemoryBound(to: Self.self), count: count))
                }
            }
            return try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Self.self), count: count))
        }
    }

    static func make(count: Int, uninitialized: Bool, _ fill: (UnsafeMutableBufferPointer<Self>) throws -> Void) rethrows -> TensorStorage {
        let byteCount = count * MemoryLayout<Self>.stride
        if uninitialized {
            // Skipping the zero fill saves a pass over the output (and its page faults).
            return .owned(try [UInt8](unsafeUninitializedCapacity: byteCount) { raw, initialized in
                try fill(UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(raw.baseAddress)?.bindMemory(to: Self.self, capacity: count),
                                                    count: count))
                initialized = byteCount
            })
        }
        var bytes = [UInt8](repeating: 0, count: byteCount)
        try bytes.withUnsafeMutableBytes { raw in
            try fill(UnsafeMutableBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Self.self), count: count))
        }
        return .owned(bytes)
    }
}

extension UInt8: FixedMoveCarrier { static var blank: UInt8 { 0 } }
extension UInt16: FixedMoveCarrier { static var blank: UInt16 { 0 } }
extension UInt32: FixedMoveCarrier { static var blank: UInt32 { 0 } }
extension UInt64: FixedMoveCarrier { static var blank: UInt64 { 0 } }

/// A 16-byte element (complex128), moved whole.
struct Bytes16: FixedMoveCarrier {
    var low: UInt64, high: UInt64
    static var blank: Bytes16 { Bytes16(low: 0, high: 0) }
}

extension Array: MoveCarrier where Element == UInt8 {
    static var blank: [UInt8] { [] }

    static func read<R>(_ tensor: Tensor, _ body: (UnsafeBufferPointer<[UInt8]>) throws -> R) throws -> R {
        guard case .strings(let s) = tensor.storage else {
            throw OpError.invalid("tensor '\(tensor.name)' is \(tensor.dtype), expected string storage")
        }
        return try s.withUnsafeBufferPointer(body)
    }

    static func make(count: Int, uninitialized: Bool, _ fill: (UnsafeMutableBufferPointer<[UInt8]>) throws -> Void) rethrows -> TensorStorage {
        var strings = [[UInt8]](repeating: [], count: count)
        try strings.withUnsafeMutableBufferPointer { try fill($0) }
        return .strings(strings)
    }
}

/// A kernel that builds one output from inputs of one dtype by moving elements.
protocol ElementMover {
    /// Whether `move` writes every output element; when false, `dst` starts as `T.blank`.
    var writesEveryElement: Bool { get }
    /// Writes `dst` from `src` (the inputs in order).
    func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) throws
}

extension ElementMover {
    var writesEveryElement: Bool { false }
}

/// Calls back with the carrier type of a dtype.
protocol CarrierVisitor {
    associatedtype Result
    func visit<T: MoveCarrier>(_ type: T.Type) throws -> Result
}

/// Shared machinery of the element-moving kernels (ShapeOps, SliceOps, PadOps,
/// GatherScatterOps, ConstantOps): carrier dispatch, strided copies, axis and index checks.
enum Movement {
    /// Runs `visitor` with the carrier of `dtype`; throws for sub-byte types (int4, uint4,
    /// float4), which pack two elements per byte.
    static func withCarrier<V: CarrierVisitor>(_ dtype: DType, _ visitor: V) throws -> V.Result {
        if dtype == .string { return try visitor.visit([UInt8].self) }
        switch dtype.bitWidth {
        case 8: return try visitor.visit(UInt8.self)
        case 16: return try visitor.visit(UInt16.self)
        case 32: return try visitor.visit(UInt32.self)
        case 64: return try visitor.visit(UInt64.self)
        case 128: return try visitor.visit(Bytes16.self)
        default: throw OpError.unsupported("moving \(dtype) elements (packed sub-byte types)")
        }
    }

    /// A new tensor of `dtype` and `dims` that `mover` writes from `inputs` (all of `dtype`).
    static func map<M: ElementMover>(_ inputs: [Tensor], dtype: DType, dims: [Int], _ mover: M) throws -> Tensor {
        for (i, t) in inputs.enumerated() where t.dtype != dtype {
            throw OpError.invalid("operand \(i) is \(t.dtype), expected \(dtype)")
        }
        guard let count = Shape.elementCount(of: dims) else { throw OpError.invalid("output shape \(dims) is invalid") }
        guard count <= maxElements else { throw OpError.invalid("output shape \(dims) has \(count) elements, more than \(maxElements)") }
        let storage = try withCarrier(dtype, MapVisitor(inputs: inputs, count: count, mover: mover))
        return Tensor(unchecked: dtype, dims: dims, storage: storage)
    }

    /// The most elements one output may have (2^34: 64 GiB of float32), so a corrupt shape
    /// gives an error rather than a failed allocation.
    static let maxElements = 1 << 34

    struct MapVisitor<M: ElementMover>: CarrierVisitor {
        let inputs: [Tensor]
        let count: Int
        let mover: M
        func visit<T: MoveCarrier>(_: T.Type) throws -> TensorStorage {
            try Movement.read(inputs[...], T.self, []) { src in
                try T.make(count: count, uninitialized: mover.writesEveryElement) { dst in try mover.move(src, dst) }
            }
        }
    }

    /// Calls `body` with every tensor's elements as `T`.
    static func read<T: MoveCarrier, R>(_ tensors: ArraySlice<Tensor>, _: T.Type, _ done: [UnsafeBufferPointer<T>],
                                        _ body: ([UnsafeBufferPointer<T>]) throws -> R) throws -> R {
        guard let first = tensors.first else { return try body(done) }
        return try T.read(first) { buf in try read(tensors.dropFirst(), T.self, done + [buf], body) }
    }

    // MARK: Strided copies

    /// C-order strides (in elements) of `dims`.
    static func strides(_ dims: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }

    /// Copies the strided view of `src` (element `offset`, `strides` per dim of `shape`, which
    /// may be negative or zero) into a new tensor of `outDims` (same element count as `shape`).
    static func strided(_ x: Tensor, offset: Int, strides: [Int], shape: [Int], outDims: [Int]) throws -> Tensor {
        try map([x], dtype: x.dtype, dims: outDims,
                StridedMover(offset: offset, shape: shape, srcStrides: strides, dstOffset: 0, dstStrides: Movement.strides(shape)))
    }

    /// The elements `starts[i] + k * steps[i]`, `k < shape[i]`, of `x` (bounds already checked).
    static func window(_ x: Tensor, starts: [Int], steps: [Int], shape: [Int]) throws -> Tensor {
        if starts.allSatisfy({ $0 == 0 }), shape == x.dims { return x }
        let s = strides(x.dims)
        var offset = 0
        for i in 0..<s.count { offset += starts[i] * s[i] }
        return try strided(x, offset: offset, strides: zip(s, steps).map { $0 * $1 }, shape: shape, outDims: shape)
    }

    /// `x` with its dims permuted: output dim i is input dim `perm[i]`.
    static func transpose(_ x: Tensor, perm: [Int]) throws -> Tensor {
        let r = x.dims.count
        guard perm.count == r, Set(perm).count == r, perm.allSatisfy({ $0 >= 0 && $0 < r }) else {
            throw OpError.invalid("perm \(perm) is not a permutation of the \(r) input dims \(x.dims)")
        }
        if perm == Array(0..<r) { return x }
        let s = strides(x.dims)
        let shape = perm.map { x.dims[$0] }
        // Dims of size 1 can move freely: if the non-unit dims keep their order, it is a reshape.
        let moved = perm.filter { x.dims[$0] != 1 }
        if moved == moved.sorted() { return x.reshaped(shape) }
        return try strided(x, offset: 0, strides: perm.map { s[$0] }, shape: shape, outDims: shape)
    }

    /// Gathers slices of `x` along `axis`: output dims are x.dims[..<axis] + indexDims +
    /// x.dims[(axis+1)...], where `indices` (already in range) has `indexDims`' count.
    static func take(_ x: Tensor, axis: Int, indices: [Int], indexDims: [Int]) throws -> Tensor {
        let outer = x.dims[..<axis].reduce(1, *), inner = x.dims[(axis + 1)...].reduce(1, *)
        let outDims = Array(x.dims[..<axis]) + indexDims + Array(x.dims[(axis + 1)...])
        return try map([x], dtype: x.dtype, dims: outDims,
                       TakeMover(outer: outer, axisSize: x.dims[axis], inner: inner, indices: indices))
    }

    struct TakeMover: ElementMover {
        var writesEveryElement: Bool { true }
        let outer: Int, axisSize: Int, inner: Int
        let indices: [Int]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let s = src[0].baseAddress, var d = dst.baseAddress, inner > 0 else { return }
            if inner == 1 {
                for o in 0..<outer {
                    let row = s + o * axisSize
                    for k in indices { d.pointee = row[k]; d += 1 }
                }
                return
            }
            for o in 0..<outer {
                let block = s + o * axisSize * inner
                for k in indices {
                    d.update(from: block + k * inner, count: inner)
                    d += inner
                }
            }
        }
    }

    /// Copies `shape` elements from `src + offset` (strides `srcStrides`) to `dst + dstOffset`
    /// (strides `dstStrides`). Dims are merged where both sides are contiguous; a copy whose
    /// innermost destination dim is strided in the source is done in cache-sized tiles.
    struct StridedMover: ElementMover {
        let offset: Int
        let shape: [Int], srcStrides: [Int]
        let dstOffset: Int
        let dstStrides: [Int]
        /// Whether the destination is the whole output in C order (Slice, Transpose, Tile).
        var writesEveryElement: Bool { dstOffset == 0 && dstStrides == Movement.strides(shape) }
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let s = src[0].baseAddress, let d = dst.baseAddress else { return }
            Movement.copy(shape: shape, from: s + offset, srcStrides, to: d + dstOffset, dstStrides)
        }
    }

    static func copy<T>(shape: [Int], from src: UnsafePointer<T>, _ srcStrides: [Int],
                        to dst: UnsafeMutablePointer<T>, _ dstStrides: [Int]) {
        // Drop unit dims, merge dims that are contiguous on both sides.
        var dims: [(n: Int, s: Int, d: Int)] = []
        for i in 0..<shape.count {
            let n = shape[i]
            if n == 0 { return }
            if n == 1 { continue }
            if let last = dims.last, last.s == srcStrides[i] * n, last.d == dstStrides[i] * n {
                dims[dims.count - 1] = (last.n * n, srcStrides[i], dstStrides[i])
            } else {
                dims.append((n, srcStrides[i], dstStrides[i]))
            }
        }
        guard let innermost = dims.popLast() else {
            dst.pointee = src.pointee
            return
        }
        // Tiled 2-D transpose: the innermost destination dim is contiguous in dst, another dim
        // is contiguous in src.
        var tileDim: (n: Int, s: Int, d: Int)? = nil
        if innermost.d == 1 && innermost.s != 1, let k = dims.lastIndex(where: { $0.s == 1 }), dims[k].n >= 4 {
            tileDim = dims.remove(at: k)
        }
        let n = innermost.n, sStride = innermost.s, dStride = innermost.d
        var index = [Int](repeating: 0, count: dims.count)
        var so = 0, dOff = 0
        while true {
            let s = src + so, d = dst + dOff
            if let t = tileDim {
                // 128-byte tile rows: 32 float32s; at least 16, at most 64 elements.
                let tile = Swift.min(64, Swift.max(16, 128 / Swift.max(1, MemoryLayout<T>.stride)))
                for k0 in stride(from: 0, to: t.n, by: tile) {
                    let k1 = min(k0 + tile, t.n)
                    for j0 in stride(from: 0, to: n, by: tile) {
                        let j1 = min(j0 + tile, n)
                        for k in k0..<k1 {
                            let sRow = s + k, dRow = d + k * t.d
                            for j in j0..<j1 { dRow[j] = sRow[j * sStride] }
                        }
                    }
                }
            } else if sStride == 1 && dStride == 1 {
                d.update(from: s, count: n)
            } else {
                for j in 0..<n { d[j * dStride] = s[j * sStride] }
            }
            // Next outer index (odometer).
            var a = dims.count - 1
            while a >= 0 {
                index[a] += 1
                so += dims[a].s
                dOff += dims[a].d
                if index[a] < dims[a].n { break }
                so -= dims[a].s * dims[a].n
                dOff -= dims[a].d * dims[a].n
                index[a] = 0
                a -= 1
            }
            if a < 0 { return }
        }
    }

    // MARK: Operands

    /// A one-element tensor of `dtype` (shape [1]) holding `value` converted as a cast would
    /// (bool: value != 0; bfloat16: rounded to nearest even).
    static func scalar(_ value: Double, dtype: DType) throws -> Tensor {
        switch dtype {
        case .bool: return Tensor.of([value != 0])
        case .bfloat16:
            return Tensor(unchecked: .bfloat16, dims: [1], storage: .owned(bfloat16Bytes([Float(value)])))
        default:
            guard let t = try dtype.visitNumeric(ScalarVisitor(value: value)) else {
                throw OpError.unsupported("a \(dtype) constant")
            }
            return t
        }
    }

    /// bfloat16 encodings (round to nearest even, NaN kept quiet) of `values`, little-endian.
    static func bfloat16Bytes(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 2)
        for v in values {
            let bits = v.bitPattern
            let top = v.isNaN ? UInt16(truncatingIfNeeded: bits >> 16) | 0x40
                              : UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
            out += [UInt8(truncatingIfNeeded: top), UInt8(truncatingIfNeeded: top >> 8)]
        }
        return out
    }

    struct ScalarVisitor: NumericVisitor {
        let value: Double
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor { Tensor.of([T.from(value)]) }
    }

    /// `axis` made non-negative for `rank` (`inclusive`: `rank` itself is allowed, as in
    /// Flatten); throws naming `what` when out of range.
    static func axis(_ axis: Int, rank: Int, inclusive: Bool = false, what: String) throws -> Int {
        let limit = inclusive ? rank + 1 : rank
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < limit else { throw OpError.invalid("\(what): axis \(axis) is out of range for rank \(rank)") }
        return a
    }

    /// The contents of an integer tensor (shapes, axes, indices).
    static func integers(_ t: Tensor, _ what: String) throws -> [Int] {
        guard let v = t.integers() else { throw OpError.invalid("\(what) must be an integer tensor, got \(t.dtype)") }
        return v
    }

    /// Index tensor contents checked against an axis of size `size`; negatives wrap once.
    static func indices(_ t: Tensor, size: Int, _ what: String) throws -> [Int] {
        var v = try integers(t, what)
        for i in 0..<v.count {
            let k = v[i] < 0 ? v[i] + size : v[i]
            guard k >= 0 && k < size else { throw OpError.invalid("\(what): index \(v[i]) is out of range for a dim of size \(size)") }
            v[i] = k
        }
        return v
    }

    /// Numeric contents as Double (float, integer and bool tensors).
    static func doubles(_ t: Tensor, _ what: String) throws -> [Double] {
        if t.dtype == .bool { return t.elements(Bool.self).map { $0 ? 1 : 0 } }
        if t.dtype == .bfloat16 { return try UInt16.read(t) { $0.map { Double(Float(bitPattern: UInt32($0) << 16)) } } }
        guard let v = try t.dtype.visitNumeric(DoublesVisitor(tensor: t)) else {
            throw OpError.invalid("\(what) must be numeric, got \(t.dtype)")
        }
        return v
    }

    struct DoublesVisitor: NumericVisitor {
        let tensor: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> [Double] { tensor.withElements(T.self) { $0.map(\.asDouble) } }
    }

    /// Whether each element is non-zero (strings: non-empty; floats: neither +0 nor -0).
    static func nonZeroFlags(_ x: Tensor) throws -> [Bool] {
        if case .strings(let s) = x.storage { return s.map { !$0.isEmpty } }
        guard let bits = x.dtype.bitWidth, bits % 8 == 0, bits <= 64 else {
            throw OpError.unsupported("NonZero of \(x.dtype)")
        }
        // A float is zero when every bit but the sign is zero (float8 "fnuz" types have no -0).
        let hasSignedZero = x.dtype.isFloatingPoint && x.dtype != .float8e4m3fnuz && x.dtype != .float8e5m2fnuz
        let mask: UInt64 = hasSignedZero ? ~(UInt64(1) << UInt64(bits - 1)) : ~0
        return try withCarrier(x.dtype, NonZeroVisitor(tensor: x, mask: mask))
    }

    struct NonZeroVisitor: CarrierVisitor {
        let tensor: Tensor
        let mask: UInt64
        func visit<T: MoveCarrier>(_: T.Type) throws -> [Bool] {
            switch T.self {
            case is UInt8.Type: return try UInt8.read(tensor) { $0.map { UInt64($0) & mask != 0 } }
            case is UInt16.Type: return try UInt16.read(tensor) { $0.map { UInt64($0) & mask != 0 } }
            case is UInt32.Type: return try UInt32.read(tensor) { $0.map { UInt64($0) & mask != 0 } }
            case is UInt64.Type: return try UInt64.read(tensor) { $0.map { $0 & mask != 0 } }
            default: throw OpError.unsupported("NonZero of \(tensor.dtype)")
            }
        }
    }

    /// A totally ordered key per element for sorting and de-duplication (Unique): numbers by
    /// value with NaNs equal and last, strings bytewise, bool false < true. -0 equals +0.
    enum SortKey: Comparable {
        case number(Double)
        case integer(Int64)
        case unsigned(UInt64)
        case bytes([UInt8])
        case nan

        static func < (a: SortKey, b: SortKey) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x < y
            case (.integer(let x), .integer(let y)): return x < y
            case (.unsigned(let x), .unsigned(let y)): return x < y
            case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y)
            case (.nan, _): return false
            case (_, .nan): return true
            default: return false
            }
        }

        static func == (a: SortKey, b: SortKey) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x == y
            case (.integer(let x), .integer(let y)): return x == y
            case (.unsigned(let x), .unsigned(let y)): return x == y
            case (.bytes(let x), .bytes(let y)): return x == y
            case (.nan, .nan): return true
            default: return false
            }
        }
    }

    static func sortKeys(_ x: Tensor) throws -> [SortKey] {
        switch x.dtype {
        case .string:
            guard case .strings(let s) = x.storage else { return [] }
            return s.map { .bytes($0) }
        case .bool: return x.elements(Bool.self).map { .integer($0 ? 1 : 0) }
        case .float16, .float32, .float64, .bfloat16:
            return try doubles(x, "input 0").map { $0.isNaN ? .nan : .number($0) }
        case .int8, .int16, .int32, .int64:
            return try integers(x, "input 0").map { .integer(Int64($0)) }
        case .uint8, .uint16, .uint32:
            return try integers(x, "input 0").map { .unsigned(UInt64($0)) }
        case .uint64: return x.elements(UInt64.self).map { .unsigned($0) }
        default: throw OpError.unsupported("ordering \(x.dtype) elements")
        }
    }
}
