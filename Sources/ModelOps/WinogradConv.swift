import CKernels

/// Winograd F(2x2, 3x3) for float32 3x3 convolutions with stride 1, no dilation, one group
/// (any padding): 2.25 times fewer multiplications than im2col + GEMM and no 9-fold col
/// matrix, at the cost of transforming the weights on every call. Used where the image is
/// large enough that the weight transform is cheap next to the saved work.
///
/// With `U = G g Gᵀ` (weights, 4x4 per channel pair), `V = Bᵀ d B` (each 4x4 input patch
/// at stride 2) and the 16 products `M[ξ] = U[ξ] · V[ξ]` (one GEMM per ξ over all channel
/// pairs and tiles), each 2x2 output tile is `Aᵀ M A`. Tiles are processed in chunks whose
/// transformed inputs stay near 1 MB; chunks run in parallel with single-threaded BLAS. The
/// transforms handle 8 neighbouring tiles at a time in vector lanes where the patches are
/// inside the image.
enum WinogradConv {
    /// Output tiles (2x2) of one image.
    static func tileCount(_ g: ConvGeometry) -> Int { ((g.output[1] + 1) / 2) * ((g.output[2] + 1) / 2) }

    /// Whether the convolution is a 3x3/1 single-group 2-D one where Winograd measured
    /// faster than im2col + GEMM. Never where the AVX-512 implicit GEMM runs; otherwise only
    /// with a BLAS without FMA vector kernels (OpenBLAS's SSE
    /// fallback): with AVX2/AVX-512 kernels im2col + GEMM measured faster on every ResNet-50
    /// 3x3 shape (e.g. 128 channels at 28x28: 2.4 ms against 3.1 ms). Then: at least 100 output tiles, and fewer output than input
    /// channels or at least 128 input channels. (With as many outputs as inputs and few
    /// channels, e.g. ResNet-50's 64 -> 64 at 56x56, its 16 GEMMs with K = C are too small
    /// for OpenBLAS to run efficiently; with few outputs, im2col's 9-fold copy dominates.)
    static func applies(_ g: ConvGeometry) -> Bool {
        mc_sgemm_available() == 0 && !GEMM.hasFMAKernels && supports(g) && tileCount(g) >= 100 && g.inChannels >= 8 && g.outChannels >= 8
            && (g.outChannels < g.inChannels || g.inChannels >= 128)
    }

    /// Whether the algorithm computes this convolution: 2-D, one group, 3x3, stride 1, no dilation.
    static func supports(_ g: ConvGeometry) -> Bool {
        g.spatialRank == 2 && g.group == 1 && g.kernel == [1, 3, 3] && g.stride == [1, 1, 1] && g.dilation == [1, 1, 1]
    }

    static func run(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    y: UnsafeMutablePointer<Float>, threads: Int, clamp: (lo: Float, hi: Float)? = nil) {
        let C = g.inChannels, M = g.outChannels
        let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
        let (ph, pw) = (g.padHead[1], g.padHead[2])
        let TW = (OW + 1) / 2, tiles = tileCount(g)
        // U: 16 matrices [M x C].
        let uScratch = ScratchBuffer<Float>(16 * M * C)
        defer { uScratch.release() }
        let u = uScratch.pointer
        transformWeights(w, M: M, C: C, into: u)
        var chunk = max(32, min(tiles, (1 << 20) / (64 * max(C, M))))
        let workers = GEMM.threadsWorth(flops: g.batch * M * C * tiles * 64, threads: threads)
        if workers > 1 && (tiles + chunk - 1) / chunk * g.batch < 2 * workers {
            chunk = max(32, (tiles + 2 * workers - 1) / (2 * workers))
        }
        let chunks = (tiles + chunk - 1) / chunk
        GEMM.setBLASThreads(1)
        parallelFor(g.batch * chunks, threads: workers) { range in
            let vScratch = ScratchBuffer<Float>(16 * C * chunk), mScratch = ScratchBuffer<Float>(16 * M * chunk)
            defer { vScratch.release(); mScratch.release() }
            let v = vScratch.pointer, m = mScratch.pointer
            for item in range {
                let n = item / chunks, t0 = (item % chunks) * chunk, count = min(chunk, tiles - t0)
                let xn = x + n * C * IH * IW
                for c in 0..<C {
                    transformInput(xn + c * IH * IW, IH: IH, IW: IW, ph: ph, pw: pw, TW: TW, tiles: t0..<(t0 + count),
                                   into: v + c * count, stride: C * count)
                }
                for xi in 0..<16 {
                    GEMM.sgemm(m: M, n: count, k: C, a: u + xi * M * C, lda: C, b: v + xi * C * count, ldb: count,
                               c: m + xi * M * count, ldc: count)
                }
                let yn = y + n * M * OH * OW
                for o in 0..<M {
                    transformOutput(m + o * count, stride: M * count, bias: bias.map { UnsafeRawPointer($0 + o).loadUnaligned(as: Float.self) } ?? 0, tiles: t0..<(t0 + count), TW: TW,
                                    OH: OH, OW: OW, into: yn + o * OH * OW, clamp: clamp)
                }
            }
        }
    }

