/// A minimal protobuf wire-format reader and writer, used only where protobuf-c's
/// copy-everything unpacking would cost memory: the importer walks the top levels of a
/// mapped ModelProto with it, lifts out every initializer's `raw_data` span (the tensor
/// borrows it from the mapping), and hands protobuf-c a slim copy of the rest.
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// One field: its number, wire type, the span of its payload (for length-delimited
    /// fields) and the span of the whole field including the tag.
    struct Field {
        let number: UInt64
        let wireType: UInt8
        let whole: Range<Int>
        let payload: Range<Int>
    }

    enum Failure: Error {
        case truncated(at: Int)
        case badWireType(UInt8, at: Int)
        case varintTooLong(at: Int)
    }

    var isAtEnd: Bool { position >= end }

    mutating func varint() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw .truncated(at: start) }
            let b = bytes[position]
            position += 1
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift >= 64 { throw .varintTooLong(at: start) }
        }
    }

    mutating func next() throws(Failure) -> Field {
        let start = position
        let tag = try varint()
        let wireType = UInt8(tag & 7)
        let number = tag >> 3
        let payloadStart: Int
        switch wireType {
        case 0:
            _ = try varint()
            payloadStart = position
        case 1, 5:
            let size = wireType == 1 ? 8 : 4
            guard end - position >= size else { throw .truncated(at: start) }
            payloadStart = position
            position += size
        case 2:
            let length = try varint()
            guard length <= UInt64(end - position) else { throw .truncated(at: start) }
            payloadStart = position
            position += Int(length)
            return Field(number: number, wireType: wireType, whole: start..<position,
                         payload: payloadStart..<position)
        default:
            throw .badWireType(wireType, at: start)
        }
        return Field(number: number, wireType: wireType, whole: start..<position,
                     payload: payloadStart..<position)
    }

    /// The string payload of a length-delimited field, decoded as UTF-8 (lossy).
    func string(_ field: Field) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[field.payload]), as: UTF8.self)
    }
}

struct WireWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func append(_ source: UnsafeRawBufferPointer, _ range: Range<Int>) {
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[range]))
    }

    /// A length-delimited field whose payload is `payload`.
    mutating func message(_ number: UInt64, _ payload: [UInt8]) {
        varint(number << 3 | 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }
}
