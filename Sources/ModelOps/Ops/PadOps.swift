import ModelIR

/// Pad: modes constant, reflect, edge and wrap (opset 19). Pads are the `paddings` (opset 1)
/// or `pads` (opset 2-10) attribute with a float `value`, then input 1 with an optional
/// `constant_value` input (opset 11) and an `axes` input (opset 18). Pads are laid out
/// [begin_0, begin_1, ..., end_0, end_1, ...]; negative pads crop.
enum PadOps {
    static let schemas: [OpSchema] = [
        OpSchema("Pad", versions: [1, 2, 11, 13, 18, 19, 21, 23, 24, 25]) { ctx in [.tensor(try pad(ctx))] },
        OpSchema("CenterCropPad", versions: [18]) { ctx in [.tensor(try centerCropPad(ctx))] },
    ]

    /// CenterCropPad: each listed axis is cropped or zero-padded to its target size, centred
    /// (an odd difference leaves the extra element at the end).
    static func centerCropPad(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let r = x.dims.count
        let target = try Movement.integers(ctx.tensor(1), "input 1 (shape)")
        let axes = try (ctx.ints("axes") ?? Array(0..<r)).map { try Movement.axis($0, rank: r, what: "attribute 'axes'") }
        guard target.count == axes.count, Set(axes).count == axes.count else {
            throw OpError.invalid("input 1 (shape) \(target) must have one size per axis of \(axes)")
        }
        var begin = [Int](repeating: 0, count: r), end = begin
        for (a, size) in zip(axes, target) {
            guard size >= 0 else { throw OpError.invalid("input 1 (shape) \(target) has a negative size") }
            let d = size - x.dims[a]
            begin[a] = d >= 0 ? d / 2 : -((-d) / 2)
            end[a] = d - begin[a]
        }
        return try padded(x, begin: begin, end: end, mode: .constant, value: nil)
    }

    enum Mode: String { case constant, reflect, edge, wrap }

    static func pad(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let r = x.dims.count
        let modeName = ctx.string("mode", default: "constant")
        guard let mode = Mode(rawValue: modeName), mode != .wrap || ctx.opset >= 19 else {
            throw OpError.invalid("attribute 'mode' '\(modeName)' is not a Pad mode at opset \(ctx.opset)")
        }
        var pads: [Int]
        var value: Tensor? = nil
        var axes = Array(0..<r)
        if ctx.opset < 11 {
            guard let p = ctx.ints(ctx.opset < 2 ? "paddings" : "pads") else {
                throw OpError.invalid("attribute '\(ctx.opset < 2 ? "paddings" : "pads")' is required")
            }
            pads = p
            let v = Double(ctx.float("value", default: 0))
            if mode == .constant && v != 0 { value = try Movement.scalar(v, dtype: x.dtype) }
        } else {
            pads = try Movement.integers(ctx.tensor(1), "input 1 (pads)")
            if let c = ctx.optionalTensor(2), c.elementCount != 0 {
                guard c.dtype == x.dtype else { throw OpError.invalid("input 2 (constant_value) is \(c.dtype), data is \(x.dtype)") }
                guard c.elementCount == 1 else { throw OpError.invalid("input 2 (constant_value) must be a scalar, got shape \(c.dims)") }
                value = c.reshaped([1])
            }
            if ctx.opset >= 18, let a = ctx.optionalTensor(3) {
                axes = try Movement.integers(a, "input 3 (axes)").map { try Movement.axis($0, rank: r, what: "input 3 (axes)") }
                guard Set(axes).count == axes.count else { throw OpError.invalid("input 3 (axes) \(axes) repeat an axis") }
            }
        }
        guard pads.count == 2 * axes.count else {
            throw OpError.invalid("pads \(pads) must have 2 entries per padded axis (\(axes.count) axes of \(x.dims))")
        }
        var begin = [Int](repeating: 0, count: r), end = begin
        for (i, a) in axes.enumerated() {
            begin[a] = pads[i]
            end[a] = pads[axes.count + i]
        }
        return try padded(x, begin: begin, end: end, mode: mode, value: value)
    }