    /// `U[ξ][m][c] = (G g Gᵀ)[ξ]` for the 3x3 kernel g of each (m, c), G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
    static func transformWeights(_ w: UnsafePointer<Float>, M: Int, C: Int, into u: UnsafeMutablePointer<Float>) {
        let plane = M * C
        for o in 0..<M {
            for c in 0..<C {
                let k = w + (o * C + c) * 9
                // Gg (4 rows x 3 columns) as three column vectors.
                func column(_ j: Int) -> SIMD4<Float> {
                    let (a, b, d) = (k[j], k[3 + j], k[6 + j])
                    return SIMD4(a, 0.5 * (a + b + d), 0.5 * (a - b + d), d)
                }
                let (c0, c1, c2) = (column(0), column(1), column(2))
                // (Gg) Gᵀ: column q of the result per row r.
                let q0 = c0, q1 = 0.5 * (c0 + c1 + c2), q2 = 0.5 * (c0 - c1 + c2), q3 = c2
                let base = o * C + c
                for r in 0..<4 {
                    u[(r * 4 + 0) * plane + base] = q0[r]
                    u[(r * 4 + 1) * plane + base] = q1[r]
                    u[(r * 4 + 2) * plane + base] = q2[r]
                    u[(r * 4 + 3) * plane + base] = q3[r]
                }
            }
        }
    }

    /// `V[ξ] = (Bᵀ d B)[ξ]` for the 4x4 patch d of each tile of one channel plane (zeros
    /// outside the image), Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Writes `v[ξ * stride + j]`
    /// for the j-th tile of `tiles`.
    @inline(__always)
    static func transformInput(_ x: UnsafePointer<Float>, IH: Int, IW: Int, ph: Int, pw: Int, TW: Int, tiles: Range<Int>,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        var j = 0
        let count = tiles.count
        while j < count {
            let t = tiles.lowerBound + j
            let tw = t % TW
            let top = (t / TW) * 2 - ph, left = tw * 2 - pw
            if j + 8 <= count && tw + 8 <= TW && top >= 0 && top + 4 <= IH && left >= 0 && left + 18 <= IW {
                // 8 tiles side by side: lane k holds tile j + k; column q of row r is the
                // even (q = 0, 2) or odd (q = 1, 3) lanes of 16 floats at left (+ 2).
                @inline(__always) func row(_ r: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                    let p = UnsafeRawPointer(x + (top + r) * IW + left)
                    let a = p.loadUnaligned(as: SIMD16<Float>.self), b = p.loadUnaligned(fromByteOffset: 8, as: SIMD16<Float>.self)
                    return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
                }
                let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
                @inline(__always) func store(_ r: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ i: Int) {
                    let base = UnsafeMutableRawPointer(v + (i * 4) * stride + j)
                    base.storeBytes(of: r.0 - r.2, as: SIMD8<Float>.self)
                    base.storeBytes(of: r.1 + r.2, toByteOffset: stride * 4, as: SIMD8<Float>.self)
                    base.storeBytes(of: r.2 - r.1, toByteOffset: 2 * stride * 4, as: SIMD8<Float>.self)
                    base.storeBytes(of: r.1 - r.3, toByteOffset: 3 * stride * 4, as: SIMD8<Float>.self)
                }
                store((d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3), 0)
                store((d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3), 1)
                store((d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3), 2)
                store((d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3), 3)
                j += 8
                continue
            }
            // One tile, zeros outside the image.
            @inline(__always) func row(_ r: Int) -> SIMD4<Float> {
                let ih = top + r
                guard ih >= 0 && ih < IH else { return SIMD4() }
                if left >= 0 && left + 4 <= IW { return UnsafeRawPointer(x + ih * IW + left).loadUnaligned(as: SIMD4<Float>.self) }
                var out = SIMD4<Float>()
                for q in 0..<4 {
                    let iw = left + q
                    if iw >= 0 && iw < IW { out[q] = x[ih * IW + iw] }
                }
                return out
            }
            let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
            @inline(__always) func store(_ r: SIMD4<Float>, _ i: Int) {
                let base = v + (i * 4) * stride + j
                base[0] = r[0] - r[2]
                base[stride] = r[1] + r[2]
                base[2 * stride] = r[2] - r[1]
                base[3 * stride] = r[1] - r[3]
            }
            store(d0 - d2, 0)
            store(d1 + d2, 1)
            store(d2 - d1, 2)
            store(d1 - d3, 3)
            j += 1
        }
    }

