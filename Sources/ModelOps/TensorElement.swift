import ModelIR

/// A Swift type that stores one element of a tensor of `dtype` in ONNX's raw layout.
public protocol TensorElement: Sendable {
    static var dtype: DType { get }
    static var zero: Self { get }
}

/// Elements with arithmetic: the integer and floating-point types.
public protocol NumericElement: TensorElement, Numeric, Comparable {
    /// The element as a Double (exact for every type but (U)Int64 beyond 2^53).
    var asDouble: Double { get }
    /// The element nearest to `value` (ONNX/NumPy cast semantics for floats: round to nearest
    /// even; for integers: truncation toward zero, wrapping like NumPy's C casts).
    static func from(_ value: Double) -> Self
}

/// Floating-point elements (float16, float32, float64; bfloat16 through `BFloat16`).
public protocol FloatElement: NumericElement, BinaryFloatingPoint {
    /// Computation type for transcendental functions: Float for 16-bit types, Self otherwise.
    var asFloat: Float { get }
}

/// Integer elements.
public protocol IntegerElement: NumericElement, FixedWidthInteger {}

extension Float: FloatElement {
    public static var dtype: DType { .float32 }
    public var asDouble: Double { Double(self) }
    public var asFloat: Float { self }
    public static func from(_ value: Double) -> Float { Float(value) }
}
extension Double: FloatElement {
    public static var dtype: DType { .float64 }
    public var asDouble: Double { self }
    public var asFloat: Float { Float(self) }
    public static func from(_ value: Double) -> Double { value }
}
extension Float16: FloatElement {
    public static var dtype: DType { .float16 }
    public var asDouble: Double { Double(self) }
    public var asFloat: Float { Float(self) }
    public static func from(_ value: Double) -> Float16 { Float16(value) }
}

extension IntegerElement {
    public var asDouble: Double { Double(self) }
    public static func from(_ value: Double) -> Self {
        guard value.isFinite else { return 0 }
        // Truncate toward zero, then wrap into the type like a C cast through int64.
        if value >= -9.2e18 && value <= 9.2e18 { return Self(truncatingIfNeeded: Int64(value)) }
        return Self(truncatingIfNeeded: UInt64(Swift.max(0, Swift.min(value, 1.8e19))))
    }
}
extension Int8: IntegerElement { public static var dtype: DType { .int8 } }
extension UInt8: IntegerElement { public static var dtype: DType { .uint8 } }
extension Int16: IntegerElement { public static var dtype: DType { .int16 } }
extension UInt16: IntegerElement { public static var dtype: DType { .uint16 } }
extension Int32: IntegerElement { public static var dtype: DType { .int32 } }
extension UInt32: IntegerElement { public static var dtype: DType { .uint32 } }
extension Int64: IntegerElement { public static var dtype: DType { .int64 } }
extension UInt64: IntegerElement { public static var dtype: DType { .uint64 } }

extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public static var zero: Bool { false }
}

/// Calls `body` with the Swift element type of `dtype`. Visitors are how a kernel is
/// written once, generically, and run for every dtype it supports.
public protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericElement>(_ type: T.Type) throws -> Result
}

public protocol FloatVisitor {
    associatedtype Result
    func visit<T: FloatElement>(_ type: T.Type) throws -> Result
}

public protocol IntegerVisitor {
    associatedtype Result
    func visit<T: IntegerElement>(_ type: T.Type) throws -> Result
}

extension DType {
    /// Runs `visitor` with this dtype's numeric element type; nil when it has none
    /// (bool, string, bfloat16, float8, 4-bit, complex).
    public func visitNumeric<V: NumericVisitor>(_ visitor: V) throws -> V.Result? {
        switch self {
        case .float32: return try visitor.visit(Float.self)
        case .float64: return try visitor.visit(Double.self)
        case .float16: return try visitor.visit(Float16.self)
        case .int8: return try visitor.visit(Int8.self)
        case .uint8: return try visitor.visit(UInt8.self)
        case .int16: return try visitor.visit(Int16.self)
        case .uint16: return try visitor.visit(UInt16.self)
        case .int32: return try visitor.visit(Int32.self)
        case .uint32: return try visitor.visit(UInt32.self)
        case .int64: return try visitor.visit(Int64.self)
        case .uint64: return try visitor.visit(UInt64.self)
        default: return nil
        }
    }

    /// Runs `visitor` with this dtype's floating-point element type; nil for others.
    public func visitFloat<V: FloatVisitor>(_ visitor: V) throws -> V.Result? {
        switch self {
        case .float32: return try visitor.visit(Float.self)
        case .float64: return try visitor.visit(Double.self)
        case .float16: return try visitor.visit(Float16.self)
        default: return nil
        }
    }

    /// Runs `visitor` with this dtype's integer element type; nil for others.
    public func visitInteger<V: IntegerVisitor>(_ visitor: V) throws -> V.Result? {
        switch self {
        case .int8: return try visitor.visit(Int8.self)
        case .uint8: return try visitor.visit(UInt8.self)
        case .int16: return try visitor.visit(Int16.self)
        case .uint16: return try visitor.visit(UInt16.self)
        case .int32: return try visitor.visit(Int32.self)
        case .uint32: return try visitor.visit(UInt32.self)
        case .int64: return try visitor.visit(Int64.self)
        case .uint64: return try visitor.visit(UInt64.self)
        default: return nil
        }
    }
}
