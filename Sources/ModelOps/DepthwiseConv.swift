/// Direct float32 depthwise convolution (one input channel per group, any channel
/// multiplier), 1-D or 2-D, any kernel, stride, dilation and padding.
///
/// Each output row is split into the columns whose taps all lie inside the input row
/// (computed 16 or 8 at a time with every tap accumulated in vector registers, so the output
/// is written once) and the border columns (scalar, taps outside the input skipped). Rows
/// whose taps fall partly in the vertical padding skip those kernel rows.
enum DepthwiseConv {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// Lanes 0, 2, 4, ... of the 16 (or 32) floats at `p`: 8 (16) elements at stride 2.
    @inline(__always)
    static func loadEven8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { load16(p).evenHalf }

    @inline(__always)
    static func loadEven16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        SIMD16(lowHalf: load16(p).evenHalf, highHalf: load16(p + 16).evenHalf)
    }

    static func run(_ g: ConvGeometry, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    y: UnsafeMutablePointer<Float>, threads: Int) {
        let (IH, IW) = (g.input[1], g.input[2])
        let (OH, OW) = (g.output[1], g.output[2])
        let (KH, KW) = (g.kernel[1], g.kernel[2])
        let (sh, sw) = (g.stride[1], g.stride[2])
        let (dh, dw) = (g.dilation[1], g.dilation[2])
        let (ph, pw) = (g.padHead[1], g.padHead[2])
        let M = g.outChannels, C = g.inChannels
        let multiplier = M / g.group
        let inPlane = g.inPlane, plane = g.outPlane, taps = KH * KW
        // Columns whose taps are all inside the row: owA ..< owB.
        let owA = min(OW, (pw + sw - 1) / sw)
        let last = IW - 1 + pw - (KW - 1) * dw
        let owB = max(owA, last < 0 ? owA : min(OW, last / sw + 1))
        // Vector blocks cover ow ..< ow + width with ow + width <= vectorEnd. At stride 2 a
        // block reads one element past its last tap: that element must be in the row too.
        let vectorEnd: Int
        if sw == 1 {
            vectorEnd = owB
        } else if sw == 2 {
            // (last column) * 2 - pw + (KW - 1) * dw + 1 <= IW - 1
            let limit = IW - 2 + pw - (KW - 1) * dw
            vectorEnd = limit < 0 ? owA : max(owA, min(owB, limit / 2 + 1))
        } else {
            vectorEnd = owA
        }
        let planes = g.batch * M
        let workers = GEMM.threadsWorth(flops: planes * plane * taps * 4, threads: threads)
        parallelFor(planes, threads: workers) { range in
            for p in range {
                let m = p % M
                let xp = x + ((p / M) * C + m / multiplier) * inPlane
                let wp = w + m * taps
                let yp = y + p * plane
                let b = bias?[m] ?? 0
                for oh in 0..<OH {
                    let top = oh * sh - ph
                    let khLo = top >= 0 ? 0 : min(KH, (-top + dh - 1) / dh)
                    let khHi = top >= IH ? 0 : min(KH, (IH - top + dh - 1) / dh)
                    let yrow = yp + oh * OW
                    if khHi <= khLo {
                        yrow.update(repeating: b, count: OW)
                        continue
                    }
                    // Border columns: scalar, taps outside the row skipped.
                    func scalar(_ ow: Int) {
                        var acc = b
                        let left = ow * sw - pw
                        for kh in khLo..<khHi {
                            let row = xp + (top + kh * dh) * IW
                            let wr = wp + kh * KW
                            for kw in 0..<KW {
                                let iw = left + kw * dw
                                if iw >= 0 && iw < IW { acc += wr[kw] * row[iw] }
                            }
                        }
                        yrow[ow] = acc
                    }
                    for ow in 0..<owA { scalar(ow) }
                    var ow = owA
                    if sw == 1 || sw == 2 {
                        while ow + 16 <= vectorEnd {
                            var acc = SIMD16<Float>(repeating: b)
                            for kh in khLo..<khHi {
                                let row = xp + (top + kh * dh) * IW + ow * sw - pw
                                let wr = wp + kh * KW
                                for kw in 0..<KW {
                                    let v = sw == 1 ? load16(row + kw * dw) : loadEven16(row + kw * dw)
                                    acc += SIMD16(repeating: wr[kw]) * v
                                }
                            }
                            UnsafeMutableRawPointer(yrow + ow).storeBytes(of: acc, as: SIMD16<Float>.self)
                            ow += 16
                        }
                        while ow + 8 <= vectorEnd {
                            var acc = SIMD8<Float>(repeating: b)
                            for kh in khLo..<khHi {
                                let row = xp + (top + kh * dh) * IW + ow * sw - pw
                                let wr = wp + kh * KW
                                for kw in 0..<KW {
                                    let v = sw == 1 ? load8(row + kw * dw) : loadEven8(row + kw * dw)
                                    acc += SIMD8(repeating: wr[kw]) * v
                                }
                            }
                            UnsafeMutableRawPointer(yrow + ow).storeBytes(of: acc, as: SIMD8<Float>.self)
                            ow += 8
                        }
                    }
                    // Interior columns left over: scalar without horizontal checks.
                    while ow < owB {
                        var acc = b
                        let left = ow * sw - pw
                        for kh in khLo..<khHi {
                            let row = xp + (top + kh * dh) * IW + left
                            let wr = wp + kh * KW
                            for kw in 0..<KW { acc += wr[kw] * row[kw * dw] }
                        }
                        yrow[ow] = acc
                        ow += 1
                    }
                    for ow in owB..<OW { scalar(ow) }
                }
            }
        }
    }
}
