import ModelIR

/// Slice: starts/ends/axes as attributes before opset 10, then starts, ends, axes, steps as
/// inputs. Out-of-range starts and ends are clamped exactly as the ONNX spec says (which for
/// negative steps differs from NumPy: a start below -dim clamps to 0, not to "empty").
enum SliceOps {
    static let schemas: [OpSchema] = [
        OpSchema("Slice", versions: [1, 10, 11, 13]) { ctx in
            let x = try ctx.tensor(0)
            let starts: [Int], ends: [Int], axesGiven: [Int]?, stepsGiven: [Int]?
            if ctx.opset < 10 {
                guard let s = ctx.ints("starts"), let e = ctx.ints("ends") else {
                    throw OpError.invalid("attributes 'starts' and 'ends' are required")
                }
                (starts, ends, axesGiven, stepsGiven) = (s, e, ctx.ints("axes"), nil)
            } else {
                starts = try Movement.integers(ctx.tensor(1), "input 1 (starts)")
                ends = try Movement.integers(ctx.tensor(2), "input 2 (ends)")
                axesGiven = try ctx.optionalTensor(3).map { try Movement.integers($0, "input 3 (axes)") }
                stepsGiven = try ctx.optionalTensor(4).map { try Movement.integers($0, "input 4 (steps)") }
            }
            return [.tensor(try slice(x, starts: starts, ends: ends, axes: axesGiven, steps: stepsGiven))]
        },
    ]

    /// The spec's clamped (start, count) for one axis of size `dim`.
    static func bounds(start: Int, end: Int, step: Int, dim: Int) -> (start: Int, count: Int) {
        var s = start < 0 ? start &+ dim : start
        var e = end < 0 ? end &+ dim : end
        if step > 0 {
            s = min(max(s, 0), dim)
            e = min(max(e, 0), dim)
            return (s, e > s ? Int(UInt(e - s - 1) / step.magnitude) + 1 : 0)
        }
        s = min(max(s, 0), dim - 1)
        e = min(max(e, -1), dim - 1)
        return (s, s > e ? Int(UInt(s - e - 1) / step.magnitude) + 1 : 0)
    }

    static func slice(_ x: Tensor, starts: [Int], ends: [Int], axes axesGiven: [Int]?, steps stepsGiven: [Int]?) throws -> Tensor {
        let r = x.dims.count
        let axes = axesGiven ?? Array(0..<starts.count)
        let steps = stepsGiven ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw OpError.invalid("starts \(starts), ends \(ends), axes \(axes) and steps \(steps) must have equal lengths")
        }
        var first = [Int](repeating: 0, count: r), stepOf = [Int](repeating: 1, count: r), shape = x.dims
        var seen = Set<Int>()
        for i in 0..<starts.count {
            let a = try Movement.axis(axes[i], rank: r, what: "axes \(axes)")
            guard seen.insert(a).inserted else { throw OpError.invalid("axes \(axes) repeat axis \(a)") }
            guard steps[i] != 0 else { throw OpError.invalid("steps \(steps) contain 0") }
            let (s, n) = bounds(start: starts[i], end: ends[i], step: steps[i], dim: x.dims[a])
            first[a] = n > 0 ? s : 0
            stepOf[a] = steps[i]
            shape[a] = n
        }
        return try Movement.window(x, starts: first, steps: stepOf, shape: shape)
    }
}
