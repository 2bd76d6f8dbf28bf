import ModelIR

/// Image geometry: Col2Im (18) and AffineGrid (20).
/// - Col2Im rearranges `[N, C * prod(block_shape), L]` column blocks into `[N, C,
///   image_shape...]` images, summing overlaps (the inverse of im2col, PyTorch's `fold`):
///   block position `l` (row-major over the `L` sliding positions) and in-block offset `o`
///   land at `l * strides - pads_begin + o * dilations`; positions outside the image are
///   dropped. Floats add in their own type (float16 rounds per addition, like NumPy);
///   integers wrap.
/// - AffineGrid maps the normalized output grid (`[-1, 1]` per axis; cell centres, or the
///   corner samples with `align_corners`) through `theta` (`[N, 2, 3]` or `[N, 3, 4]`) to
///   sampling coordinates `[N, H, W, 2]` / `[N, D, H, W, 3]` ordered (x, y[, z]), computed
///   in float64 and rounded once to theta's type.
enum ImageOps {
    static let schemas: [OpSchema] = [
        OpSchema("Col2Im", versions: [18]) { ctx in [.tensor(try col2Im(ctx))] },
        OpSchema("AffineGrid", versions: [20]) { ctx in [.tensor(try affineGrid(ctx))] },
    ]

    // MARK: Col2Im

    /// The geometry of one Col2Im call.
    struct Folding {
        let image: [Int], block: [Int], strides: [Int], dilations: [Int], padsBegin: [Int]
        /// Sliding positions per axis.
        let positions: [Int]
    }

