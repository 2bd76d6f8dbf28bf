/// Winograd F(2x2, 3x3) for float32 3x3 convolutions with stride 1, no dilation, one group
/// (any padding): 2.25 times fewer multiplications than im2col + GEMM and no 9-fold col
/// matrix, at the cost of transforming the weights on every call. Used where the image is
/// large enough that the weight transform is cheap next to the saved work.
///
/// With `U = G g Gᵀ` (weights, 4x4 per channel pair), `V = Bᵀ d B` (each 4x4 input patch
/// at stride 2) and the 16 products `M[ξ] = U[ξ] · V[ξ]` (one GEMM per ξ over all channel
/// pairs and tiles), each 2x2 output tile is `Aᵀ M A`. Tiles are processed in chunks whose
/// transformed inputs stay near 2 MB; chunks run in parallel with single-threaded BLAS.
enum WinogradConv {
    /// Output tiles (2x2) of one image.
    static func tileCount(_ g: ConvGeometry) -> Int { ((g.output[1] + 1) / 2) * ((g.output[2] + 1) / 2) }

    /// Whether the convolution is a 3x3/1 single-group 2-D one with enough tiles and
    /// channels for Winograd to pay.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.spatialRank == 2 && g.group == 1 && g.kernel == [1, 3, 3] && g.stride == [1, 1, 1] && g.dilation == [1, 1, 1]
            && tileCount(g) >= 100 && g.inChannels >= 8 && g.outChannels >= 8
    }

    static func run(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    y: UnsafeMutablePointer<Float>, threads: Int) {
        let C = g.inChannels, M = g.outChannels
        let (IH, IW) = (g.input[1], g.input[2]), (OH, OW) = (g.output[1], g.output[2])
        let (ph, pw) = (g.padHead[1], g.padHead[2])
        let TW = (OW + 1) / 2, tiles = tileCount(g)
        // U: 16 matrices [M x C].
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * M * C)
        defer { u.deallocate() }
        transformWeights(w, M: M, C: C, into: u)
        var chunk = max(32, min(tiles, (2 << 20) / (64 * C)))
        let workers = GEMM.threadsWorth(flops: g.batch * M * C * tiles * 64, threads: threads)
        if workers > 1 && (tiles + chunk - 1) / chunk * g.batch < 2 * workers {
            chunk = max(32, (tiles + 2 * workers - 1) / (2 * workers))
        }
        let chunks = (tiles + chunk - 1) / chunk
        GEMM.setBLASThreads(1)
        parallelFor(g.batch * chunks, threads: workers) { range in
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * C * chunk)
            let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * M * chunk)
            defer { v.deallocate(); m.deallocate() }
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
                    transformOutput(m + o * count, stride: M * count, bias: bias?[o] ?? 0, tiles: t0..<(t0 + count), TW: TW,
                                    OH: OH, OW: OW, into: yn + o * OH * OW)
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
        var d = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
        for (j, t) in tiles.enumerated() {
            let top = (t / TW) * 2 - ph, left = (t % TW) * 2 - pw
            if top >= 0 && left >= 0 && top + 4 <= IH && left + 4 <= IW {
                let p = UnsafeRawPointer(x + top * IW + left)
                d.0 = p.loadUnaligned(as: SIMD4<Float>.self)
                d.1 = p.loadUnaligned(fromByteOffset: IW * 4, as: SIMD4<Float>.self)
                d.2 = p.loadUnaligned(fromByteOffset: 2 * IW * 4, as: SIMD4<Float>.self)
                d.3 = p.loadUnaligned(fromByteOffset: 3 * IW * 4, as: SIMD4<Float>.self)
            } else {
                func row(_ r: Int) -> SIMD4<Float> {
                    let ih = top + r
                    guard ih >= 0 && ih < IH else { return SIMD4() }
                    var out = SIMD4<Float>()
                    for q in 0..<4 {
                        let iw = left + q
                        if iw >= 0 && iw < IW { out[q] = x[ih * IW + iw] }
                    }
                    return out
                }
                d = (row(0), row(1), row(2), row(3))
            }
            // Bᵀ d (rows), then each row times B.
            @inline(__always) func store(_ r: SIMD4<Float>, _ i: Int) {
                let base = v + (i * 4) * stride + j
                base[0] = r[0] - r[2]
                base[stride] = r[1] + r[2]
                base[2 * stride] = r[2] - r[1]
                base[3 * stride] = r[1] - r[3]
            }
            store(d.0 - d.2, 0)
            store(d.1 + d.2, 1)
            store(d.2 - d.1, 2)
            store(d.1 - d.3, 3)
        }
    }

    /// The 2x2 output tiles `Aᵀ m A + bias` of one output channel, Aᵀ = [1 1 1 0; 0 1 -1 -1],
    /// cropped at the image edge. Reads `m[ξ * stride + j]` for the j-th tile of `tiles`.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, tiles: Range<Int>, TW: Int, OH: Int, OW: Int,
                                into y: UnsafeMutablePointer<Float>) {
        for (j, t) in tiles.enumerated() {
            let p = m + j
            func row(_ i: Int) -> SIMD4<Float> {
                SIMD4(p[(i * 4) * stride], p[(i * 4 + 1) * stride], p[(i * 4 + 2) * stride], p[(i * 4 + 3) * stride])
            }
            let (a, b, c, d) = (row(0), row(1), row(2), row(3))
            let s0 = a + b + c, s1 = b - c - d
            let oh = (t / TW) * 2, ow = (t % TW) * 2
            let y00 = s0[0] + s0[1] + s0[2] + bias, y01 = s0[1] - s0[2] - s0[3] + bias
            let y10 = s1[0] + s1[1] + s1[2] + bias, y11 = s1[1] - s1[2] - s1[3] + bias
            let row0 = y + oh * OW + ow
            row0[0] = y00
            if ow + 1 < OW { row0[1] = y01 }
            if oh + 1 < OH {
                row0[OW] = y10
                if ow + 1 < OW { row0[OW + 1] = y11 }
            }
        }
    }
}