    /// The 2x2 output tiles `Aᵀ m A + bias` of one output channel, Aᵀ = [1 1 1 0; 0 1 -1 -1],
    /// cropped at the image edge. Reads `m[ξ * stride + j]` for the j-th tile of `tiles`.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, tiles: Range<Int>, TW: Int, OH: Int, OW: Int,
                                into y: UnsafeMutablePointer<Float>, clamp: (lo: Float, hi: Float)?) {
        let lo8 = SIMD8<Float>(repeating: clamp?.lo ?? 0), hi8 = SIMD8<Float>(repeating: clamp?.hi ?? 0)
        /// The annotated activation's bounds, NaN kept (as the activation nodes keep it).
        @inline(__always) func fit8(_ v: SIMD8<Float>) -> SIMD8<Float> {
            clamp == nil ? v : v.replacing(with: lo8, where: v .< lo8).replacing(with: hi8, where: v .> hi8)
        }
        @inline(__always) func fit(_ v: Float) -> Float {
            guard let clamp else { return v }
            return v < clamp.lo ? clamp.lo : (v > clamp.hi ? clamp.hi : v)
        }
        var j = 0
        let count = tiles.count
        while j < count {
            let t = tiles.lowerBound + j
            let tw = t % TW
            let oh = (t / TW) * 2, ow = tw * 2
            if j + 8 <= count && tw + 8 <= TW && oh + 2 <= OH && ow + 16 <= OW {
                // 8 tiles in vector lanes; the two output rows interleave the tiles' columns.
                let p = UnsafeRawPointer(m + j)
                @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { p.loadUnaligned(fromByteOffset: xi * stride * 4, as: SIMD8<Float>.self) }
                let b = SIMD8<Float>(repeating: bias)
                var s0 = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>()), s1 = s0
                s0.0 = at(0) + at(4) + at(8); s1.0 = at(4) - at(8) - at(12)
                s0.1 = at(1) + at(5) + at(9); s1.1 = at(5) - at(9) - at(13)
                s0.2 = at(2) + at(6) + at(10); s1.2 = at(6) - at(10) - at(14)
                s0.3 = at(3) + at(7) + at(11); s1.3 = at(7) - at(11) - at(15)
                let y00 = fit8(s0.0 + s0.1 + s0.2 + b), y01 = fit8(s0.1 - s0.2 - s0.3 + b)
                let y10 = fit8(s1.0 + s1.1 + s1.2 + b), y11 = fit8(s1.1 - s1.2 - s1.3 + b)
                let row0 = UnsafeMutableRawPointer(y + oh * OW + ow)
                row0.storeBytes(of: interleave(y00, y01), as: SIMD16<Float>.self)
                row0.storeBytes(of: interleave(y10, y11), toByteOffset: OW * 4, as: SIMD16<Float>.self)
                j += 8
                continue
            }
            let p = m + j
            @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
                SIMD4(p[(i * 4) * stride], p[(i * 4 + 1) * stride], p[(i * 4 + 2) * stride], p[(i * 4 + 3) * stride])
            }
            let (a, b, c, d) = (row(0), row(1), row(2), row(3))
            let s0 = a + b + c, s1 = b - c - d
            let y00 = fit(s0[0] + s0[1] + s0[2] + bias), y01 = fit(s0[1] - s0[2] - s0[3] + bias)
            let y10 = fit(s1[0] + s1[1] + s1[2] + bias), y11 = fit(s1[1] - s1[2] - s1[3] + bias)
            let row0 = y + oh * OW + ow
            row0[0] = y00
            if ow + 1 < OW { row0[1] = y01 }
            if oh + 1 < OH {
                row0[OW] = y10
                if ow + 1 < OW { row0[OW + 1] = y11 }
            }
            j += 1
        }
    }

    /// (a0, b0, a1, b1, ...).
    @inline(__always)
    static func interleave(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD16<Float> {
        SIMD16(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
    }
}
