import ModelIR

/// Resize (opset 10, 11, 13, 18, 19) and the deprecated Upsample (7, 9).
///
/// Semantics follow `onnx.reference`'s separable implementation: every resized axis maps
/// output index `y` to a source coordinate `x` by `coordinate_transformation_mode`, then
/// combines taps around `x` (indices clamped to the edge, i.e. edge padding):
/// - nearest: one tap, rounded by `nearest_mode` (an integer `x` is taken as is);
/// - linear: taps `floor(x)`, `floor(x)+1` weighted `1-r`, `r`;
/// - cubic: four taps with Keys' kernel of parameter `cubic_coeff_a`;
/// - antialias (opset 18, linear/cubic): the kernel is stretched by `1/scale` when
///   downsampling and the weights are normalized;
/// - `exclude_outside`: taps outside the input get weight 0 and the rest are renormalized;
/// - tf_crop_and_resize: coordinates come from `roi`; outside the input the output is
///   `extrapolation_value`.
/// Output sizes are `floor(in * scale)` for scales and `sizes` otherwise (with
/// `keep_aspect_ratio_policy`, `round(in * scale)` for the one common scale). Opset 10 and
/// Upsample use asymmetric coordinates and ONNX Runtime's legacy nearest rounding (`ceil`
/// when downsampling, `floor` otherwise).
///
/// Nearest (no extrapolation) gathers elements of any fixed-width dtype; float32 bilinear
/// over the last two axes has a direct Float kernel; everything else is computed in Double
/// axis by axis and rounded back (integers round half to even and saturate).
enum ResizeOps {
    static let schemas: [OpSchema] = [
        OpSchema("Resize", versions: [10, 11, 13, 18, 19]) { ctx in
            let x = try ctx.tensor(0)
            let plan = try Plan(resize: ctx, input: x)
            return [.tensor(try run(plan, x, threads: ctx.threads))]
        },
        OpSchema("Upsample", versions: [7, 9]) { ctx in
            let x = try ctx.tensor(0)
            let plan = try Plan(upsample: ctx, input: x)
            return [.tensor(try run(plan, x, threads: ctx.threads))]
        },
    ]

    enum Mode: String { case nearest, linear, cubic }

    enum Coordinates: String {
        case halfPixel = "half_pixel"
        case halfPixelSymmetric = "half_pixel_symmetric"
        case pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners"
        case asymmetric
        case tfHalfPixelForNN = "tf_half_pixel_for_nn"
        case tfCropAndResize = "tf_crop_and_resize"
    }

    enum Rounding: String {
        case roundPreferFloor = "round_prefer_floor"
        case roundPreferCeil = "round_prefer_ceil"
        case floor, ceil
        /// ONNX Runtime's rule for Upsample and Resize-10: ceil when downsampling, else floor.
        case legacy
    }

    /// Everything a resize needs, per axis of the input.
    struct Plan {
        var mode = Mode.nearest
        var coordinates = Coordinates.halfPixel
        var rounding = Rounding.roundPreferFloor
        var cubicA = -0.75
        var excludeOutside = false
        var extrapolation = 0.0
        var antialias = false
        var inDims: [Int] = []
        var outDims: [Int] = []
        var scales: [Double] = []
        /// `[start..., end...]` per axis (tf_crop_and_resize only).
        var roi: [Double]? = nil
        /// The axes to resize, in processing order.
        var order: [Int] = []

