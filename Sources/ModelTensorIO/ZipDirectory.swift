/// The entry count a zip archive's end-of-central-directory record declares (ZIP64 aware).
///
/// ZIPFoundation's entry iterator stops quietly at the first central-directory record it
/// cannot read; comparing the entries it yields with this count turns a damaged archive
/// into an error instead of a silently shorter list of tensors.
enum ZipDirectory {
    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    /// The empty archive: an end-of-central-directory record and nothing else.
    static let emptyArchive: [UInt8] = [0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)

    /// The number of entries `bytes` (a whole zip file) declares; throws a reason when the
    /// end record cannot be found.
    static func entryCount(_ bytes: UnsafeRawBufferPointer) throws(ReasonError) -> UInt64 {
        let minimum = 22
        guard bytes.count >= minimum else {
            throw ReasonError("not a zip archive: \(bytes.count) bytes is shorter than a zip's end record")
        }
        // The end record is the last 22 bytes, unless a comment (at most 65,535 bytes) follows.
        var at = bytes.count - minimum
        let lowest = max(0, bytes.count - minimum - 0xffff)
        while at >= lowest {
            if u32(bytes, at) == endSignature && at + minimum + Int(u16(bytes, at + 20)) <= bytes.count { break }
            at -= 1
        }
        guard at >= lowest else {
            throw ReasonError("not a zip archive: no end-of-central-directory record")
        }
        let count = UInt64(u16(bytes, at + 10))
        guard count == 0xffff || u32(bytes, at + 16) == 0xffff_ffff else { return count }
        // ZIP64: the locator sits just before the end record and points at the ZIP64 end record.
        let locator = at - 20
        guard locator >= 0, u32(bytes, locator) == zip64LocatorSignature else { return count }
        let end = u64(bytes, locator + 8)
        guard bytes.count >= 56, end <= UInt64(bytes.count - 56), u32(bytes, Int(end)) == zip64EndSignature else {
            throw ReasonError("the ZIP64 end record's offset \(end) is not inside the file")
        }
        return u64(bytes, Int(end) + 32)
    }

    private static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b[at]) | UInt16(b[at + 1]) << 8
    }

    private static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(b[at + $1]) << (8 * UInt32($1)) }
    }

    private static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
    }
}

/// A reason, to be wrapped with the file name by the caller.
struct ReasonError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
