#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reusable scratch memory for kernels (im2col columns, Winograd tiles, padded planes).
///
/// Large `malloc`s are fresh `mmap`s: every call of a kernel would otherwise page-fault its
/// scratch in again (several percent of a ResNet-50 run). Buffers returned to the pool are
/// kept, up to `capacity` bytes in total (the largest are released first when over), and
/// handed out again to any thread; a buffer is used by one caller at a time. A request no
/// free buffer fits releases the largest free one, so the pool holds about one buffer per
/// concurrent user. Contents are not cleared.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool(capacity: 32 << 20)

    private let capacity: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Free buffers (address, bytes), guarded by `mutex`.
    private var free: [(UnsafeMutableRawPointer, Int)] = []
    private var freeBytes = 0

    init(capacity: Int) {
        self.capacity = capacity
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        for (p, _) in free { p.deallocate() }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// A buffer of at least `bytes` bytes (64-byte aligned) and its actual size.
    func take(bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        pthread_mutex_lock(mutex)
        // The smallest free buffer that is large enough.
        var best = -1
        for (i, (_, size)) in free.enumerated() where size >= bytes && (best < 0 || size < free[best].1) { best = i }
        if best >= 0 {
            let b = free.remove(at: best)
            freeBytes -= b.1
            pthread_mutex_unlock(mutex)
            return b
        }
        // None is large enough: drop the largest smaller one, which this request would
        // otherwise leave behind (keeps the pool to a few buffers of the sizes in use).
        var drop: UnsafeMutableRawPointer? = nil
        if let i = free.indices.max(by: { free[$0].1 < free[$1].1 }) {
            drop = free[i].0
            freeBytes -= free[i].1
            free.remove(at: i)
        }
        pthread_mutex_unlock(mutex)
        drop?.deallocate()
        let size = max(bytes, 64)
        return (UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64), size)
    }

    /// Returns a buffer from `take`.
    func give(_ buffer: (UnsafeMutableRawPointer, Int)) {
        pthread_mutex_lock(mutex)
        free.append(buffer)
        freeBytes += buffer.1
        var release: [UnsafeMutableRawPointer] = []
        while freeBytes > capacity, let i = free.indices.max(by: { free[$0].1 < free[$1].1 }) {
            release.append(free[i].0)
            freeBytes -= free[i].1
            free.remove(at: i)
        }
        pthread_mutex_unlock(mutex)
        for p in release { p.deallocate() }
    }
}

/// Calls `body` with scratch space for `count` elements of `T` from the shared pool.
@inline(__always)
func withScratch<T, R>(_: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
    let buffer = ScratchPool.shared.take(bytes: max(1, count) * MemoryLayout<T>.stride)
    defer { ScratchPool.shared.give(buffer) }
    return try body(buffer.0.bindMemory(to: T.self, capacity: max(1, count)))
}

/// A typed buffer of at least `count` elements from the shared pool; `release()` gives it
/// back (call it exactly once, typically in a `defer`).
struct ScratchBuffer<T> {
    let pointer: UnsafeMutablePointer<T>
    private let raw: (UnsafeMutableRawPointer, Int)

    init(_ count: Int) {
        raw = ScratchPool.shared.take(bytes: max(1, count) * MemoryLayout<T>.stride)
        pointer = raw.0.bindMemory(to: T.self, capacity: max(1, count))
    }

    func release() { ScratchPool.shared.give(raw) }
}
