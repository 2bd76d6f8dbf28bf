import ModelIR

/// NumPy multidirectional broadcasting, as ONNX's elementwise operators define it: shapes
/// are aligned at their last dimension; each pair of dims must be equal or one of them 1;
/// the result takes the larger (a 0 beside a 1 gives 0).
public enum Broadcast {
    /// The broadcast shape of `a` and `b`. Throws `OpError.invalid` naming both shapes.
    public static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if x == y || y == 1 {
                out[i] = x
            } else if x == 1 {
                out[i] = y
            } else {
                throw OpError.invalid("shapes \(Shape(a)) and \(Shape(b)) do not broadcast (dim \(x) vs \(y))")
            }
        }
        return out
    }

    /// The broadcast shape of every shape in `shapes` (a scalar's `[]` when empty).
    public static func shape(of shapes: [[Int]]) throws -> [Int] {
        var out: [Int] = []
        for (k, s) in shapes.enumerated() {
            out = k == 0 ? s : try shape(out, s)
        }
        return out
    }

    /// Whether `dims` broadcasts to exactly `target` (unidirectionally: `target` is unchanged).
    public static func broadcasts(_ dims: [Int], to target: [Int]) -> Bool {
        guard dims.count <= target.count else { return false }
        let lead = target.count - dims.count
        for (i, d) in dims.enumerated() where d != 1 && d != target[lead + i] { return false }
        return true
    }

    /// Element strides of a C-order tensor of `dims` seen as broadcast to `target` (rank
    /// `target.count`): 0 on every dim it is broadcast along. `dims` must broadcast to `target`.
    public static func strides(of dims: [Int], to target: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: target.count)
        var step = 1
        let lead = target.count - dims.count
        for i in Swift.stride(from: dims.count - 1, through: 0, by: -1) {
            out[lead + i] = dims[i] == 1 && target[lead + i] != 1 ? 0 : step
            step *= dims[i]
        }
        return out
    }
}

/// A walk over up to three operands broadcast to one output shape, split into *runs*:
/// stretches of consecutive output elements along which each operand either advances by
/// one element or stays put. Dims are collapsed first (size-1 output dims dropped, neighbours
/// with the same broadcast pattern merged), so equal shapes are one run, a scalar operand is
/// a run with stride 0, and `[N,C,H,W] + [C,1,1]` walks `N*C` runs of `H*W`.
///
/// Kernels call `forEachRun` (usually through `parallelFor` over the output) and write the
/// inner loop themselves for the (1,1), (1,0), (0,1) stride cases: see `broadcastMap`.
public struct BroadcastPlan: Sendable {
    /// The output shape.
    public let outDims: [Int]
    /// Output elements.
    public let count: Int
    /// Collapsed dims, innermost last (at least one).
    let dims: [Int]
    /// Per operand, the element stride of each collapsed dim (0 where broadcast).
    let s0: [Int], s1: [Int], s2: [Int]
    /// Per operand, the stride along the innermost collapsed dim (0 or 1).
    public let innerStrides: (Int, Int, Int)
    /// The length of the innermost collapsed dim (the longest possible run).
    public var innerCount: Int { dims[dims.count - 1] }

    /// Plans the broadcast of `shapes` (one to three operands) to their common shape.
    /// Throws `OpError.invalid` naming the shapes when they do not broadcast.
    public init(_ shapes: [[Int]]) throws {
        try self.init(shapes, to: Broadcast.shape(of: shapes))
    }