        init(resize ctx: KernelContext, input x: Tensor) throws {
            let rank = x.dims.count
            inDims = x.dims
            mode = try Self.parse(Mode.self, ctx.string("mode", default: "nearest"), "mode")
            var scaleValues: [Double]? = nil
            var sizeValues: [Int]? = nil
            var roiValues: [Double]? = nil
            if ctx.opset < 11 {
                coordinates = .asymmetric
                rounding = .legacy
                scaleValues = try Self.floats(try ctx.tensor(1), "scales")
            } else {
                coordinates = try Self.parse(Coordinates.self, ctx.string("coordinate_transformation_mode", default: "half_pixel"),
                                             "coordinate_transformation_mode")
                rounding = try Self.parse(Rounding.self, ctx.string("nearest_mode", default: "round_prefer_floor"), "nearest_mode")
                if rounding == .legacy { throw OpError.unsupported("nearest_mode 'legacy'") }
                cubicA = Double(ctx.float("cubic_coeff_a", default: -0.75))
                excludeOutside = ctx.int("exclude_outside", default: 0) != 0
                extrapolation = Double(ctx.float("extrapolation_value", default: 0))
                if let r = ctx.optionalTensor(1), r.elementCount != 0 { roiValues = try Self.floats(r, "roi") }
                if let s = ctx.optionalTensor(2), s.elementCount != 0 { scaleValues = try Self.floats(s, "scales") }
                if let s = ctx.optionalTensor(3), s.elementCount != 0 {
                    guard s.dtype == .int64, let v = s.integers() else { throw OpError.invalid("sizes must be int64, got \(s.dtype)") }
                    sizeValues = v
                }
                if ctx.opset >= 18 {
                    antialias = ctx.int("antialias", default: 0) != 0
                }
            }
            guard (scaleValues == nil) != (sizeValues == nil) else {
                throw OpError.invalid("exactly one of scales and sizes must be given (non-empty)")
            }
            var axes = Array(0..<rank)
            if ctx.opset >= 18, let a = ctx.ints("axes") {
                axes = try a.map { try SequenceOps.normalizedAxis($0, rank: rank, name: "axes") }
                guard Set(axes).count == axes.count else { throw OpError.invalid("axes \(a) repeat an axis") }
            }
            let given = scaleValues?.count ?? sizeValues?.count ?? 0
            guard given == axes.count else {
                throw OpError.invalid("\(scaleValues != nil ? "scales" : "sizes") has \(given) values, expected \(axes.count) for input \(x.dims)")
            }
            order = axes
            scales = Array(repeating: 1, count: rank)
            outDims = x.dims
            if let scaleValues {
                for (i, a) in axes.enumerated() {
                    guard scaleValues[i] > 0, scaleValues[i].isFinite else { throw OpError.invalid("scales must be positive, got \(scaleValues)") }
                    scales[a] = scaleValues[i]
                    outDims[a] = try Self.size(scaleValues[i] * Double(x.dims[a]))
                }
            } else if let sizeValues {
                guard sizeValues.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("sizes must be non-negative, got \(sizeValues)") }
                for (i, a) in axes.enumerated() {
                    outDims[a] = sizeValues[i]
                    scales[a] = x.dims[a] == 0 ? 1 : Double(sizeValues[i]) / Double(x.dims[a])
                }
                let policy = ctx.opset >= 18 ? ctx.string("keep_aspect_ratio_policy", default: "stretch") : "stretch"
                if policy != "stretch" {
                    let picked = axes.map { scales[$0] }
                    let s: Double
                    switch policy {
                    case "not_larger": s = picked.min() ?? 1
                    case "not_smaller": s = picked.max() ?? 1
                    default: throw OpError.invalid("keep_aspect_ratio_policy '\(policy)' is not stretch, not_larger or not_smaller")
                    }
                    for a in axes {
                        scales[a] = s
                        outDims[a] = try Self.size(s * Double(x.dims[a]) + 0.5)
                    }
                }
            }
            if coordinates == .tfCropAndResize {
                guard let roiValues else { throw OpError.invalid("tf_crop_and_resize needs a roi input") }
                guard roiValues.count == 2 * axes.count else {
                    throw OpError.invalid("roi has \(roiValues.count) values, expected \(2 * axes.count)")
                }
                var full = Array(repeating: 0.0, count: rank) + Array(repeating: 1.0, count: rank)
                for (i, a) in axes.enumerated() {
                    full[a] = roiValues[i]
                    full[rank + a] = roiValues[axes.count + i]
                }
                roi = full
            }
            if antialias && mode == .nearest { throw OpError.invalid("antialias is not defined for mode nearest") }
        }

        init(upsample ctx: KernelContext, input x: Tensor) throws {
            inDims = x.dims
            let m = ctx.string("mode", default: "nearest")
            switch m {
            case "nearest": mode = .nearest
            case "linear", "bilinear": mode = .linear
            default: throw OpError.invalid("mode '\(m)' is not nearest or linear")
            }
            coordinates = .asymmetric
            rounding = .legacy
            let values: [Double]
            if ctx.opset < 9 {
                guard let f = ctx.floats("scales") else { throw OpError.invalid("attribute 'scales' is required") }
                values = f.map(Double.init)
            } else {
                values = try Self.floats(try ctx.tensor(1), "scales")
            }
            guard values.count == x.dims.count else { throw OpError.invalid("scales has \(values.count) values for input \(x.dims)") }
            guard values.allSatisfy({ $0 >= 1 && $0.isFinite }) else { throw OpError.invalid("Upsample scales must be >= 1, got \(values)") }
            scales = values
            outDims = try zip(x.dims, values).map { try Self.size(Double($0) * $1) }
            order = Array(0..<x.dims.count)
        }

