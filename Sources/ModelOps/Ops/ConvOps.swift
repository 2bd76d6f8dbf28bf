import CKernels
import ModelIR

/// Whether a residual can be added in a float32 Conv's epilogue: a float32 tensor of exactly
/// the output's dims. The interpreter's `EpilogueFusion` and the Conv kernel decide by it.
public func fusedResidualFits(_ r: Tensor, outputDims: [Int]) -> Bool {
    r.dtype == .float32 && r.dims == outputDims
}

/// Conv, ConvTranspose, ConvInteger and QLinearConv over 1 to 3 spatial dims.
///
/// float32 (and float16, computed in float32 and rounded once) takes one of three paths:
/// depthwise (one input channel per group, 1-D/2-D): `DepthwiseConv`, direct SIMD loops;
/// 3x3/1 single-group with enough tiles: `WinogradConv`, F(2x2,3x3); otherwise im2col +
/// GEMM (OpenBLAS `sgemm`; 1x1/1 unpadded convolutions read the image in place) over column
/// tiles whose col buffer stays near 1 MB. float64 goes through im2col + `dgemm`; ConvInteger
/// and QLinearConv through the same im2col with an int32 product. Threads: `parallelFor`
/// over (image, group, column tile), planes or tile chunks with single-threaded BLAS calls,
/// or over the rows of one product when there are fewer tiles than threads (on this 2-core
/// machine OpenBLAS's own threads measured no better, within noise, and leave im2col serial).
/// Weights that only reach BLAS are passed in place, unaligned mapped storage included.
enum ConvOps {
    static let schemas: [OpSchema] = [
        OpSchema("Conv", versions: [1, 11, 22]) { ctx in [.tensor(try conv(ctx))] },
        OpSchema("ConvTranspose", versions: [1, 11, 22]) { ctx in [.tensor(try convTranspose(ctx))] },
        OpSchema("ConvInteger", versions: [10]) { ctx in [.tensor(try convInteger(ctx))] },
        OpSchema("QLinearConv", versions: [10]) { ctx in [.tensor(try qlinearConv(ctx))] },
        OpSchema("DeformConv", versions: [19, 22]) { ctx in [.tensor(try deformConv(ctx))] },
    ]

    // MARK: Attributes and geometry

    /// The attributes Conv-like ops share, checked against the spatial rank.
    struct Attributes {
        let autoPad: String
        let dilations: [Int]
        let group: Int
        let kernelShape: [Int]?
        let pads: [Int]?
        let strides: [Int]

        init(_ ctx: KernelContext, rank: Int) throws {
            autoPad = ctx.string("auto_pad", default: "NOTSET")
            guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
                throw OpError.invalid("auto_pad '\(autoPad)' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
            }
            dilations = ctx.ints("dilations") ?? [Int](repeating: 1, count: rank)
            strides = ctx.ints("strides") ?? [Int](repeating: 1, count: rank)
            group = ctx.int("group", default: 1)
            kernelShape = ctx.ints("kernel_shape")
            pads = ctx.ints("pads")
            guard dilations.count == rank, dilations.allSatisfy({ $0 >= 1 }) else {
                throw OpError.invalid("dilations \(dilations) must be \(rank) values >= 1")
            }
            guard strides.count == rank, strides.allSatisfy({ $0 >= 1 }) else {
                throw OpError.invalid("strides \(strides) must be \(rank) values >= 1")
            }
            guard group >= 1 else { throw OpError.invalid("group \(group) must be >= 1") }
            if let p = pads, p.count != 2 * rank {
                throw OpError.invalid("pads \(p) must have \(2 * rank) values")
            }
            if let k = kernelShape, k.count != rank {
                throw OpError.invalid("kernel_shape \(k) must have \(rank) values")
            }
        }
    }

