import ONNXProtoC
import CProtobufC

/// Small conveniences for reading protobuf-c structs from Swift.
@inline(__always)
func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

/// The `n` elements of a protobuf-c repeated field (empty when the pointer is null).
@inline(__always)
func items<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
    guard let p, n > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
    return UnsafeBufferPointer(start: p, count: n)
}

/// The non-null message pointers of a protobuf-c repeated message field.
@inline(__always)
func messages<T>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int) -> [UnsafeMutablePointer<T>] {
    items(p, n).compactMap { $0 }
}

@inline(__always)
func bytes(_ b: ProtobufCBinaryData) -> [UInt8] {
    guard let data = b.data, b.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: b.len))
}
