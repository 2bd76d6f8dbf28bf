import Testing
import ModelIR
@testable import ModelOps

@Suite("Broadcasting and parallelFor")
struct BroadcastTests {
    // numpy: np.broadcast_shapes((2,1,4),(3,1)) -> (2, 3, 4)
    @Test func shapes() throws {
        #expect(try Broadcast.shape([2, 1, 4], [3, 1]) == [2, 3, 4])
        #expect(try Broadcast.shape([], [5]) == [5])
        #expect(try Broadcast.shape([0, 1], [1, 3]) == [0, 3])
        #expect(throws: OpError.self) { try Broadcast.shape([2, 3], [4]) }
    }

    @Test func parallelForCoversEveryIndexOnce() {
        for (count, threads) in [(0, 4), (1, 4), (7, 3), (10, 1), (1000, 8), (5, 16)] {
            var seen = [Int](repeating: 0, count: count)
            let chunks = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            defer { chunks.deallocate() }
            seen.withUnsafeMutableBufferPointer { buf in
                let base = buf.baseAddress
                parallelFor(count, threads: threads) { r in
                    for i in r { base![i] += 1 }
                }
            }
            #expect(seen.allSatisfy { $0 == 1 }, "count \(count) threads \(threads)")
        }
    }
}
