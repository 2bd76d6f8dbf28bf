/// Direct float32 depthwise convolution (one input channel per group, any channel
/// multiplier), 1-D or 2-D, any kernel, stride, dilation and padding.
///
/// Each input plane is first copied into a zero-padded buffer holding exactly the rows and
/// columns the output reads (plus one column for the stride-2 loads), so the output loop has
/// no bounds checks: output rows are computed 16 (8, 4) columns at a time with every tap
/// accumulated in vector registers and the output written once; the last block of a row
/// overlaps the previous one instead of falling back to scalar code.
enum DepthwiseConv {
    @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// Lanes 0, 2, 4, ... of the 16 floats at `p`: 8 elements at stride 2.
    @inline(__always)
    static func loadEven8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { load16(p).evenHalf }

    /// 16 elements at stride 2 (reads 32 floats).
    @inline(__always)
    static func loadEven16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        SIMD16(lowHalf: load16(p).evenHalf, highHalf: load16(p + 16).evenHalf)
    }

    static func run(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    y: UnsafeMutablePointer<Float>, threads: Int, clamp: (lo: Float, hi: Float)? = nil) {
        let (IH, IW) = (g.input[1], g.input[2])
        let (OH, OW) = (g.output[1], g.output[2])
        let (KH, KW) = (g.kernel[1], g.kernel[2])
        let (sh, sw) = (g.stride[1], g.stride[2])
        let (dh, dw) = (g.dilation[1], g.dilation[2])
        let (ph, pw) = (g.padHead[1], g.padHead[2])
        let M = g.outChannels, C = g.inChannels
        let multiplier = M / g.group
        let inPlane = g.inPlane, plane = g.outPlane, taps = KH * KW
        guard OH > 0, OW > 0 else { return }
        // The padded window: padded row r is input row r - ph, padded column q input column q - pw.
        let PH = (OH - 1) * sh + (KH - 1) * dh + 1
        let PW = (OW - 1) * sw + (KW - 1) * dw + 2
        let vector = (sw == 1 || sw == 2) && OW >= 4
        let planes = g.batch * M
        let workers = GEMM.threadsWorth(flops: planes * plane * taps * 4, threads: threads)
        parallelFor(planes, threads: workers) { range in
            // The padding is the same for every plane: zero it once, then copy only the
            // input rows into the window.
            let scratch = ScratchBuffer<Float>(PH * PW)
            defer { scratch.release() }
            let padded = scratch.pointer
            padded.update(repeating: 0, count: PH * PW)
            var filledFrom = -1  // the input plane `padded` holds
            for p in range {
                let m = p % M
                let source = (p / M) * C + m / multiplier
                if source != filledFrom {
                    fill(padded, rows: PH, cols: PW, from: x + source * inPlane, IH: IH, IW: IW, top: ph, left: pw)
                    filledFrom = source
                }
                let wp = w + m * taps
                let yp = y + p * plane
                let b = bias?[m] ?? 0
                defer { if let clamp { ConvOps.applyClamp(yp, count: plane, clamp) } }
                for oh in 0..<OH {
                    let top = padded + oh * sh * PW
                    let yrow = yp + oh * OW
                    guard vector else {
                        for ow in 0..<OW {
                            var acc = b
                            for kh in 0..<KH {
                                let row = top + kh * dh * PW + ow * sw
                                for kw in 0..<KW { acc += wp[kh * KW + kw] * row[kw * dw] }
                            }
                            yrow[ow] = acc
                        }
                        continue
                    }
                    var ow = 0
                    if OW >= 16 {
                        while true {
                            let start = min(ow, OW - 16)  // the last block overlaps the previous one
                            var acc = SIMD16<Float>(repeating: b)
                            for kh in 0..<KH {
                                let row = top + kh * dh * PW + start * sw
                                let wr = wp + kh * KW
                                if sw == 1 {
                                    for kw in 0..<KW { acc += SIMD16(repeating: wr[kw]) * load16(row + kw * dw) }
                                } else {
                                    for kw in 0..<KW { acc += SIMD16(repeating: wr[kw]) * loadEven16(row + kw * dw) }
                                }
                            }
                            UnsafeMutableRawPointer(yrow + start).storeBytes(of: acc, as: SIMD16<Float>.self)
                            ow = start + 16
                            if ow >= OW { break }
                        }
                    } else if OW >= 8 {
                        while true {
                            let start = min(ow, OW - 8)
                            var acc = SIMD8<Float>(repeating: b)
                            for kh in 0..<KH {
                                let row = top + kh * dh * PW + start * sw
                                let wr = wp + kh * KW
                                if sw == 1 {
                                    for kw in 0..<KW { acc += SIMD8(repeating: wr[kw]) * load8(row + kw * dw) }
                                } else {
                                    for kw in 0..<KW { acc += SIMD8(repeating: wr[kw]) * loadEven8(row + kw * dw) }
                                }
                            }
                            UnsafeMutableRawPointer(yrow + start).storeBytes(of: acc, as: SIMD8<Float>.self)
                            ow = start + 8
                            if ow >= OW { break }
                        }
                    } else {
                        while true {
                            let start = min(ow, OW - 4)
                            var acc = SIMD4<Float>(repeating: b)
                            for kh in 0..<KH {
                                let row = top + kh * dh * PW + start * sw
                                let wr = wp + kh * KW
                                if sw == 1 {
                                    for kw in 0..<KW { acc += SIMD4(repeating: wr[kw]) * load4(row + kw * dw) }
                                } else {
                                    for kw in 0..<KW { acc += SIMD4(repeating: wr[kw]) * load8(row + kw * dw).evenHalf }
                                }
                            }
                            UnsafeMutableRawPointer(yrow + start).storeBytes(of: acc, as: SIMD4<Float>.self)
                            ow = start + 4
                            if ow >= OW { break }
                        }
                    }
                }
            }
        }
    }

    /// Copies the input plane into the `rows x cols` padded window whose padding is already
    /// zero (only the input rows and columns are written).
    static func fill(_ padded: UnsafeMutablePointer<Float>, rows: Int, cols: Int, from x: UnsafePointer<Float>,
                     IH: Int, IW: Int, top: Int, left: Int) {
        // Input columns that land in the window: q = iw + left in [0, cols); rows likewise.
        let iw0 = max(0, -left), iw1 = min(IW, cols - left)
        let ih0 = max(0, -top), ih1 = min(IH, rows - top)
        guard iw1 > iw0 else { return }
        let count = iw1 - iw0
        for ih in ih0..<max(ih0, ih1) {
            let dst = padded + (ih + top) * cols + iw0 + left
            let src = x + ih * IW + iw0
            if count < 32 {
                for i in 0..<count { dst[i] = src[i] }
            } else {
                dst.update(from: src, count: count)
            }
        }
    }
}