        /// `floor(v)` as an output dimension; throws when it is not a sane size.
        static func size(_ v: Double) throws -> Int {
            guard v.isFinite, v >= 0, v < 1e12 else { throw OpError.invalid("output dimension \(v) is out of range") }
            return Int(v.rounded(.down))
        }

        static func parse<E: RawRepresentable>(_: E.Type, _ s: String, _ name: String) throws -> E where E.RawValue == String {
            guard let v = E(rawValue: s) else { throw OpError.invalid("\(name) '\(s)' is not supported") }
            return v
        }

        static func floats(_ t: Tensor, _ name: String) throws -> [Double] {
            switch t.dtype {
            case .float32: return t.elements(Float.self).map(Double.init)
            case .float64: return t.elements(Double.self)
            case .float16: return t.elements(Float16.self).map(Double.init)
            default: throw OpError.invalid("\(name) must be a float tensor, got \(t.dtype)")
            }
        }

        /// Whether axis `a` is left as is.
        func isIdentity(_ a: Int) -> Bool {
            guard abs(scales[a] - 1) <= 1e-9 * max(1, abs(scales[a])), outDims[a] == inDims[a] else { return false }
            if let roi { return roi[a] == 0 && abs(roi[inDims.count + a] - 1) <= 1e-9 }
            return true
        }