    /// Plans the unidirectional broadcast of `shapes` to `target`; throws when one does not
    /// broadcast to it.
    public init(_ shapes: [[Int]], to target: [Int]) throws {
        precondition((1...3).contains(shapes.count), "BroadcastPlan takes one to three operands")
        for s in shapes where !Broadcast.broadcasts(s, to: target) {
            throw OpError.invalid("shape \(Shape(s)) does not broadcast to \(Shape(target))")
        }
        guard let total = Shape.elementCount(of: target) else {
            throw OpError.invalid("broadcast shape \(Shape(target)) has too many elements")
        }
        outDims = target
        count = total
        // Per operand and output dim: does the operand advance along it?
        let rank = target.count
        var full: [[Bool]] = shapes.map { s in
            (0..<rank).map { i in
                let j = i - (rank - s.count)
                return j >= 0 && s[j] != 1
            }
        }
        while full.count < 3 { full.append([Bool](repeating: false, count: rank)) }
        var cdims: [Int] = []
        var cfull: [[Bool]] = [[], [], []]
        for i in 0..<rank where target[i] != 1 {
            let pattern = (0..<3).map { full[$0][i] }
            if let last = cdims.indices.last, (0..<3).allSatisfy({ cfull[$0][last] == pattern[$0] }) {
                cdims[last] *= target[i]
            } else {
                cdims.append(target[i])
                for k in 0..<3 { cfull[k].append(pattern[k]) }
            }
        }
        if cdims.isEmpty {
            cdims = [1]
            cfull = [[true], [true], [true]]
        }
        func strides(_ f: [Bool]) -> [Int] {
            var out = [Int](repeating: 0, count: cdims.count)
            var step = 1
            for i in Swift.stride(from: cdims.count - 1, through: 0, by: -1) where f[i] {
                out[i] = step
                step *= cdims[i]
            }
            return out
        }
        dims = cdims
        s0 = strides(cfull[0]); s1 = strides(cfull[1]); s2 = strides(cfull[2])
        let last = cdims.count - 1
        innerStrides = (s0[last], s1[last], s2[last])
    }

    /// Whether every operand has the output's shape (one contiguous run).
    public var isElementwise: Bool { dims.count == 1 && innerStrides == (1, 1, 1) }