    static func col2Im(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        let image = try Movement.integers(try ctx.tensor(1), "input 1 (image_shape)")
        let block = try Movement.integers(try ctx.tensor(2), "input 2 (block_shape)")
        let n = image.count
        guard n >= 1, block.count == n else {
            throw OpError.invalid("image_shape \(image) and block_shape \(block) must have the same non-zero length")
        }
        let dilations = ctx.ints("dilations") ?? [Int](repeating: 1, count: n)
        let pads = ctx.ints("pads") ?? [Int](repeating: 0, count: 2 * n)
        let strides = ctx.ints("strides") ?? [Int](repeating: 1, count: n)
        guard dilations.count == n, strides.count == n, pads.count == 2 * n else {
            throw OpError.invalid("dilations \(dilations), strides \(strides) and pads \(pads) must have \(n), \(n) and \(2 * n) values")
        }
        guard image.allSatisfy({ $0 > 0 }), block.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }),
              strides.allSatisfy({ $0 > 0 }), pads.allSatisfy({ $0 >= 0 }) else {
            throw OpError.invalid("image_shape \(image), block_shape \(block), dilations and strides must be positive, pads non-negative")
        }
        guard x.dims.count == 3 else { throw OpError.invalid("input must be [N, C * prod(block_shape), L], got \(Shape(x.dims))") }
        let blockSize = block.reduce(1, *)
        guard x.dims[1] % blockSize == 0 else {
            throw OpError.invalid("input dimension 1 (\(x.dims[1])) is not a multiple of prod(block_shape) = \(blockSize)")
        }
        var positions = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let span = dilations[i] * (block[i] - 1) + 1
            positions[i] = (image[i] + pads[i] + pads[i + n] - span) / strides[i] + 1
        }
        guard positions.allSatisfy({ $0 >= 1 }), positions.reduce(1, *) == x.dims[2] else {
            throw OpError.invalid("input dimension 2 (\(x.dims[2])) must equal the number of sliding blocks \(positions) = \(positions.reduce(1, *))")
        }
        let folding = Folding(image: image, block: block, strides: strides, dilations: dilations,
                              padsBegin: Array(pads[..<n]), positions: positions)
        let outDims = [x.dims[0], x.dims[1] / blockSize] + image
        if let t = try x.dtype.visitFloat(FoldFloat(x: x, folding: folding, outDims: outDims)) { return t }
        if let t = try x.dtype.visitInteger(FoldInteger(x: x, folding: folding, outDims: outDims)) { return t }
        if x.dtype == .bfloat16 {
            let wide = try CastOps.cast(x, to: .float32, saturate: true, threads: 1)
            let folded = try FoldFloat(x: wide, folding: folding, outDims: outDims).visit(Float.self)
            return try CastOps.cast(folded, to: .bfloat16, saturate: true, threads: 1)
        }
        throw OpError.unsupported("Col2Im of \(x.dtype)")
    }

    /// For every (image offset, column offset) pair of one channel plane: calls
    /// `body(imageIndex, columnIndex)` (flat indices within the plane).
    static func forEachPair(_ f: Folding, _ body: (Int, Int) -> Void) {
        let n = f.image.count
        let blockSize = f.block.reduce(1, *), count = f.positions.reduce(1, *)
        var offset = [Int](repeating: 0, count: n), position = [Int](repeating: 0, count: n)
        for c in 0..<blockSize {
            var r = c
            for i in stride(from: n - 1, through: 0, by: -1) { offset[i] = r % f.block[i]; r /= f.block[i] }
            for l in 0..<count {
                var q = l
                for i in stride(from: n - 1, through: 0, by: -1) { position[i] = q % f.positions[i]; q /= f.positions[i] }
                var flat = 0, inside = true
                for i in 0..<n {
                    let at = position[i] * f.strides[i] - f.padsBegin[i] + offset[i] * f.dilations[i]
                    if at < 0 || at >= f.image[i] { inside = false; break }
                    flat = flat * f.image[i] + at
                }
                if inside { body(flat, c * count + l) }
            }
        }
    }

    struct FoldFloat: FloatVisitor {
        let x: Tensor, folding: Folding, outDims: [Int]
        func visit<T: FloatElement>(_: T.Type) throws -> Tensor {
            let planes = outDims[0] * outDims[1], imageSize = folding.image.reduce(1, *)
            let columnSize = folding.block.reduce(1, *) * folding.positions.reduce(1, *)
            return x.withElements(T.self) { src in
                Tensor.make(T.self, dims: outDims) { out in
                    for p in 0..<planes {
                        let i0 = p * imageSize, c0 = p * columnSize
                        ImageOps.forEachPair(folding) { i, c in out[i0 + i] += src[c0 + c] }
                    }
                }
            }
        }
    }

    struct FoldInteger: IntegerVisitor {
        let x: Tensor, folding: Folding, outDims: [Int]
        func visit<T: IntegerElement>(_: T.Type) throws -> Tensor {
            let planes = outDims[0] * outDims[1], imageSize = folding.image.reduce(1, *)
            let columnSize = folding.block.reduce(1, *) * folding.positions.reduce(1, *)
            return x.withElements(T.self) { src in
                Tensor.make(T.self, dims: outDims) { out in
                    for p in 0..<planes {
                        let i0 = p * imageSize, c0 = p * columnSize
                        ImageOps.forEachPair(folding) { i, c in out[i0 + i] &+= src[c0 + c] }
                    }
                }
            }
        }
    }

    // MARK: AffineGrid

    /// The normalized coordinates of `count` samples along one axis: `-1 + (2k + 1) / count`
    /// (cell centres), or `-1 + 2k / (count - 1)` with `alignCorners` (-1 for one sample).
    static func axisCoordinates(_ count: Int, alignCorners: Bool) -> [Double] {
        if alignCorners {
            guard count > 1 else { return [-1] }
            let step = 2 / Double(count - 1)
            return (0..<count).map { -1 + Double($0) * step }
        }
        let step = 2 / Double(count)
        return (0..<count).map { -1 + step / 2 + Double($0) * step }
    }

    static func affineGrid(_ ctx: KernelContext) throws -> Tensor {
        let theta = try ctx.tensor(0)
        let size = try Movement.integers(try ctx.tensor(1), "input 1 (size)")
        let align = ctx.int("align_corners", default: 0) != 0
        guard [DType.float32, .float16, .float64, .bfloat16].contains(theta.dtype) else {
            throw OpError.unsupported("theta of type \(theta.dtype)")
        }
        guard size.count == 4 || size.count == 5 else { throw OpError.invalid("size must have 4 ([N, C, H, W]) or 5 values, got \(size)") }
        let spatial = size.count - 2
        let n = size[0]
        guard theta.dims == [n, spatial, spatial + 1] else {
            throw OpError.invalid("theta \(Shape(theta.dims)) must be [\(n), \(spatial), \(spatial + 1)] for size \(size)")
        }
        let extent = Array(size[2...])
        guard extent.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("size \(size) has a negative dimension") }
        let th = try QuantizeOps.doubles(theta, name: "theta")
        // Coordinates in (x, y[, z]) order: x runs along the last axis.
        let axes = extent.map { axisCoordinates($0, alignCorners: align) }
        let points = extent.reduce(1, *)
        var out = [Double](repeating: 0, count: n * points * spatial)
        var index = [Int](repeating: 0, count: spatial)
        var homogeneous = [Double](repeating: 1, count: spatial + 1)
        for b in 0..<n {
            for p in 0..<points {
                var r = p
                for a in stride(from: spatial - 1, through: 0, by: -1) { index[a] = r % extent[a]; r /= extent[a] }
                for a in 0..<spatial { homogeneous[a] = axes[spatial - 1 - a][index[spatial - 1 - a]] }
                for row in 0..<spatial {
                    var acc = 0.0
                    for c in 0...spatial { acc += th[(b * spatial + row) * (spatial + 1) + c] * homogeneous[c] }
                    out[(b * points + p) * spatial + row] = acc
                }
            }
        }
        return try NormalizationOps.tensor(out, dtype: theta.dtype, dims: [n] + extent + [spatial])
    }
}