    /// `x` with `begin[a]` elements added before and `end[a]` after along each axis `a`
    /// (negative: removed), filled per `mode` (constant: `value`, a one-element tensor of x's
    /// dtype, or zero when nil).
    static func padded(_ x: Tensor, begin: [Int], end: [Int], mode: Mode, value: Tensor?) throws -> Tensor {
        let r = x.dims.count
        let pads = begin + end
        var outDims = x.dims
        for a in 0..<r {
            let (grown, o1) = x.dims[a].addingReportingOverflow(begin[a])
            let (size, o2) = grown.addingReportingOverflow(end[a])
            guard !o1, !o2, size >= 0 else { throw OpError.invalid("pads \(pads) do not fit dim \(a) of \(x.dims)") }
            outDims[a] = size
        }
        guard let total = Shape.elementCount(of: outDims), total <= Movement.maxElements else {
            throw OpError.invalid("padded shape \(outDims) is too large")
        }
        if outDims == x.dims && begin.allSatisfy({ $0 == 0 }) { return x }
        let inStrides = Movement.strides(x.dims)
        if mode == .constant {
            // Copy the part of the input that survives cropping into its window of the output.
            var shape = [Int](repeating: 0, count: r)
            var srcOffset = 0, dstOffset = 0
            let outStrides = Movement.strides(outDims)
            for a in 0..<r {
                let lo = max(0, -begin[a]), hi = x.dims[a] - max(0, -end[a])
                shape[a] = max(0, hi - lo)
                srcOffset += lo * inStrides[a]
                dstOffset += max(0, begin[a]) * outStrides[a]
            }
            let inputs = value.map { [x, $0] } ?? [x]
            return try Movement.map(inputs, dtype: x.dtype, dims: outDims,
                                    ConstantPadMover(copy: Movement.StridedMover(offset: srcOffset, shape: shape, srcStrides: inStrides,
                                                                                 dstOffset: dstOffset, dstStrides: outStrides),
                                                     filled: value != nil))
        }
        // Other modes: every output index along each axis maps to an input index.
        var maps: [[Int]] = []
        for a in 0..<r {
            let n = x.dims[a]
            guard n > 0 || outDims[a] == 0 else { throw OpError.invalid("cannot \(mode.rawValue)-pad dim \(a) of size 0 in \(x.dims)") }
            maps.append((0..<outDims[a]).map { o in source(o - begin[a], size: n, mode: mode) * inStrides[a] })
        }
        return try Movement.map([x], dtype: x.dtype, dims: outDims, MappedPadMover(maps: maps))
    }

    /// The input index that padded index `i` (relative to the input's start) reads.
    static func source(_ i: Int, size n: Int, mode: Mode) -> Int {
        if i >= 0 && i < n { return i }
        switch mode {
        case .edge, .constant: return min(max(i, 0), n - 1)
        case .wrap: return ((i % n) + n) % n
        case .reflect:
            guard n > 1 else { return 0 }
            let period = 2 * (n - 1)
            let m = ((i % period) + period) % period
            return m < n ? m : period - m
        }
    }

    struct ConstantPadMover: ElementMover {
        let copy: Movement.StridedMover
        /// With a fill value every element is written; without, the padding stays zero.
        let filled: Bool
        var writesEveryElement: Bool { filled }
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            if filled {
                dst.update(repeating: src[1][0])
            }
            copy.move([src[0]], dst)
        }
    }

    struct MappedPadMover: ElementMover {
        var writesEveryElement: Bool { true }
        /// Per axis, the input element offset each output index reads.
        let maps: [[Int]]
        func move<T: MoveCarrier>(_ src: [UnsafeBufferPointer<T>], _ dst: UnsafeMutableBufferPointer<T>) {
            guard let s = src[0].baseAddress, var d = dst.baseAddress, dst.count > 0 else { return }
            guard let last = maps.last else {
                d.pointee = s.pointee
                return
            }
            let outer = maps.dropLast()
            var index = [Int](repeating: 0, count: outer.count)
            var base = outer.reduce(0) { $0 + $1[0] }
            while true {
                let row = s + base
                for off in last {
                    d.pointee = row[off]
                    d += 1
                }
                var a = outer.count - 1
                while a >= 0 {
                    base -= maps[a][index[a]]
                    index[a] += 1
                    if index[a] < maps[a].count {
                        base += maps[a][index[a]]
                        break
                    }
                    index[a] = 0
                    base += maps[a][0]
                    a -= 1
                }
                if a < 0 { return }
            }
        }
    }
}