    /// Calls `body(outStart, offset0, offset1, offset2, length)` for each run covering the
    /// output elements `range`, in order; offsets are the operands' element offsets at the
    /// run's start, and along the run operand k advances by `innerStrides.k` per element.
    @inline(__always)
    public func forEachRun(in range: Range<Int>, _ body: (Int, Int, Int, Int, Int) -> Void) {
        guard !range.isEmpty else { return }
        let rank = dims.count
        if rank == 1 {
            let (a, b, c) = innerStrides
            let st = range.lowerBound
            body(st, st * a, st * b, st * c, range.count)
            return
        }
        // Odometer over the outer collapsed dims; the innermost is covered by the runs.
        var index = [Int](repeating: 0, count: rank)
        var rest = range.lowerBound
        var o0 = 0, o1 = 0, o2 = 0
        for i in stride(from: rank - 1, through: 0, by: -1) {
            index[i] = rest % dims[i]
            rest /= dims[i]
            o0 += index[i] * s0[i]; o1 += index[i] * s1[i]; o2 += index[i] * s2[i]
        }
        let inner = dims[rank - 1]
        var position = range.lowerBound
        let end = range.upperBound
        while position < end {
            let n = min(inner - index[rank - 1], end - position)
            body(position, o0, o1, o2, n)
            position += n
            guard position < end else { break }
            // Step to the next run: back to the start of the inner dim, carry outward.
            o0 -= index[rank - 1] * s0[rank - 1]; o1 -= index[rank - 1] * s1[rank - 1]; o2 -= index[rank - 1] * s2[rank - 1]
            index[rank - 1] = 0
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                o0 += s0[d]; o1 += s1[d]; o2 += s2[d]
                if index[d] < dims[d] { break }
                o0 -= index[d] * s0[d]; o1 -= index[d] * s1[d]; o2 -= index[d] * s2[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// An elementwise function of two arguments, as a type so that generic kernels specialize
/// and inline it (a closure in a hot loop is an indirect call per element).
public protocol BinaryMapping {
    associatedtype A
    associatedtype B
    associatedtype R
    func callAsFunction(_ a: A, _ b: B) -> R
}

/// An elementwise function of three arguments (`Where`, `Clip` with tensor bounds).
public protocol TernaryMapping {
    associatedtype A
    associatedtype B
    associatedtype C
    associatedtype R
    func callAsFunction(_ a: A, _ b: B, _ c: C) -> R
}

/// A `BinaryMapping` from a closure, for callers outside hot paths.
public struct ClosureMapping<A, B, R>: BinaryMapping {
    public let f: (A, B) -> R
    public init(_ f: @escaping (A, B) -> R) { self.f = f }
    public func callAsFunction(_ a: A, _ b: B) -> R { f(a, b) }
}

/// `out[i] = f(a[i'], b[i''])` over the broadcast of `a` and `b` that `plan` describes
/// (planned from exactly `[aDims, bDims]`), in parallel over `threads` for large outputs.
/// `out` must hold `plan.count` elements.
@inline(__always)
public func broadcastMap<F: BinaryMapping>(_ plan: BroadcastPlan, _ a: UnsafeBufferPointer<F.A>,
                                           _ b: UnsafeBufferPointer<F.B>, _ out: UnsafeMutableBufferPointer<F.R>,
                                           threads: Int, _ f: F) {
    guard plan.count > 0, let pa = a.baseAddress, let pb = b.baseAddress, let po = out.baseAddress else { return }
    let (sa, sb, _) = plan.innerStrides
    let workers = parallelForThreads(elements: plan.count, threads: threads)
    parallelFor(plan.count, threads: workers) { range in
        plan.forEachRun(in: range) { o, ia, ib, _, n in
            let x = pa + ia, y = pb + ib, z = po + o
            if sa == 1 && sb == 1 {
                for i in 0..<n { z[i] = f(x[i], y[i]) }
            } else if sa == 1 {
                let v = y[0]
                for i in 0..<n { z[i] = f(x[i], v) }
            } else if sb == 1 {
                let u = x[0]
                for i in 0..<n { z[i] = f(u, y[i]) }
            } else {
                let r = f(x[0], y[0])
                for i in 0..<n { z[i] = r }
            }
        }
    }
}

/// `out[i] = f(a[.], b[.], c[.])` over the broadcast of three operands (see `broadcastMap`).
@inline(__always)
public func broadcastMap3<F: TernaryMapping>(_ plan: BroadcastPlan, _ a: UnsafeBufferPointer<F.A>,
                                             _ b: UnsafeBufferPointer<F.B>, _ c: UnsafeBufferPointer<F.C>,
                                             _ out: UnsafeMutableBufferPointer<F.R>, threads: Int, _ f: F) {
    guard plan.count > 0, let pa = a.baseAddress, let pb = b.baseAddress, let pc = c.baseAddress,
          let po = out.baseAddress else { return }
    let (sa, sb, sc) = plan.innerStrides
    let workers = parallelForThreads(elements: plan.count, threads: threads)
    parallelFor(plan.count, threads: workers) { range in
        plan.forEachRun(in: range) { o, ia, ib, ic, n in
            let x = pa + ia, y = pb + ib, w = pc + ic, z = po + o
            if sa == 1 && sb == 1 && sc == 1 {
                for i in 0..<n { z[i] = f(x[i], y[i], w[i]) }
            } else {
                for i in 0..<n { z[i] = f(x[i * sa], y[i * sb], w[i * sc]) }
            }
        }
    }
}

/// Copies a tensor's elements of `T` broadcast to `plan.outDims` (`plan` planned for one
/// operand): the kernel of Expand, and a way to materialize a broadcast operand.
@inline(__always)
public func broadcastCopy<T>(_ plan: BroadcastPlan, _ a: UnsafeBufferPointer<T>, _ out: UnsafeMutableBufferPointer<T>,
                             threads: Int) {
    guard plan.count > 0, let pa = a.baseAddress, let po = out.baseAddress else { return }
    let sa = plan.innerStrides.0
    let workers = parallelForThreads(elements: plan.count, threads: threads)
    parallelFor(plan.count, threads: workers) { range in
        plan.forEachRun(in: range) { o, ia, _, _, n in
            if sa == 1 {
                (po + o).update(from: pa + ia, count: n)
            } else {
                (po + o).update(repeating: pa[ia], count: n)
            }
        }
    }
}