        /// The axes to compute, in order.
        var activeAxes: [Int] { order.filter { !isIdentity($0) } }
    }

    /// Taps of one axis: for output `y`, `count` (clamped index, weight) pairs, and whether
    /// the output is extrapolated.
    struct Taps {
        var count: Int
        var index: [Int]
        var weight: [Double]
        var outside: [Bool]?
    }

    /// The source coordinate of output `y` along an axis.
    static func sourceCoordinate(_ plan: Plan, axis a: Int, _ y: Int) -> Double {
        let scale = plan.scales[a]
        let inLen = Double(plan.inDims[a])
        let outF = scale * inLen
        let yd = Double(y)
        switch plan.coordinates {
        case .halfPixel: return (yd + 0.5) / scale - 0.5
        case .halfPixelSymmetric:
            let adjustment = Double(plan.outDims[a]) / outF
            let offset = inLen / 2 * (1 - adjustment)
            return offset + (yd + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return outF == 1 ? -0.5 : (yd + 0.5) / scale - 0.5
        case .alignCorners: return outF == 1 ? 0 : yd * (inLen - 1) / (outF - 1)
        case .asymmetric: return yd / scale
        case .tfHalfPixelForNN: return (yd + 0.5) / scale
        case .tfCropAndResize:
            let rank = plan.inDims.count
            let start = plan.roi?[a] ?? 0, end = plan.roi?[rank + a] ?? 1
            let x = outF == 1 ? (end - start) * (inLen - 1) / 2 : yd * (end - start) * (inLen - 1) / (outF - 1)
            return x + start * (inLen - 1)
        }
    }

    static func taps(_ plan: Plan, axis a: Int) throws -> Taps {
        let inLen = plan.inDims[a], outLen = plan.outDims[a]
        let last = max(inLen - 1, 0)
        let scale = plan.scales[a]
        var outside: [Bool]? = plan.coordinates == .tfCropAndResize ? Array(repeating: false, count: outLen) : nil
        func clamp(_ i: Int) -> Int { min(max(i, 0), last) }
        var n: Int
        switch plan.mode {
        case .nearest: n = 1
        case .linear, .cubic:
            n = plan.mode == .linear ? 2 : 4
            if plan.antialias {
                // The kernel support grows as 1/scale when downsampling.
                let support = (Double(n / 2) * -1 / min(scale, 1)).rounded(.down) + 1
                guard support.isFinite, support > -4096 else { throw OpError.unsupported("antialias with scale \(scale)") }
                n = 2 - 2 * Int(support)
            }
        }
        var index = [Int](repeating: 0, count: outLen * n)
        var weight = [Double](repeating: 0, count: outLen * n)
        let A = plan.cubicA
        for y in 0..<outLen {
            let computed = sourceCoordinate(plan, axis: a, y)
            let x = computed.isFinite ? computed : 0
            if outside != nil, x < 0 || x > Double(inLen - 1) { outside![y] = true }
            var fl = x.rounded(.down)
            var r = x - fl
            if plan.mode == .nearest {
                var i: Double
                if r == 0 {
                    i = x
                } else if plan.rounding == .legacy {
                    i = scale < 1 ? x.rounded(.up) : x.rounded(.towardZero)
                } else {
                    switch plan.rounding {
                    case .roundPreferFloor: i = r <= 0.5 ? fl : fl + 1
                    case .roundPreferCeil: i = r < 0.5 ? fl : fl + 1
                    case .floor: i = fl
                    case .ceil, .legacy: i = fl + 1
                    }
                }
                index[y] = clamp(Int(max(min(i, 1e15), -1e15)))
                weight[y] = 1
                continue
            }
            // Prefer the pixel left of x: an integer x is taken as floor = x - 1, ratio 1.
            if r == 0 { fl -= 1; r = 1 }
            let base = y * n
            let f = Int(max(min(fl, 1e15), -1e15))
            if plan.antialias {
                let s = min(scale, 1)
                let j0 = f - n / 2 + 1
                var sum = 0.0
                for k in 0..<n {
                    let t = abs(s * (Double(j0 + k) - x))
                    let w: Double
                    if plan.mode == .linear {
                        w = max(0, min(1, 1 - t))
                    } else if t <= 1 {
                        w = (A + 2) * t * t * t - (A + 3) * t * t + 1
                    } else if t < 2 {
                        w = A * t * t * t - 5 * A * t * t + 8 * A * t - 4 * A
                    } else {
                        w = 0
                    }
                    index[base + k] = j0 + k
                    weight[base + k] = w
                    sum += w
                }
                if sum != 0 { for k in 0..<n { weight[base + k] /= sum } }
            } else if plan.mode == .linear {
                index[base] = f; index[base + 1] = f + 1
                weight[base] = 1 - r; weight[base + 1] = r
            } else {
                let r1 = r + 1, q = 1 - r, q1 = q + 1
                index[base] = f - 1; index[base + 1] = f; index[base + 2] = f + 1; index[base + 3] = f + 2
                weight[base] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A
                weight[base + 1] = ((A + 2) * r - (A + 3)) * r * r + 1
                weight[base + 2] = ((A + 2) * q - (A + 3)) * q * q + 1
                weight[base + 3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A
            }
            if plan.excludeOutside {
                var sum = 0.0
                for k in 0..<n {
                    if index[base + k] < 0 || index[base + k] >= inLen { weight[base + k] = 0 }
                    sum += weight[base + k]
                }
                if sum != 0 { for k in 0..<n { weight[base + k] /= sum } }
            }
            for k in 0..<n { index[base + k] = clamp(index[base + k]) }
        }
        return Taps(count: n, index: index, weight: weight, outside: outside)
    }

    // MARK: Execution

    static func run(_ plan: Plan, _ x: Tensor, threads: Int) throws -> Tensor {
        let active = plan.activeAxes
        if active.isEmpty { return x.reshaped(plan.outDims) }
        guard let outCount = Shape.elementCount(of: plan.outDims) else { throw OpError.invalid("output shape \(plan.outDims) overflows") }
        if outCount == 0 { return try SequenceOps.zeros(dtype: x.dtype, dims: plan.outDims) }
        guard (x.elementCount ?? 0) > 0 else {
            throw OpError.invalid("cannot resize the empty input \(x.dims) to \(plan.outDims)")
        }
        let allTaps = Dictionary(uniqueKeysWithValues: try active.map { ($0, try taps(plan, axis: $0)) })
        let extrapolates = allTaps.values.contains { $0.outside?.contains(true) ?? false }
        if plan.mode == .nearest && !extrapolates && x.dtype != .string {
            var maps: [[Int]] = []
            for a in 0..<x.dims.count { maps.append(allTaps[a]?.index ?? Array(0..<x.dims[a])) }
            return try gather(x, outDims: plan.outDims, maps: maps, threads: threads)
        }
        let rank = x.dims.count
        if x.dtype == .float32, plan.mode == .linear, rank >= 2, !extrapolates,
           active.allSatisfy({ $0 >= rank - 2 }), let th = allTaps[rank - 2] ?? identityTaps(x.dims[rank - 2]),
           let tw = allTaps[rank - 1] ?? identityTaps(x.dims[rank - 1]), th.count == 2, tw.count == 2 {
            return bilinear(x, outDims: plan.outDims, th: th, tw: tw, threads: threads)
        }
        guard let result = try x.dtype.visitNumeric(Separable(x: x, plan: plan, taps: allTaps)) else {
            throw OpError.unsupported("Resize of \(x.dtype) in mode \(plan.mode.rawValue)")
        }
        return result
    }

    static func identityTaps(_ n: Int) -> Taps? {
        Taps(count: 2, index: (0..<n).flatMap { [$0, $0] }, weight: Array(repeating: [1.0, 0.0], count: n).flatMap { $0 }, outside: nil)
    }

    /// Nearest: copies input elements chosen by per-axis index maps.
    static func gather(_ x: Tensor, outDims: [Int], maps: [[Int]], threads: Int) throws -> Tensor {
        let es = try SequenceOps.elementSize(x.dtype)
        switch es {
        case 1: return gatherTyped(UInt8.self, x, outDims, maps, threads)
        case 2: return gatherTyped(UInt16.self, x, outDims, maps, threads)
        case 4: return gatherTyped(UInt32.self, x, outDims, maps, threads)
        case 8: return gatherTyped(UInt64.self, x, outDims, maps, threads)
        default: throw OpError.unsupported("Resize of \(x.dtype)")
        }
    }

    static func gatherTyped<T: FixedWidthInteger>(_: T.Type, _ x: Tensor, _ outDims: [Int], _ maps: [[Int]], _ threads: Int) -> Tensor {
        let rank = outDims.count
        let outCount = outDims.reduce(1, *)
        var inStrides = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { inStrides[a] = inStrides[a + 1] * x.dims[a + 1] }
        let rowLen = outDims[rank - 1]
        let rows = outCount / rowLen
        let lastMap = maps[rank - 1]
        let lastIsIdentity = lastMap.count == x.dims[rank - 1] && lastMap.enumerated().allSatisfy { $0.offset == $0.element }
        // Source offsets of every axis but the last, pre-multiplied by the strides.
        let scaled: [[Int]] = (0..<(rank - 1)).map { a in maps[a].map { $0 * inStrides[a] } }
        var bytes = [UInt8](repeating: 0, count: outCount * MemoryLayout<T>.stride)
        x.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: T.self)
            bytes.withUnsafeMutableBytes { outRaw in
                let dst = outRaw.bindMemory(to: T.self)
                let work = parallelForThreads(elements: outCount, threads: threads, grain: 65_536)
                parallelFor(rows, threads: work) { range in
                    guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                    lastMap.withUnsafeBufferPointer { lm in
                        var idx = [Int](repeating: 0, count: max(rank - 1, 0))
                        var r = range.lowerBound
                        for a in stride(from: rank - 2, through: 0, by: -1) {
                            idx[a] = r % outDims[a]
                            r /= outDims[a]
                        }
                        var previous = -1
                        for row in range {
                            var offset = 0
                            for a in 0..<(rank - 1) { offset += scaled[a][idx[a]] }
                            let out = d + row * rowLen
                            if offset == previous && row > range.lowerBound {
                                out.update(from: out - rowLen, count: rowLen)
                            } else if lastIsIdentity {
                                out.update(from: s + offset, count: rowLen)
                            } else {
                                let base = s + offset
                                for k in 0..<rowLen { out[k] = base[lm[k]] }
                            }
                            previous = offset
                            var a = rank - 2
                            while a >= 0 {
                                idx[a] += 1
                                if idx[a] < outDims[a] { break }
                                idx[a] = 0
                                a -= 1
                            }
                        }
                    }
                }
            }
        }
        return Tensor(unchecked: x.dtype, dims: outDims, storage: .owned(bytes))
    }

    /// float32 linear resize of the last two axes (the others unchanged).
    static func bilinear(_ x: Tensor, outDims: [Int], th: Taps, tw: Taps, threads: Int) -> Tensor {
        let rank = x.dims.count
        let inH = x.dims[rank - 2], inW = x.dims[rank - 1]
        let outH = outDims[rank - 2], outW = outDims[rank - 1]
        let planes = x.dims[..<(rank - 2)].reduce(1, *)
        let w0 = (0..<outW).map { Float(tw.weight[2 * $0]) }, w1 = (0..<outW).map { Float(tw.weight[2 * $0 + 1]) }
        let c0 = (0..<outW).map { tw.index[2 * $0] }, c1 = (0..<outW).map { tw.index[2 * $0 + 1] }
        return x.withElements(Float.self) { src in
            Tensor.make(Float.self, dims: outDims) { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                let work = parallelForThreads(elements: planes * outH * outW, threads: threads, grain: 32_768)
                parallelFor(planes * outH, threads: work) { range in
                    for job in range {
                        let p = job / outH, y = job % outH
                        let r0 = s + p * inH * inW + th.index[2 * y] * inW
                        let r1 = s + p * inH * inW + th.index[2 * y + 1] * inW
                        let a0 = Float(th.weight[2 * y]), a1 = Float(th.weight[2 * y + 1])
                        let out = d + job * outW
                        for k in 0..<outW {
                            let top = w0[k] * r0[c0[k]] + w1[k] * r0[c1[k]]
                            let bottom = w0[k] * r1[c0[k]] + w1[k] * r1[c1[k]]
                            out[k] = a0 * top + a1 * bottom
                        }
                    }
                }
            }
        }
    }

    /// The general path: every active axis in turn, in Double.
    struct Separable: NumericVisitor {
        let x: Tensor
        let plan: Plan
        let taps: [Int: Taps]

        func visit<T: NumericElement>(_ type: T.Type) throws -> Tensor {
            var dims = x.dims
            var data = x.withElements(T.self) { $0.map(\.asDouble) }
            for a in plan.order where taps[a] != nil {
                let t = taps[a]!
                let inLen = dims[a], outLen = plan.outDims[a]
                let outer = dims[..<a].reduce(1, *), inner = dims[(a + 1)...].reduce(1, *)
                var next = [Double](repeating: 0, count: outer * outLen * inner)
                data.withUnsafeBufferPointer { src in
                    next.withUnsafeMutableBufferPointer { dst in
                        for o in 0..<outer {
                            for y in 0..<outLen {
                                let out = (o * outLen + y) * inner
                                if let outside = t.outside, outside[y] {
                                    for i in 0..<inner { dst[out + i] = plan.extrapolation }
                                    continue
                                }
                                for k in 0..<t.count {
                                    let w = t.weight[y * t.count + k]
                                    if w == 0 && plan.mode != .nearest { continue }
                                    let from = (o * inLen + t.index[y * t.count + k]) * inner
                                    for i in 0..<inner { dst[out + i] += w * src[from + i] }
                                }
                            }
                        }
                    }
                }
                data = next
                dims[a] = outLen
            }
            return ResizeOps.saturating(T.self, data, dims: dims)
        }
    }

    /// `data` rounded into `T` like `onnx.numpy_helper.saturate_cast`: floats clip to the
    /// finite range (NaN stays NaN), integers round half to even and clip.
    static func saturating<T: NumericElement>(_: T.Type, _ data: [Double], dims: [Int]) -> Tensor {
        let (lo, hi, isInteger) = bounds(T.self)
        return Tensor.make(T.self, dims: dims) { out in
            for i in 0..<data.count {
                var v = data[i]
                if v.isNaN {
                    v = isInteger ? 0 : v
                } else {
                    if isInteger { v = v.rounded(.toNearestOrEven) }
                    v = min(max(v, lo), hi)
                }
                out[i] = T.from(v)
            }
        }
    }

    static func bounds<T: NumericElement>(_: T.Type) -> (Double, Double, Bool) {
        if let i = T.self as? any FixedWidthInteger.Type { return integerBounds(i) }
        if let f = T.self as? any BinaryFloatingPoint.Type { return floatBounds(f) }
        return (-Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude, false)
    }

    private static func integerBounds<I: FixedWidthInteger>(_: I.Type) -> (Double, Double, Bool) {
        let hi = Double(I.max)
        return (Double(I.min), hi >= 9.2e18 ? hi.nextDown : hi, true)
    }

    private static func floatBounds<F: BinaryFloatingPoint>(_: F.Type) -> (Double, Double, Bool) {
        let m = Double(F.greatestFiniteMagnitude)
        return (-m, m, false)
    }
}
