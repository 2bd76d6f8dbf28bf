#if canImport(Glibc)
import Glibc
#endif

/// Owns every C allocation made while building protobuf-c messages for one export, and
/// frees them together. Tensor bytes are not copied here: `raw_data` fields point at the
/// tensors' own storage, which the exporter keeps alive while packing.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Arrays whose storage protobuf-c messages point into; retained until the arena dies.
    private var borrowed: [[UInt8]] = []

    deinit { for b in blocks { free(b) } }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        guard let p = malloc(max(size, 1)) else { fatalError("out of memory") }
        blocks.append(p)
        return p
    }

    /// A new message initialized by protobuf-c's generated `*_init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialize(p)
        return p
    }

    /// A C array holding `values` (nil when empty, as protobuf-c expects with a zero count).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty else { return nil }
        let p = allocate(MemoryLayout<T>.stride * values.count).bindMemory(to: T.self, capacity: values.count)
        p.initialize(from: values, count: values.count)
        return p
    }

    /// A NUL-terminated copy of `s`; nil for an empty string when `emptyIsNull` (an unset
    /// optional field), else a real empty string (repeated fields need one).
    func cString(_ s: String, emptyIsNull: Bool = true) -> UnsafeMutablePointer<CChar>? {
        if s.isEmpty && emptyIsNull { return nil }
        let utf8 = Array(s.utf8)
        let p = allocate(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        utf8.withUnsafeBufferPointer { b in
            for i in 0..<b.count { p[i] = CChar(bitPattern: b[i]) }
        }
        p[utf8.count] = 0
        return p
    }

    /// A pointer to `bytes`' own storage for a protobuf-c `bytes` field, without copying.
    /// The arena retains the array, and nothing mutates it while the arena lives, so its
    /// heap storage neither moves nor is freed before the messages are packed.
    func borrow(_ bytes: [UInt8]) -> (Int, UnsafeMutablePointer<UInt8>?) {
        guard !bytes.isEmpty else { return (0, nil) }
        borrowed.append(bytes)
        let base = borrowed[borrowed.count - 1].withUnsafeBufferPointer { $0.baseAddress! }
        return (bytes.count, UnsafeMutablePointer(mutating: base))
    }

    /// A copy of `bytes` for a protobuf-c `bytes` field.
    func binary(_ bytes: [UInt8]) -> (Int, UnsafeMutablePointer<UInt8>?) {
        guard !bytes.isEmpty else { return (0, nil) }
        let p = allocate(bytes.count).bindMemory(to: UInt8.self, capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return (bytes.count, p)
    }
}