    /// The geometry of `Conv` (and ConvInteger/QLinearConv) for input `x` `[N, C, D...]`
    /// and weights `w` `[M, C/group, K...]`.
    static func convGeometry(_ ctx: KernelContext, x: [Int], w: [Int]) throws -> ConvGeometry {
        guard x.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x))") }
        let rank = x.count - 2
        guard rank <= 3 else { throw OpError.unsupported("convolution over \(rank) spatial dims (at most 3)") }
        guard w.count == x.count else { throw OpError.invalid("weights W \(Shape(w)) must have the rank of X \(Shape(x))") }
        let a = try Attributes(ctx, rank: rank)
        let kernel = Array(w[2...])
        if let k = a.kernelShape, k != kernel {
            throw OpError.invalid("kernel_shape \(k) differs from the weights' spatial dims \(kernel)")
        }
        guard x[1] == w[1] * a.group, w[0] % a.group == 0 else {
            throw OpError.invalid("X \(Shape(x)) and W \(Shape(w)) do not fit group \(a.group) (need C = W[1]*group, M divisible by group)")
        }
        let pads = a.pads ?? [Int](repeating: 0, count: 2 * rank)
        guard pads.allSatisfy({ $0 >= 0 }) else { throw OpError.invalid("pads \(pads) must be >= 0") }
        var head = [Int](repeating: 0, count: rank), out = head
        for i in 0..<rank {
            let size = x[i + 2], s = a.strides[i]
            let effective = (kernel[i] - 1) * a.dilations[i] + 1
            switch a.autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                out[i] = (size + s - 1) / s
                let needed = max(0, (out[i] - 1) * s + effective - size)
                head[i] = a.autoPad == "SAME_LOWER" ? (needed + 1) / 2 : needed / 2
            case "VALID":
                out[i] = size >= effective ? (size - effective) / s + 1 : 0
            default:
                head[i] = pads[i]
                let padded = size + pads[i] + pads[i + rank]
                out[i] = padded >= effective ? (padded - effective) / s + 1 : 0
            }
            guard out[i] >= 1 || size == 0 else {
                throw OpError.invalid("kernel \(kernel) (dilations \(a.dilations)) is larger than the padded input \(Shape(x))")
            }
        }
        return ConvGeometry(spatialRank: rank, batch: x[0], inChannels: x[1], outChannels: w[0], group: a.group,
                            input: Array(x[2...]), output: out, kernel: kernel, stride: a.strides,
                            dilation: a.dilations, padHead: head)
    }

    /// A bias B must be X's dtype with one value per output channel.
    static func checkBias(_ b: Tensor?, x: Tensor, g: ConvGeometry) throws {
        guard let b else { return }
        guard b.dtype == x.dtype, b.elementCount == g.outChannels else {
            throw OpError.invalid("bias B \(b.dtype)\(Shape(b.dims)) must be \(x.dtype)[\(g.outChannels)]")
        }
    }

    /// The output dims `[N, M, D'...]` of a geometry.
    static func outputDims(_ g: ConvGeometry) -> [Int] {
        [g.batch, g.outChannels] + Array(g.output.suffix(g.spatialRank))
    }

    // MARK: Conv

    static func conv(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), w = try ctx.tensor(1), b = ctx.optionalTensor(2)
        guard w.dtype == x.dtype else { throw OpError.invalid("W is \(w.dtype) but X is \(x.dtype)") }
        let g = try convGeometry(ctx, x: x.dims, w: w.dims)
        try checkBias(b, x: x, g: g)
        let dims = outputDims(g)
        let clamp = fusedClamp(ctx.node)
        switch x.dtype {
        case .float32:
            let residual = fusedResidual(ctx, dims: dims)
            // An activation or program after a residual Add that cannot be fused here is not ours either.
            let fusedAddMissing = ctx.node.annotations["fused_add"] != nil && residual == nil
            // The `conv_algorithm` annotation (`winograd`, `gemm`: the implicit GEMM where the CPU
            // runs it, `im2col`: im2col + BLAS) overrides the choice by shape.
            let algorithm = ctx.node.annotations["conv_algorithm"]
            let winograd = switch algorithm {
            case "winograd": WinogradConv.supports(g)
            case "gemm", "im2col": false
            default: WinogradConv.applies(g)
            }
            return try floatConv(Float.self, g, x, w, b, dims: dims, threads: ctx.threads,
                                 clamp: fusedAddMissing ? nil : clamp, residual: residual, winograd: winograd,
                                 implicitGEMM: algorithm != "im2col", chain: fusedAddMissing ? nil : EpilogueProgram(ctx.node))
        case .float64:
            return try floatConv(Double.self, g, x, w, b, dims: dims, threads: ctx.threads)
        case .float16:
            let out = try floatConv(Float.self, g, x.widened(), w.widened(), b?.widened(), dims: dims, threads: ctx.threads)
            return out.narrowedToFloat16()
        default:
            throw OpError.unsupported("Conv on \(x.dtype) (float16, float32, float64 are supported)")
        }
    }

    /// The interpreter's residual input (`fused_add` annotation, input 3: the other operand of
    /// an `Add` it computes in the epilogue, before any fused activation) when it is a float32
    /// tensor of exactly the output's dims; the interpreter runs the Add otherwise, by the
    /// same test.
    static func fusedResidual(_ ctx: KernelContext, dims: [Int]) -> Tensor? {
        guard ctx.node.annotations["fused_add"] != nil, let r = ctx.optionalTensor(3),
              fusedResidualFits(r, outputDims: dims) else { return nil }
        return r
    }

    /// `y = clamp(y + r)` over `count` floats, either part optional (a fused residual Add and
    /// activation), through the C epilogue of the im2col path.
    static func finish(_ y: UnsafeMutablePointer<Float>, count: Int, residual: UnsafePointer<Float>?,
                       clamp: (lo: Float, hi: Float)?) {
        guard residual != nil || clamp != nil else { return }
        mc_conv_epilogue_f32(y, 1, Int32(count), count, nil, residual, clamp == nil ? 0 : 1, clamp?.lo ?? 0, clamp?.hi ?? 0)
    }

    /// The bounds of a `fused_activation` annotation (the `fuse-activation` pass) that is
    /// idempotent, so applying it in the convolution's epilogue is right whether or not the
    /// activation node also runs: Relu `[0, inf)`, Clip `[0, 6]`. nil otherwise.
    static func fusedClamp(_ node: Node) -> (lo: Float, hi: Float)? {
        switch node.annotations["fused_activation"] {
        case "Relu": return (0, .infinity)
        case "Clip":
            guard let lo = node.annotations["fused_activation_min"].flatMap(Float.init),
                  let hi = node.annotations["fused_activation_max"].flatMap(Float.init), lo <= hi else { return nil }
            return (lo, hi)
        default: return nil
        }
    }

    static func floatConv<T: MatMulElement & BinaryFloatingPoint>(_: T.Type, _ g: ConvGeometry, _ x: Tensor, _ w: Tensor,
                                                                  _ b: Tensor?, dims: [Int], threads: Int,
                                                                  clamp: (lo: Float, hi: Float)? = nil,
                                                                  residual: Tensor? = nil, winograd: Bool = false,
                                                                  implicitGEMM: Bool = true,
                                                                  chain: EpilogueProgram? = nil) throws -> Tensor {
        // Every output element is written (bias or product with beta 0).
        Tensor.makeUninitialized(T.self, dims: dims) { y in
            x.withElements(T.self) { xs in
                withOptionalUnalignedPointer(b, T.self) { bs in
                withOptionalElements(residual, T.self) { rs in
                    guard let py = y.baseAddress else { return }
                    // With a residual, the paths other than im2col + GEMM leave the activation to
                    // the residual pass after them (the Add comes first).
                    let residualPass = rs?.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }
                    let clampInPath = residualPass == nil ? clamp : nil
                    var handledResidual = false, handledChain = false
                    defer {
                        if let r = residualPass, !handledResidual {
                            finish(UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), count: y.count, residual: r, clamp: clamp)
                        }
                        if let chain, T.self == Float.self, !handledChain {
                            chain.apply(UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), count: y.count)
                        }
                    }
                    guard let px = xs.baseAddress, w.elementCount ?? 0 > 0 else {
                        // No input channels: the output is the bias.
                        fillBias(py, bs, g: g)
                        if T.self == Float.self {
                            finish(UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), count: y.count,
                                   residual: nil, clamp: clampInPath)
                        }
                        return
                    }
                    if g.inChannels == g.group && g.group > 1 && g.spatialRank <= 2 {
                        withOptionalUnalignedPointer(w, T.self) { pw in
                            guard let pw else { return }
                            if T.self == Float.self {
                                DepthwiseConv.run(g, x: UnsafeRawPointer(px).assumingMemoryBound(to: Float.self),
                                                  w: UnsafeRawPointer(pw).assumingMemoryBound(to: Float.self),
                                                  bias: bs.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                                                  y: UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), threads: threads,
                                                  clamp: clampInPath)
                            } else {
                                depthwise(g, x: px, w: pw, bias: bs, y: py, threads: threads)
                            }
                        }
                    } else if T.self == Float.self && winograd {
                        w.withElements(T.self) { ws in
                            guard let pw = ws.baseAddress else { return }
                            WinogradConv.run(g, x: UnsafeRawPointer(px).assumingMemoryBound(to: Float.self),
                                             w: UnsafeRawPointer(pw).assumingMemoryBound(to: Float.self),
                                             bias: bs.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                                             y: UnsafeMutableRawPointer(py).assumingMemoryBound(to: Float.self), threads: threads,
                                             clamp: clampInPath)
                        }
                    } else {
                        // The weights only reach BLAS: no aligned copy of mapped weights.
                        w.withBLASPointer(T.self) { pw in
                            if let pw {
                                handledChain = convolve(g, x: px, w: pw, bias: bs, y: py, threads: threads,
                                                        clamp: clamp, residual: rs?.baseAddress, implicitGEMM: implicitGEMM,
                                                        program: chain)
                                handledResidual = true
                            }
                        }
                    }
                }
                }
            }
        }
    }

    /// `y = conv(x, w) + bias` through im2col and a matrix product per (image, group,
    /// column tile). `y` is `[N, M, outPlane]`, overwritten. Returns whether it also ran
    /// `program` (the implicit GEMM does, tile by tile, while the tile is in cache).
    @discardableResult
    static func convolve<T: MatMulElement>(_ g: ConvGeometry, x: UnsafePointer<T>, w: UnsafePointer<T>,
                                           bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>, threads: Int,
                                           clamp: (lo: Float, hi: Float)? = nil, residual: UnsafePointer<T>? = nil,
                                           implicitGEMM allowed: Bool = true, program: EpilogueProgram? = nil) -> Bool {
        // The epilogue (residual, clamp) applies to float32 only (the annotations are float's).
        precondition(T.self == Float.self || (clamp == nil && residual == nil), "epilogue on \(T.self)")
        let cinG = g.inChannels / g.group, moutG = g.outChannels / g.group
        let kc = cinG * g.kernelSize
        let plane = g.outPlane, inPlane = g.inPlane
        guard g.batch > 0, moutG > 0, plane > 0 else { return true }
        if kc == 0 {
            fillBias(y, bias, g: g)
            if T.self == Float.self {
                finish(UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), count: g.batch * g.outChannels * plane,
                       residual: residual.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, clamp: clamp)
            }
            return false
        }
        if allowed, T.self == Float.self, let cg = g.implicitGEMMGeometry(channels: cinG), mc_sgemm_available() != 0 {
            let f = { (p: UnsafePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            implicitGEMM(g, cg, x: f(x), w: f(w), bias: bias.map(f), residual: residual.map(f),
                         y: UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), threads: threads, clamp: clamp,
                         program: program)
            return true
        }
        let pointwise = g.isPointwise
        // Column tiles: the col buffer of one tile stays near 1 MB.
        let elementBytes = MemoryLayout<T>.stride
        var tile = plane
        if !pointwise && kc * plane * elementBytes > 1 << 20 {
            tile = min(plane, max(64, (1 << 20) / (kc * elementBytes)))
        }
        let images = g.batch * g.group
        let workers = GEMM.threadsWorth(flops: images * moutG * kc * plane, threads: threads)
        if workers > 1 {
            let wanted = (workers + images - 1) / images
            if (plane + tile - 1) / tile < wanted && plane / wanted >= 64 {
                tile = (plane + wanted - 1) / wanted
            }
        }
        let tiles = (plane + tile - 1) / tile
        let items = images * tiles
        if T.usesBLAS { GEMM.setBLASThreads(1) }

        /// One (image, group, tile): im2col, bias, product. `rows` limits the output channels.
        func run(_ item: Int, _ buffer: UnsafeMutablePointer<T>?, rows: Range<Int>, fill: Bool) {
            let t = item % tiles, ig = item / tiles
            let n = ig / g.group, grp = ig % g.group
            let xg = x + (n * g.inChannels + grp * cinG) * inPlane
            let yg = y + (n * g.outChannels + grp * moutG) * plane
            let c0 = t * tile, len = min(tile, plane - c0)
            let bmat: UnsafePointer<T>, ldb: Int
            if let buffer {
                if fill { g.im2col(xg, channels: cinG, columns: c0..<(c0 + len), into: buffer, ld: len, zero: T.zero) }
                bmat = UnsafePointer(buffer)
                ldb = len
            } else {
                bmat = xg + c0
                ldb = inPlane
            }
            if T.self == Float.self {
                // float32: the product, then bias, residual and activation in one C pass per tile.
                T.product(m: rows.count, n: len, k: kc, a: w + (grp * moutG + rows.lowerBound) * kc, lda: kc, b: bmat,
                          ldb: ldb, c: yg + rows.lowerBound * plane + c0, ldc: plane, accumulate: false)
                let f = { (p: UnsafePointer<T>) in UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
                let offset = (n * g.outChannels + grp * moutG + rows.lowerBound) * plane + c0
                mc_conv_epilogue_f32(UnsafeMutableRawPointer(yg + rows.lowerBound * plane + c0).assumingMemoryBound(to: Float.self),
                                     Int32(rows.count), Int32(len), plane,
                                     bias.map { f($0 + grp * moutG + rows.lowerBound) }, residual.map { f($0 + offset) },
                                     clamp == nil ? 0 : 1, clamp?.lo ?? 0, clamp?.hi ?? 0)
                return
            }
            // Other element types: the product accumulates onto the bias.
            if let bias {
                for m in rows { (yg + m * plane + c0).update(repeating: bias[grp * moutG + m], count: len) }
            }
            T.product(m: rows.count, n: len, k: kc, a: w + (grp * moutG + rows.lowerBound) * kc, lda: kc, b: bmat, ldb: ldb,
                      c: yg + rows.lowerBound * plane + c0, ldc: plane, accumulate: bias != nil)
        }

        if items >= workers {
            parallelFor(items, threads: workers) { range in
                let scratch = pointwise ? nil : ScratchBuffer<T>(kc * tile)
                defer { scratch?.release() }
                let buffer = scratch?.pointer
                for item in range { run(item, buffer, rows: 0..<moutG, fill: true) }
            }
        } else {
            // Fewer tiles than threads (small images): split each product's output channels.
            let scratch = pointwise ? nil : ScratchBuffer<T>(kc * tile)
            defer { scratch?.release() }
            let buffer = scratch?.pointer
            for item in 0..<items {
                if let buffer {
                    let t = item % tiles, ig = item / tiles
                    let xg = x + ((ig / g.group) * g.inChannels + (ig % g.group) * cinG) * inPlane
                    let c0 = t * tile
                    g.im2col(xg, channels: cinG, columns: c0..<min(plane, c0 + tile), into: buffer,
                             ld: min(tile, plane - c0), zero: T.zero)
                }
                parallelFor(moutG, threads: min(workers, max(1, moutG / 4))) { rows in
                    run(item, buffer, rows: rows, fill: false)
                }
            }
        }
        return false
    }

    /// float32 Conv with 1 or 2 spatial dims on CPUs with AVX-512: `mc_sgemm_f32`, which packs
    /// the im2col matrix straight from the image (no col buffer) and applies bias, residual and
    /// clamp as it stores. Work items are (image, group, column tile, row tile); tiles exist only
    /// to give each thread work, and their edges fall on the kernel's 32 columns and 12 rows.
    static func implicitGEMM(_ g: ConvGeometry, _ cg: mc_conv2d_geometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                             threads: Int, clamp: (lo: Float, hi: Float)?, program: EpilogueProgram?) {
        let cinG = g.inChannels / g.group, moutG = g.outChannels / g.group
        let kc = cinG * g.kernelSize, plane = g.outPlane, inPlane = g.inPlane
        let images = g.batch * g.group
        let workers = GEMM.threadsWorth(flops: images * moutG * kc * plane, threads: threads)
        var columnTiles = 1, rowTiles = 1
        if workers > images {
            let wanted = (workers + images - 1) / images
            if plane >= 128 * wanted { columnTiles = wanted } else { rowTiles = min(wanted, max(1, moutG / 24)) }
        }
        func roundUp(_ v: Int, _ m: Int) -> Int { (v + m - 1) / m * m }
        let columnTile = roundUp((plane + columnTiles - 1) / columnTiles, 32)
        let rowTile = roundUp((moutG + rowTiles - 1) / rowTiles, 12)
        columnTiles = (plane + columnTile - 1) / columnTile
        rowTiles = (moutG + rowTile - 1) / rowTile
        let tilesPerImage = columnTiles * rowTiles
        let pointwise = g.isPointwise
        parallelFor(images * tilesPerImage, threads: min(workers, images * tilesPerImage)) { range in
            let scratch = ScratchBuffer<Float>(mc_sgemm_workspace_floats())
            defer { scratch.release() }
            var geometry = cg
            for item in range {
                let ig = item / tilesPerImage, t = item % tilesPerImage
                let n = ig / g.group, grp = ig % g.group
                let c0 = (t % columnTiles) * columnTile, len = min(columnTile, plane - c0)
                let r0 = (t / columnTiles) * rowTile, rows = min(rowTile, moutG - r0)
                let xg = x + (n * g.inChannels + grp * cinG) * inPlane
                let m0 = grp * moutG + r0
                let out = (n * g.outChannels + m0) * plane + c0
                let done = withUnsafePointer(to: &geometry) { gp in
                    mc_sgemm_f32(Int32(rows), Int32(len), Int32(kc), w + m0 * kc, kc,
                                 pointwise ? xg + c0 : xg, inPlane, pointwise ? nil : gp, c0, y + out, plane,
                                 bias.map { $0 + m0 }, residual.map { $0 + out }, plane,
                                 clamp == nil ? 0 : 1, clamp?.lo ?? 0, clamp?.hi ?? 0, scratch.pointer)
                }
                precondition(done == 1, "mc_sgemm_f32 refused a call mc_sgemm_available allowed")
                program?.apply(y + out, rows: rows, cols: len, ld: plane)
            }
        }
    }

    static func fillBias<T>(_ y: UnsafeMutablePointer<T>, _ bias: UnsafePointer<T>?, g: ConvGeometry) where T: Numeric {
        let plane = g.outPlane
        for n in 0..<g.batch {
            for m in 0..<g.outChannels {
                (y + (n * g.outChannels + m) * plane).update(repeating: bias.map { UnsafeRawPointer($0 + m).loadUnaligned(as: T.self) } ?? 0, count: plane)
            }
        }
    }

    /// Direct convolution for one input channel per group (depthwise, any channel
    /// multiplier), 1-D or 2-D: each output plane accumulates its kernel taps row by row.
    static func depthwise<T: BinaryFloatingPoint>(_ g: ConvGeometry, x: UnsafePointer<T>, w: UnsafePointer<T>,
                                                  bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>, threads: Int) {
        let (IH, IW) = (g.input[1], g.input[2])
        let (OH, OW) = (g.output[1], g.output[2])
        let (KH, KW) = (g.kernel[1], g.kernel[2])
        let (sh, sw) = (g.stride[1], g.stride[2])
        let (dh, dw) = (g.dilation[1], g.dilation[2])
        let (ph, pw) = (g.padHead[1], g.padHead[2])
        let M = g.outChannels, C = g.inChannels
        let multiplier = M / g.group
        let inPlane = g.inPlane, plane = g.outPlane, taps = KH * KW
        let planes = g.batch * M
        let workers = GEMM.threadsWorth(flops: planes * plane * taps * 4, threads: threads)
        parallelFor(planes, threads: workers) { range in
            for p in range {
                let n = p / M, m = p % M
                let xp = x + (n * C + m / multiplier) * inPlane
                let wp = w + m * taps
                let yp = y + p * plane
                yp.update(repeating: bias?[m] ?? 0, count: plane)
                for oh in 0..<OH {
                    let yrow = yp + oh * OW
                    for kh in 0..<KH {
                        let ih = oh * sh - ph + kh * dh
                        if ih < 0 || ih >= IH { continue }
                        let xrow = xp + ih * IW
                        for kw in 0..<KW {
                            let wv = wp[kh * KW + kw]
                            let off = kw * dw - pw
                            let lo = off >= 0 ? 0 : (-off + sw - 1) / sw
                            let hi = IW - 1 - off < 0 ? -1 : min(OW - 1, (IW - 1 - off) / sw)
                            if hi < lo { continue }
                            if sw == 1 {
                                let src = xrow + off
                                for ow in lo...hi { yrow[ow] += wv * src[ow] }
                            } else {
                                for ow in lo...hi { yrow[ow] += wv * xrow[ow * sw + off] }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: ConvTranspose

    /// The geometry of ConvTranspose for `x` `[N, C, D...]` and `w` `[C, M/group, K...]`:
    /// `input` is the image, `output` the result, as ONNX (and onnxruntime) compute it.
    static func transposeGeometry(_ ctx: KernelContext, x: [Int], w: [Int]) throws -> ConvGeometry {
        guard x.count >= 3 else { throw OpError.invalid("input X must have rank >= 3, got \(Shape(x))") }
        let rank = x.count - 2
        guard rank <= 3 else { throw OpError.unsupported("ConvTranspose over \(rank) spatial dims (at most 3)") }
        guard w.count == x.count else { throw OpError.invalid("weights W \(Shape(w)) must have the rank of X \(Shape(x))") }
        let a = try Attributes(ctx, rank: rank)
        let kernel = Array(w[2...])
        if let k = a.kernelShape, k != kernel {
            throw OpError.invalid("kernel_shape \(k) differs from the weights' spatial dims \(kernel)")
        }
        guard x[1] == w[0], x[1] % a.group == 0 else {
            throw OpError.invalid("X \(Shape(x)) and W \(Shape(w)) do not fit group \(a.group) (need C = W[0], divisible by group)")
        }
        let outputPadding = ctx.ints("output_padding") ?? [Int](repeating: 0, count: rank)
        guard outputPadding.count == rank else {
            throw OpError.invalid("output_padding \(outputPadding) must have \(rank) values")
        }
        var requested: [Int]? = nil
        if let s = ctx.ints("output_shape") {
            guard s.count == rank || s.count == rank + 2 else {
                throw OpError.invalid("output_shape \(s) must have \(rank) (or \(rank + 2)) values")
            }
            requested = Array(s.suffix(rank))
        }
        let pads = a.pads ?? [Int](repeating: 0, count: 2 * rank)
        var head = [Int](repeating: 0, count: rank), out = head
        for i in 0..<rank {
            let size = x[i + 2], s = a.strides[i]
            let natural = s * (size - 1) + outputPadding[i] + (kernel[i] - 1) * a.dilations[i] + 1
            if requested != nil || a.autoPad == "SAME_UPPER" || a.autoPad == "SAME_LOWER" {
                out[i] = requested?[i] ?? size * s
                let total = max(0, natural - out[i])
                head[i] = a.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
            } else if a.autoPad == "VALID" {
                out[i] = natural
            } else {
                head[i] = pads[i]
                out[i] = natural - pads[i] - pads[i + rank]
            }
            guard out[i] >= 0 else {
                throw OpError.invalid("ConvTranspose output size \(out[i]) along spatial dim \(i) is negative (pads \(pads))")
            }
        }
        return ConvGeometry(spatialRank: rank, batch: x[0], inChannels: x[1], outChannels: w[1] * a.group, group: a.group,
                            input: Array(x[2...]), output: out, kernel: kernel, stride: a.strides,
                            dilation: a.dilations, padHead: head)
    }

    static func convTranspose(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), w = try ctx.tensor(1), b = ctx.optionalTensor(2)
        guard w.dtype == x.dtype else { throw OpError.invalid("W is \(w.dtype) but X is \(x.dtype)") }
        let g = try transposeGeometry(ctx, x: x.dims, w: w.dims)
        try checkBias(b, x: x, g: g)
        let dims = outputDims(g)
        switch x.dtype {
        case .float32:
            return floatConvTranspose(Float.self, g, x, w, b, dims: dims, threads: ctx.threads)
        case .float64:
            return floatConvTranspose(Double.self, g, x, w, b, dims: dims, threads: ctx.threads)
        case .float16:
            return floatConvTranspose(Float.self, g, try x.widened(), try w.widened(), try b?.widened(), dims: dims,
                                      threads: ctx.threads).narrowedToFloat16()
        default:
            throw OpError.unsupported("ConvTranspose on \(x.dtype) (float16, float32, float64 are supported)")
        }
    }

    /// Per (image, group): `col = W_g^T x X_g` (rows: output channel x kernel tap, columns:
    /// input positions), then col2im adds each entry into the output element it reaches.
    static func floatConvTranspose<T: MatMulElement & BinaryFloatingPoint>(_: T.Type, _ g: ConvGeometry, _ x: Tensor,
                                                                           _ w: Tensor, _ b: Tensor?, dims: [Int],
                                                                           threads: Int) -> Tensor {
        let cinG = g.inChannels / g.group, moutG = g.outChannels / g.group
        let taps = g.kernelSize, rows = moutG * taps
        let inPlane = g.inPlane, plane = g.outPlane
        // Kernel == stride, no dilation or padding: each output element gets exactly one
        // tap, written directly (no zero fill, no accumulation).
        let direct = g.kernel == g.stride && g.dilation == [1, 1, 1] && g.padHead == [0, 0, 0]
            && (0..<3).allSatisfy { g.output[$0] == g.input[$0] * g.stride[$0] }
        return Tensor.makeUninitialized(T.self, dims: dims) { y in
            x.withElements(T.self) { xs in
                w.withElements(T.self) { ws in
                    withOptionalElements(b, T.self) { bs in
                        guard let py = y.baseAddress else { return }
                        guard let px = xs.baseAddress, let pw = ws.baseAddress, rows > 0, inPlane > 0, cinG > 0 else {
                            fillBias(py, bs?.baseAddress, g: g)
                            return
                        }
                        if !direct { fillBias(py, bs?.baseAddress, g: g) }
                        // W_g is [cinG, rows]; its transpose [rows, cinG] makes the product row-splittable.
                        let wtScratch = ScratchBuffer<T>(g.group * rows * cinG)
                        defer { wtScratch.release() }
                        let wt = wtScratch.pointer
                        for grp in 0..<g.group {
                            let src = pw + grp * cinG * rows, dst = wt + grp * rows * cinG
                            for c in 0..<cinG { for r in 0..<rows { dst[r * cinG + c] = src[c * rows + r] } }
                        }
                        let colScratch = ScratchBuffer<T>(rows * inPlane)
                        defer { colScratch.release() }
                        let col = colScratch.pointer
                        for n in 0..<g.batch {
                            for grp in 0..<g.group {
                                let xg = px + (n * g.inChannels + grp * cinG) * inPlane
                                GEMM.rowSplitProduct(m: rows, n: inPlane, k: cinG, a: wt + grp * rows * cinG, lda: cinG,
                                                     b: xg, ldb: inPlane, c: col, ldc: inPlane, threads: threads)
                                let yg = py + (n * g.outChannels + grp * moutG) * plane
                                let workers = GEMM.threadsWorth(flops: rows * inPlane * 8, threads: threads)
                                parallelFor(moutG, threads: workers) { channels in
                                    if direct {
                                        for m in channels {
                                            scatterNonOverlapping(g, col: col + m * taps * inPlane, bias: bs?[grp * moutG + m] ?? 0,
                                                                  into: yg + m * plane)
                                        }
                                    } else {
                                        g.col2im(col + channels.lowerBound * taps * inPlane, ld: inPlane,
                                                 channels: channels.count, into: yg + channels.lowerBound * plane)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One output channel of a ConvTranspose whose kernel equals its stride (no dilation or
    /// padding): `y[(i*K + k)] = col[k][i] + bias` per dim, every element written once.
    static func scatterNonOverlapping<T: BinaryFloatingPoint>(_ g: ConvGeometry, col: UnsafePointer<T>, bias: T,
                                                             into y: UnsafeMutablePointer<T>) {
        let (ID, IH, IW) = (g.input[0], g.input[1], g.input[2])
        let (KD, KH, KW) = (g.kernel[0], g.kernel[1], g.kernel[2])
        let (OH, OW) = (g.output[1], g.output[2])
        let inPlane = g.inPlane
        for kd in 0..<KD {
            for kh in 0..<KH {
                for id in 0..<ID {
                    for ih in 0..<IH {
                        let dst = y + ((id * KD + kd) * OH + ih * KH + kh) * OW
                        let srcRow = (id * IH + ih) * IW
                        if KW == 2 {
                            let s0 = col + (kd * KH + kh) * 2 * inPlane + srcRow, s1 = s0 + inPlane
                            for iw in 0..<IW {
                                dst[2 * iw] = s0[iw] + bias
                                dst[2 * iw + 1] = s1[iw] + bias
                            }
                        } else {
                            for kw in 0..<KW {
                                let src = col + ((kd * KH + kh) * KW + kw) * inPlane + srcRow
                                for iw in 0..<IW { dst[iw * KW + kw] = src[iw] + bias }
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: DeformConv

    /// DeformConv (2-D): each kernel tap of each output position reads the input at its
    /// regular position plus a learned offset, by bilinear interpolation with zeros outside
    /// the image (GridSample with align_corners 1), scaled by the optional mask; then the
    /// usual grouped product with W and the bias. Computed as a deformable im2col + GEMM.
    static func deformConv(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), w = try ctx.tensor(1), offset = try ctx.tensor(2)
        let b = ctx.optionalTensor(3), mask = ctx.optionalTensor(4)
        guard x.dims.count == 4 else { throw OpError.unsupported("DeformConv on \(Shape(x.dims)) (2-D images only)") }
        let g = try convGeometry(ctx, x: x.dims, w: w.dims)
        let offsetGroups = ctx.int("offset_group", default: 1)
        let (KH, KW) = (g.kernel[1], g.kernel[2]), taps = KH * KW
        let (OH, OW) = (g.output[1], g.output[2]), plane = OH * OW
        guard offsetGroups >= 1, g.inChannels % offsetGroups == 0 else {
            throw OpError.invalid("offset_group \(offsetGroups) must divide the \(g.inChannels) input channels")
        }
        guard offset.dims == [g.batch, offsetGroups * taps * 2, OH, OW] else {
            throw OpError.invalid("offset \(Shape(offset.dims)) must be [\(g.batch), \(offsetGroups * taps * 2), \(OH), \(OW)]")
        }
        if let mask, mask.dims != [g.batch, offsetGroups * taps, OH, OW] {
            throw OpError.invalid("mask \(Shape(mask.dims)) must be [\(g.batch), \(offsetGroups * taps), \(OH), \(OW)]")
        }
        if let b, b.elementCount != g.outChannels {
            throw OpError.invalid("bias B \(Shape(b.dims)) must have \(g.outChannels) values")
        }
        let xs = try NormalizationOps.doubles(x, name: "X").map(Float.init)
        let ws = try NormalizationOps.doubles(w, name: "W").map(Float.init)
        let os = try NormalizationOps.doubles(offset, name: "offset").map(Float.init)
        let ms = try mask.map { try NormalizationOps.doubles($0, name: "mask").map(Float.init) }
        let bs = try b.map { try NormalizationOps.doubles($0, name: "B").map(Float.init) }
        let (IH, IW) = (g.input[1], g.input[2])
        let cinG = g.inChannels / g.group, moutG = g.outChannels / g.group, perOffsetGroup = g.inChannels / offsetGroups
        var y = [Float](repeating: 0, count: g.batch * g.outChannels * plane)
        var col = [Float](repeating: 0, count: cinG * taps * plane)
        for n in 0..<g.batch {
            for grp in 0..<g.group {
                for c in 0..<cinG {
                    let ch = grp * cinG + c, og = ch / perOffsetGroup
                    let xp = (n * g.inChannels + ch) * IH * IW
                    for kh in 0..<KH {
                        for kw in 0..<KW {
                            let tap = kh * KW + kw
                            let oBase = ((n * offsetGroups + og) * taps + tap) * 2 * plane
                            let row = (c * taps + tap) * plane
                            for oh in 0..<OH {
                                for ow in 0..<OW {
                                    let q = oh * OW + ow
                                    let h = Float(oh * g.stride[1] - g.padHead[1] + kh * g.dilation[1]) + os[oBase + q]
                                    let v = Float(ow * g.stride[2] - g.padHead[2] + kw * g.dilation[2]) + os[oBase + plane + q]
                                    var value = bilinear(xs, base: xp, IH, IW, h, v)
                                    if let ms { value *= ms[((n * offsetGroups + og) * taps + tap) * plane + q] }
                                    col[row + q] = value
                                }
                            }
                        }
                    }
                }
                let yOff = (n * g.outChannels + grp * moutG) * plane
                ws.withUnsafeBufferPointer { wp in
                    col.withUnsafeBufferPointer { cp in
                        y.withUnsafeMutableBufferPointer { yp in
                            guard let a = wp.baseAddress, let bm = cp.baseAddress, let c = yp.baseAddress else { return }
                            GEMM.rowSplitProduct(m: moutG, n: plane, k: cinG * taps, a: a + grp * moutG * cinG * taps,
                                                 lda: cinG * taps, b: bm, ldb: plane, c: c + yOff, ldc: plane, threads: ctx.threads)
                        }
                    }
                }
                if let bs {
                    for m in 0..<moutG { for q in 0..<plane { y[yOff + m * plane + q] += bs[grp * moutG + m] } }
                }
            }
        }
        let out = Tensor.of(y, dims: outputDims(g))
        switch x.dtype {
        case .float32: return out
        case .float16: return out.narrowedToFloat16()
        case .float64: return Tensor.of(y.map(Double.init), dims: outputDims(g))
        default: throw OpError.unsupported("DeformConv on \(x.dtype)")
        }
    }

    /// The image plane at `base` sampled at (h, w) by bilinear interpolation, with zeros
    /// for the neighbours outside the plane.
    @inline(__always)
    static func bilinear(_ x: [Float], base: Int, _ H: Int, _ W: Int, _ h: Float, _ w: Float) -> Float {
        guard h > -1, w > -1, h < Float(H), w < Float(W) else { return 0 }
        let h0f = h.rounded(.down), w0f = w.rounded(.down)
        let h0 = Int(h0f), w0 = Int(w0f)
        let dh = h - h0f, dw = w - w0f
        func at(_ r: Int, _ c: Int) -> Float { r >= 0 && r < H && c >= 0 && c < W ? x[base + r * W + c] : 0 }
        return (1 - dh) * (1 - dw) * at(h0, w0) + (1 - dh) * dw * at(h0, w0 + 1)
            + dh * (1 - dw) * at(h0 + 1, w0) + dh * dw * at(h0 + 1, w0 + 1)
    }

    // MARK: Integer convolutions

    /// ConvInteger: `int32(x - x_zero_point) (*) int32(w - w_zero_point)`.
    static func convInteger(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), w = try ctx.tensor(1)
        let g = try convGeometry(ctx, x: x.dims, w: w.dims)
        let xs = try Quantized.int32(x, zeroPoint: ctx.optionalTensor(2), name: "x")
        let ws = try Quantized.int32PerChannel(w, zeroPoint: ctx.optionalTensor(3), channels: g.outChannels, name: "w")
        return integerConv(g, xs, ws, bias: nil, threads: ctx.threads)
    }

    static func integerConv(_ g: ConvGeometry, _ x: [Int32], _ w: [Int32], bias: [Int32]?, threads: Int) -> Tensor {
        Tensor.make(Int32.self, dims: outputDims(g)) { y in
            x.withUnsafeBufferPointer { xs in
                w.withUnsafeBufferPointer { ws in
                    guard let px = xs.baseAddress, let pw = ws.baseAddress, let py = y.baseAddress else { return }
                    if let bias {
                        bias.withUnsafeBufferPointer { convolve(g, x: px, w: pw, bias: $0.baseAddress, y: py, threads: threads) }
                    } else {
                        convolve(g, x: px, w: pw, bias: nil, y: py, threads: threads)
                    }
                }
            }
        }
    }

    /// QLinearConv: the integer convolution of the zero-point-shifted operands plus the
    /// int32 bias, requantized with `x_scale * w_scale / y_scale` (float32), rounded half
    /// to even and saturated to y's type.
    static func qlinearConv(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), xScale = try ctx.tensor(1), xZero = ctx.optionalTensor(2)
        let w = try ctx.tensor(3), wScale = try ctx.tensor(4), wZero = ctx.optionalTensor(5)
        let yScale = try ctx.tensor(6), yZero = ctx.optionalTensor(7), b = ctx.optionalTensor(8)
        let g = try convGeometry(ctx, x: x.dims, w: w.dims)
        let xs = try Quantized.int32(x, zeroPoint: xZero, name: "x")
        let ws = try Quantized.int32PerChannel(w, zeroPoint: wZero, channels: g.outChannels, name: "w")
        var bias: [Int32]? = nil
        if let b {
            guard b.dtype == .int32, b.elementCount == g.outChannels else {
                throw OpError.invalid("bias B \(b.dtype)\(Shape(b.dims)) must be int32[\(g.outChannels)]")
            }
            bias = b.elements(Int32.self)
        }
        let xScaleValue = try Quantized.scalar(xScale, name: "x_scale")
        let yScaleValue = try Quantized.scalar(yScale, name: "y_scale")
        let wScales = try Quantized.floats(wScale, name: "w_scale")
        guard wScales.count == 1 || wScales.count == g.outChannels else {
            throw OpError.invalid("w_scale has \(wScales.count) values; expected 1 or \(g.outChannels)")
        }
        let outType = yZero?.dtype ?? x.dtype
        let acc = integerConv(g, xs, ws, bias: bias, threads: ctx.threads).elements(Int32.self)
        let zero = try yZero.map { try Quantized.scalarInteger($0, name: "y_zero_point") } ?? 0
        let plane = g.outPlane
        let multipliers = (0..<g.outChannels).map { m in (xScaleValue * wScales[wScales.count == 1 ? 0 : m]) / yScaleValue }
        let values = acc.indices.map { i -> Double in
            let m = (i / plane) % g.outChannels
            return Double(acc[i]) * Double(multipliers[m]) + Double(zero)
        }
        return try Quantized.saturate(values, to: outType, dims: outputDims(g))
    }
}

/// Calls `body` with the elements of an optional tensor (nil when absent).
/// The elements of an optional float32 tensor as a pointer that may be unaligned (mapped
/// initializers sit at any offset in the file), without the aligned copy `withElements`
/// makes: for pointers handed to C or read with `loadUnaligned`. Other types: `withElements`.
func withOptionalUnalignedPointer<T: TensorElement, R>(_ t: Tensor?, _: T.Type, _ body: (UnsafePointer<T>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    if T.self == Float.self { return try t.withBLASPointer(T.self, body) }
    return try t.withElements(T.self) { try body($0.baseAddress) }
}

func withOptionalElements<T: TensorElement, R>(_ t: Tensor?, _: T.Type, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let t else { return try body(nil) }
    return try t.withElements(T.self) { try body($0) }
}

extension Tensor {
    /// A float16 or float32 tensor as float32 (float32 returned as is).
    func widened() throws -> Tensor {
        switch dtype {
        case .float32: return self
        case .float16:
            return withElements(Float16.self) { src in
                Tensor.make(Float.self, dims: dims) { dst in
                    for i in 0..<src.count { dst[i] = Float(src[i]) }
                }
            }
        default: throw OpError.unsupported("expected a float16 or float32 tensor, got \(dtype)")
        }
    }

    /// A float32 tensor rounded to float16 (round to nearest even, like NumPy's astype).
    func narrowedToFloat16() -> Tensor {
        withElements(Float.self) { src in
            Tensor.make(Float16.self, dims: dims) { dst in
                for i in 0..<src.count { dst[i] = Float16(src[i]) }
            }
        }
    }
}

