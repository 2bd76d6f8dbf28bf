import ModelIR

/// Detection ops: NonMaxSuppression (opset 10, 11), RoiAlign (10, 16, 22) and GridSample
/// (16, 20, 22), matching `onnx.reference` (and ONNX Runtime, whose algorithms it copies).
enum DetectionOps {
    static let schemas: [OpSchema] = [
        OpSchema("NonMaxSuppression", versions: [10, 11], kernel: nonMaxSuppression),
        OpSchema("RoiAlign", versions: [10, 16, 22], kernel: roiAlign),
        OpSchema("GridSample", versions: [16, 20, 22], kernel: gridSample),
    ]

    // MARK: NonMaxSuppression

    /// Per batch and class: boxes whose score exceeds `score_threshold` (when given), best
    /// score first (ties: lower box index first), each kept unless its IoU with a box already
    /// kept in that class exceeds `iou_threshold`, at most `max_output_boxes_per_class`
    /// (absent: 0) per class. Output `[selected, 3]` int64 rows `(batch, class, box)` in that
    /// order. Boxes are `[y1, x1, y2, x2]` (corners in any order) or, with
    /// `center_point_box = 1`, `[x_center, y_center, width, height]`. Float32 arithmetic.
    @Sendable static func nonMaxSuppression(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let boxes = try ctx.tensor(0), scores = try ctx.tensor(1)
        guard boxes.dtype == .float32, scores.dtype == .float32 else {
            throw OpError.unsupported("NonMaxSuppression of \(boxes.dtype)/\(scores.dtype) (float32 only)")
        }
        guard boxes.dims.count == 3, boxes.dims[2] == 4 else { throw OpError.invalid("boxes must be [batches, boxes, 4], got \(boxes.dims)") }
        guard scores.dims.count == 3, scores.dims[0] == boxes.dims[0], scores.dims[2] == boxes.dims[1] else {
            throw OpError.invalid("scores must be [\(boxes.dims[0]), classes, \(boxes.dims[1])], got \(scores.dims)")
        }
        var maxPerClass = 0
        if let m = ctx.optionalTensor(2), m.elementCount != 0 {
            guard let v = m.integers() else { throw OpError.invalid("max_output_boxes_per_class must be int64, got \(m.dtype)") }
            maxPerClass = max(v[0], 0)
        }
        func scalar(_ i: Int) throws -> Float? {
            guard let t = ctx.optionalTensor(i), t.elementCount != 0 else { return nil }
            guard t.dtype == .float32 else { throw OpError.invalid("input \(i) must be float32, got \(t.dtype)") }
            return t.elements(Float.self)[0]
        }
        let iouThreshold = try scalar(3) ?? 0
        let scoreThreshold = try scalar(4)
        let center = ctx.int("center_point_box", default: 0)
        guard center == 0 || center == 1 else { throw OpError.invalid("center_point_box must be 0 or 1, got \(center)") }
        let batches = boxes.dims[0], count = boxes.dims[1], classes = scores.dims[1]
        var selected: [Int64] = []
        if maxPerClass > 0 {
            boxes.withElements(Float.self) { bx in
                scores.withElements(Float.self) { sc in
                    for b in 0..<batches {
                        // Corners (ymin, xmin, ymax, xmax) of every box of this batch.
                        var corners = [Float](repeating: 0, count: count * 4)
                        for i in 0..<count {
                            let p = (b * count + i) * 4
                            if center == 0 {
                                corners[i * 4] = min(bx[p], bx[p + 2]); corners[i * 4 + 2] = max(bx[p], bx[p + 2])
                                corners[i * 4 + 1] = min(bx[p + 1], bx[p + 3]); corners[i * 4 + 3] = max(bx[p + 1], bx[p + 3])
                            } else {
                                let hw = bx[p + 2] / 2, hh = bx[p + 3] / 2
                                corners[i * 4] = bx[p + 1] - hh; corners[i * 4 + 2] = bx[p + 1] + hh
                                corners[i * 4 + 1] = bx[p] - hw; corners[i * 4 + 3] = bx[p] + hw
                            }
                        }
                        for c in 0..<classes {
                            let s = (b * classes + c) * count
                            var candidates = (0..<count).filter { scoreThreshold == nil || sc[s + $0] > scoreThreshold! }
                            candidates.sort { sc[s + $0] > sc[s + $1] || (sc[s + $0] == sc[s + $1] && $0 < $1) }
                            var kept: [Int] = []
                            for i in candidates {
                                if kept.count >= maxPerClass { break }
                                if kept.contains(where: { suppresses(corners, i, $0, iouThreshold) }) { continue }
                                kept.append(i)
                                selected += [Int64(b), Int64(c), Int64(i)]
                            }
                        }
                    }
                }
            }
        }
        return [.tensor(Tensor.of(selected, dims: [selected.count / 3, 3]))]
    }

