import CKernels

/// Direct float32 depthwise convolution (one input channel per group, any channel
/// multiplier), 1-D or 2-D, any kernel, stride, dilation and padding.
///
/// Each input plane is first copied into a zero-padded buffer holding exactly the rows and
/// columns the output reads (plus one column for the stride-2 loads), so the output loop has
/// no bounds checks; the plane is then computed by `mc_depthwise_plane_f32` (C, built for
/// AVX-512, AVX2+FMA and baseline x86-64 and picked for the CPU at load time): 3x3 kernels
/// with every tap in one expression per output column, others tap by tap over an output row.
enum DepthwiseConv {
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
        let planes = g.batch * M
        let workers = GEMM.threadsWorth(flops: planes * plane * taps * 4, threads: threads)
        parallelFor(planes, threads: workers) { range in
            // The padding is the same for every plane: zero it once, then copy only the
            // input rows into the window.
            // The C kernel reads past the window into columns it drops: slack after it.
            let count = PH * PW + mc_depthwise_slack(Int32(KW), Int32(dw))
            let scratch = ScratchBuffer<Float>(count)
            defer { scratch.release() }
            let padded = scratch.pointer
            padded.update(repeating: 0, count: count)
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
                mc_depthwise_plane_f32(padded, PW, wp, Int32(KH), Int32(KW), Int32(sh), Int32(sw), Int32(dh), Int32(dw),
                                       bias.map { UnsafeRawPointer($0 + m).loadUnaligned(as: Float.self) } ?? 0, yp, Int32(OH), Int32(OW), clamp == nil ? 0 : 1,
                                       clamp?.lo ?? 0, clamp?.hi ?? 0)
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
        guard ih1 > ih0 else { return }
        mc_copy_rows_f32(x + ih0 * IW + iw0, IW, padded + (ih0 + top) * cols + iw0 + left, cols, Int32(ih1 - ih0),
                         Int32(count))
    }
}
