import Dispatch

/// Splits `0..<count` into at most `threads` contiguous, non-empty chunks of near-equal
/// size and calls `body` once per chunk, concurrently through
/// `DispatchQueue.concurrentPerform`. Runs `body(0..<count)` on the calling thread when
/// `threads <= 1` or `count <= 1`; does nothing when `count <= 0`. Returns after every
/// chunk has finished. Chunks never overlap, so `body` may write disjoint slices of one
/// output buffer without synchronization.
///
/// Callers decide whether the work is large enough to be worth threads (pass
/// `threads: 1` otherwise); `parallelForThreads(elements:threads:)` is one such rule.
public func parallelFor(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = min(max(threads, 1), count)
    if chunks == 1 {
        body(0..<count)
        return
    }
    let base = count / chunks, extra = count % chunks
    withoutActuallyEscaping(body) { body in
        // The chunks are disjoint and concurrentPerform returns only when all have run:
        // handing the caller's closure to the worker threads is safe by construction.
        let shared = UncheckedSendableBody(body: body)
        DispatchQueue.concurrentPerform(iterations: chunks) { k in
            // The first `extra` chunks get one more element.
            let start = k * base + min(k, extra)
            let end = start + base + (k < extra ? 1 : 0)
            shared.body(start..<end)
        }
    }
}

private struct UncheckedSendableBody: @unchecked Sendable {
    let body: (Range<Int>) -> Void
}

/// The threads worth using for an elementwise job over `elements` scalars: 1 below about
/// 32K elements per thread (thread start-up costs more than it saves), else `threads`
/// capped so that every thread gets at least that much.
public func parallelForThreads(elements: Int, threads: Int, grain: Int = 32_768) -> Int {
    guard threads > 1, elements > grain else { return 1 }
    return max(1, min(threads, elements / grain))
}