    /// Whether boxes `i` and `j` (corner form) overlap with IoU above `threshold`.
    static func suppresses(_ c: [Float], _ i: Int, _ j: Int, _ threshold: Float) -> Bool {
        let a = i * 4, b = j * 4
        let xMin = max(c[a + 1], c[b + 1]), xMax = min(c[a + 3], c[b + 3])
        if xMax <= xMin { return false }
        let yMin = max(c[a], c[b]), yMax = min(c[a + 2], c[b + 2])
        if yMax <= yMin { return false }
        let intersection = (xMax - xMin) * (yMax - yMin)
        if intersection <= 0 { return false }
        let areaA = (c[a + 3] - c[a + 1]) * (c[a + 2] - c[a])
        let areaB = (c[b + 3] - c[b + 1]) * (c[b + 2] - c[b])
        let union = areaA + areaB - intersection
        if areaA <= 0 || areaB <= 0 || union <= 0 { return false }
        return intersection / union > threshold
    }

    // MARK: RoiAlign

    /// X `[N, C, H, W]`, rois `[R, 4]` as `(x1, y1, x2, y2)` in input coordinates times
    /// `spatial_scale`, batch_indices `[R]` -> `[R, C, output_height, output_width]`. Each bin
    /// averages (mode avg) or takes the max of (mode max: the largest of the four weighted
    /// corner values, as ONNX Runtime does) `sampling_ratio^2` bilinear samples (0: adaptive,
    /// `ceil(roi size / output size)`). half_pixel (opset 16 default) shifts coordinates by
    /// -0.5; output_half_pixel (opset 10) does not and makes rois at least 1x1.
    @Sendable static func roiAlign(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0), rois = try ctx.tensor(1), indices = try ctx.tensor(2)
        guard x.dims.count == 4 else { throw OpError.invalid("X must be [N, C, H, W], got \(x.dims)") }
        guard rois.dims.count == 2, rois.dims[1] == 4, rois.dtype == x.dtype else {
            throw OpError.invalid("rois must be \(x.dtype)[num_rois, 4], got \(rois.dtype)\(rois.dims)")
        }
        guard let batchIndex = indices.integers(), indices.dims == [rois.dims[0]] else {
            throw OpError.invalid("batch_indices must be int64[\(rois.dims[0])], got \(indices.dtype)\(indices.dims)")
        }
        if let bad = batchIndex.first(where: { $0 < 0 || $0 >= x.dims[0] }) {
            throw OpError.invalid("batch index \(bad) is out of range for \(x.dims[0]) images")
        }
        let mode = ctx.string("mode", default: "avg")
        guard mode == "avg" || mode == "max" else { throw OpError.invalid("mode '\(mode)' is not avg or max") }
        let coordinates = ctx.opset >= 16 ? ctx.string("coordinate_transformation_mode", default: "half_pixel") : "output_half_pixel"
        guard coordinates == "half_pixel" || coordinates == "output_half_pixel" else {
            throw OpError.invalid("coordinate_transformation_mode '\(coordinates)' is not half_pixel or output_half_pixel")
        }
        let outH = ctx.int("output_height", default: 1), outW = ctx.int("output_width", default: 1)
        let sampling = ctx.int("sampling_ratio", default: 0)
        guard outH > 0, outW > 0, sampling >= 0 else {
            throw OpError.invalid("output_height/width must be positive and sampling_ratio >= 0, got \(outH), \(outW), \(sampling)")
        }
        let spatialScale = Double(ctx.float("spatial_scale", default: 1))
        let roiValues = try floatValues(rois)
        guard roiValues.allSatisfy(\.isFinite), spatialScale.isFinite else { throw OpError.invalid("rois and spatial_scale must be finite") }
        guard rois.dims[0] == 0 || (x.dims[2] > 0 && x.dims[3] > 0) else { throw OpError.invalid("X \(x.dims) has no pixels to sample") }
        if sampling == 0 {
            // Adaptive sampling takes ceil(roi size / bin count) samples per bin and axis.
            for n in 0..<rois.dims[0] {
                let h = abs(roiValues[n * 4 + 3] - roiValues[n * 4 + 1]) * spatialScale + 1
                let w = abs(roiValues[n * 4 + 2] - roiValues[n * 4]) * spatialScale + 1
                guard h * w <= Double(1 << 26) else { throw OpError.unsupported("roi \(n) needs more than 2^26 samples") }
            }
        }
        let visitor = RoiAlignKernel(x: x, rois: roiValues, batchIndex: batchIndex, outH: outH, outW: outW, sampling: sampling,
                                     spatialScale: spatialScale, halfPixel: coordinates == "half_pixel", maxMode: mode == "max")
        guard let out = try x.dtype.visitFloat(visitor) else { throw OpError.unsupported("RoiAlign of \(x.dtype)") }
        return [.tensor(out)]
    }

    static func floatValues(_ t: Tensor) throws -> [Double] {
        switch t.dtype {
        case .float32: return t.elements(Float.self).map(Double.init)
        case .float64: return t.elements(Double.self)
        case .float16: return t.elements(Float16.self).map(Double.init)
        default: throw OpError.unsupported("\(t.dtype) values (float16, float32, float64 only)")
        }
    }

    struct RoiAlignKernel: FloatVisitor {
        let x: Tensor
        let rois: [Double]
        let batchIndex: [Int]
        let outH: Int, outW: Int, sampling: Int
        let spatialScale: Double
        let halfPixel: Bool, maxMode: Bool

        func visit<T: FloatElement>(_ type: T.Type) throws -> Tensor {
            let channels = x.dims[1], height = x.dims[2], width = x.dims[3]
            let count = batchIndex.count
            return x.withElements(T.self) { data in
                Tensor.make(T.self, dims: [count, channels, outH, outW]) { out in
                    for n in 0..<count {
                        let offset = halfPixel ? 0.5 : 0
                        let startW = rois[n * 4] * spatialScale - offset, startH = rois[n * 4 + 1] * spatialScale - offset
                        let endW = rois[n * 4 + 2] * spatialScale - offset, endH = rois[n * 4 + 3] * spatialScale - offset
                        var roiW = endW - startW, roiH = endH - startH
                        if !halfPixel { roiW = max(roiW, 1); roiH = max(roiH, 1) }
                        let binH = roiH / Double(outH), binW = roiW / Double(outW)
                        let gridH = sampling > 0 ? sampling : Int((roiH / Double(outH)).rounded(.up))
                        let gridW = sampling > 0 ? sampling : Int((roiW / Double(outW)).rounded(.up))
                        let samples = max(gridH * gridW, 1)
                        // Positions and weights of every sample of every bin, shared by the channels.
                        var pos = [Int](), wts = [Double]()
                        pos.reserveCapacity(outH * outW * max(gridH * gridW, 0) * 4)
                        for ph in 0..<outH {
                            for pw in 0..<outW {
                                for iy in 0..<max(gridH, 0) {
                                    let yy = startH + Double(ph) * binH + (Double(iy) + 0.5) * binH / Double(gridH)
                                    for ix in 0..<max(gridW, 0) {
                                        let xx = startW + Double(pw) * binW + (Double(ix) + 0.5) * binW / Double(gridW)
                                        if yy < -1 || yy > Double(height) || xx < -1 || xx > Double(width) {
                                            pos += [0, 0, 0, 0]; wts += [0, 0, 0, 0]
                                            continue
                                        }
                                        var y = max(yy, 0), xv = max(xx, 0)
                                        var yLow = Int(y), xLow = Int(xv), yHigh: Int, xHigh: Int
                                        if yLow >= height - 1 { yLow = height - 1; yHigh = yLow; y = Double(yLow) } else { yHigh = yLow + 1 }
                                        if xLow >= width - 1 { xLow = width - 1; xHigh = xLow; xv = Double(xLow) } else { xHigh = xLow + 1 }
                                        let ly = y - Double(yLow), lx = xv - Double(xLow), hy = 1 - ly, hx = 1 - lx
                                        pos += [yLow * width + xLow, yLow * width + xHigh, yHigh * width + xLow, yHigh * width + xHigh]
                                        wts += [hy * hx, hy * lx, ly * hx, ly * lx]
                                    }
                                }
                            }
                        }
                        let perBin = max(gridH, 0) * max(gridW, 0)
                        for c in 0..<channels {
                            let plane = (batchIndex[n] * channels + c) * height * width
                            for bin in 0..<(outH * outW) {
                                var value = 0.0
                                var first = true
                                for s in 0..<perBin {
                                    let k = (bin * perBin + s) * 4
                                    if maxMode {
                                        let v = max(max(wts[k] * data[plane + pos[k]].asDouble, wts[k + 1] * data[plane + pos[k + 1]].asDouble),
                                                    max(wts[k + 2] * data[plane + pos[k + 2]].asDouble, wts[k + 3] * data[plane + pos[k + 3]].asDouble))
                                        value = first ? v : max(value, v)
                                        first = false
                                    } else {
                                        value += wts[k] * data[plane + pos[k]].asDouble + wts[k + 1] * data[plane + pos[k + 1]].asDouble
                                            + wts[k + 2] * data[plane + pos[k + 2]].asDouble + wts[k + 3] * data[plane + pos[k + 3]].asDouble
                                    }
                                }
                                if !maxMode { value /= Double(samples) }
                                out[(n * channels + c) * outH * outW + bin] = T.from(value)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: GridSample

    /// X `[N, C, D1...Dr]`, grid `[N, O1...Or, r]` of normalized coordinates in [-1, 1]
    /// (last component first: `(x, y)` address `(W, H)`) -> `[N, C, O1...Or]`. Opset 16: 2-D,
    /// modes bilinear/nearest/bicubic; opset 20+: N-D, linear/nearest/cubic. Coordinates are
    /// denormalized in float32 (align_corners: `-1, 1` are the corner pixels' centers, else
    /// their outer edges); out-of-range coordinates follow `padding_mode` (zeros, border,
    /// reflection); nearest rounds half to even; cubic uses Keys' kernel with A = -0.75.
    @Sendable static func gridSample(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0), grid = try ctx.tensor(1)
        let r = x.dims.count - 2
        guard r >= 1, grid.dims.count == r + 2, grid.dims[0] == x.dims[0], grid.dims[r + 1] == r else {
            throw OpError.invalid("X \(x.dims) and grid \(grid.dims) do not match ([N, C, D...] and [N, O..., \(max(r, 0))])")
        }
        if ctx.opset < 20 && r != 2 { throw OpError.invalid("GridSample-16 takes 4-D inputs, got \(x.dims)") }
        let m = ctx.string("mode", default: ctx.opset < 20 ? "bilinear" : "linear")
        let mode: Int
        switch m {
        case "nearest": mode = 0
        case "linear", "bilinear": mode = 1
        case "cubic", "bicubic": mode = 2
        default: throw OpError.invalid("mode '\(m)' is not supported")
        }
        let padding = ctx.string("padding_mode", default: "zeros")
        guard ["zeros", "border", "reflection"].contains(padding) else { throw OpError.invalid("padding_mode '\(padding)' is not supported") }
        let kernel = GridSampleKernel(x: x, grid: try floatValues(grid), gridDims: grid.dims, mode: mode,
                                      padding: padding == "zeros" ? 0 : padding == "border" ? 1 : 2,
                                      alignCorners: ctx.int("align_corners", default: 0) != 0)
        guard let out = try x.dtype.visitFloat(kernel) else { throw OpError.unsupported("GridSample of \(x.dtype)") }
        return [.tensor(out)]
    }

    struct GridSampleKernel: FloatVisitor {
        let x: Tensor
        let grid: [Double]
        let gridDims: [Int]
        /// 0 nearest, 1 linear, 2 cubic.
        let mode: Int
        /// 0 zeros, 1 border, 2 reflection.
        let padding: Int
        let alignCorners: Bool

        /// Reflects `v` into `[lo, hi]` by the nearer border, repeatedly.
        static func reflect(_ v: Double, _ lo: Double, _ hi: Double) -> Double {
            let range = hi - lo
            if range <= 0 { return lo }
            if v < lo {
                let dx = lo - v
                let n = Int(dx / range)
                let rem = dx - Double(n) * range
                return n % 2 == 0 ? lo + rem : hi - rem
            }
            if v > hi {
                let dx = v - hi
                let n = Int(dx / range)
                let rem = dx - Double(n) * range
                return n % 2 == 0 ? hi - rem : lo + rem
            }
            return v
        }

        static func cubic(_ t: Double) -> [Double] {
            let a = -0.75, t1 = t + 1, q = 1 - t, q1 = 2 - t
            return [((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a,
                    ((a + 2) * t - (a + 3)) * t * t + 1,
                    ((a + 2) * q - (a + 3)) * q * q + 1,
                    ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a]
        }

        func visit<T: FloatElement>(_ type: T.Type) throws -> Tensor {
            let r = x.dims.count - 2
            let n = x.dims[0], channels = x.dims[1]
            let dims = Array(x.dims[2...])
            let outSpatial = Array(gridDims[1...r])
            let points = outSpatial.reduce(1, *), size = dims.reduce(1, *)
            if size == 0 && n * channels * points > 0 { throw OpError.invalid("X \(x.dims) has no elements to sample") }
            var strides = [Int](repeating: 1, count: r)
            for a in stride(from: r - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * dims[a + 1] }
            let lo = dims.map { _ in alignCorners ? 0.0 : -0.5 }
            let hi = dims.map { alignCorners ? Double($0 - 1) : Double($0) - 0.5 }
            // Index of a tap along axis a after padding; nil when it reads zero.
            func tap(_ i: Int, _ a: Int) -> Int? {
                if i >= 0 && i < dims[a] { return i }
                switch padding {
                case 0: return nil
                case 1: return min(max(i, 0), dims[a] - 1)
                default: return min(max(Int(Self.reflect(Double(i), lo[a], hi[a])), 0), dims[a] - 1)
                }
            }
            return x.withElements(T.self) { data in
                Tensor.make(T.self, dims: [n, channels] + outSpatial) { out in
                    var taps = [[(Int?, Double)]](repeating: [], count: r)
                    for b in 0..<n {
                        for p in 0..<points {
                            let g = (b * points + p) * r
                            for a in 0..<r {
                                // Grid components run x (last axis) first.
                                let v = Float(grid[g + r - 1 - a])
                                let len = Float(dims[a])
                                var c: Float = alignCorners ? (v + 1) / 2 * (len - 1) : ((v + 1) * len - 1) / 2
                                if mode == 0 { c = c.rounded(.toNearestOrEven) }
                                // Non-finite or huge coordinates read outside the input.
                                var cd = c.isFinite ? min(max(Double(c), -1e9), 1e9) : -1e9
                                if cd < lo[a] || cd > hi[a] {
                                    if padding == 1 { cd = min(max(cd, 0), Double(dims[a] - 1)) }
                                    else if padding == 2 { cd = Double(Float(Self.reflect(cd, lo[a], hi[a]))) }
                                }
                                switch mode {
                                case 0:
                                    taps[a] = [(tap(Int(cd), a), 1)]
                                case 1:
                                    let f = cd.rounded(.down), t = cd - f, i = Int(f)
                                    taps[a] = [(tap(i, a), 1 - t), (tap(i + 1, a), t)]
                                default:
                                    let f = cd.rounded(.down), i = Int(f)
                                    let w = Self.cubic(cd - f)
                                    taps[a] = (0..<4).map { (tap(i - 1 + $0, a), w[$0]) }
                                }
                            }
                            for c in 0..<channels {
                                let plane = (b * channels + c) * size
                                var sum = 0.0
                                // Every combination of one tap per axis.
                                var k = [Int](repeating: 0, count: r)
                                outer: while true {
                                    var w = 1.0, offset = 0, valid = true
                                    for a in 0..<r {
                                        let (i, wa) = taps[a][k[a]]
                                        w *= wa
                                        if let i { offset += i * strides[a] } else { valid = false }
                                    }
                                    if valid { sum += w * data[plane + offset].asDouble }
                                    var a = r - 1
                                    while a >= 0 {
                                        k[a] += 1
                                        if k[a] < taps[a].count { continue outer }
                                        k[a] = 0
                                        a -= 1
                                    }
                                    break
                                }
                                out[(b * channels + c) * points + p] = T.from(sum)
                            }
                        }
                    }
                }
            }
        }
    }
}
