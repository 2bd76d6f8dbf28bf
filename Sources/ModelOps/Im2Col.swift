import CKernels
import ModelIR

/// The geometry of one convolution (or transposed convolution) with 1 to 3 spatial dims,
/// promoted to three (depth, height, width) with leading size-1 dims so that one loop nest
/// serves 1-D, 2-D and 3-D.
///
/// For `Conv`, `input` is the image and `output` the result; for `ConvTranspose` the roles
/// of the spatial sizes swap in `col2im` (the col matrix is indexed by input positions and
/// scattered into the output).
struct ConvGeometry {
    /// The spatial rank of the original op (1...3).
    let spatialRank: Int
    let batch: Int
    let inChannels: Int
    let outChannels: Int
    let group: Int
    /// Spatial sizes and parameters, promoted to three dims (depth, height, width).
    let input: [Int]
    let output: [Int]
    let kernel: [Int]
    let stride: [Int]
    let dilation: [Int]
    /// Padding before the first element along each dim (may be negative for ConvTranspose
    /// with an explicit larger output shape: then it shifts positions outward).
    let padHead: [Int]

    init(spatialRank: Int, batch: Int, inChannels: Int, outChannels: Int, group: Int,
         input: [Int], output: [Int], kernel: [Int], stride: [Int], dilation: [Int], padHead: [Int]) {
        func promote(_ v: [Int], _ fill: Int) -> [Int] { [Int](repeating: fill, count: 3 - v.count) + v }
        self.spatialRank = spatialRank
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.group = group
        self.input = promote(input, 1)
        self.output = promote(output, 1)
        self.kernel = promote(kernel, 1)
        self.stride = promote(stride, 1)
        self.dilation = promote(dilation, 1)
        self.padHead = promote(padHead, 0)
    }

    var inPlane: Int { input[0] * input[1] * input[2] }
    var outPlane: Int { output[0] * output[1] * output[2] }
    var kernelSize: Int { kernel[0] * kernel[1] * kernel[2] }

    /// A 1x1(x1) kernel with unit strides and no padding: the image itself is the col matrix.
    var isPointwise: Bool {
        kernel == [1, 1, 1] && stride == [1, 1, 1] && padHead == [0, 0, 0] && input == output
    }

    /// The C kernel's description of this convolution over `channels` input planes, when it has
    /// at most two spatial dims (the promoted depth is 1) and sizes that fit its 32-bit fields.
    func implicitGEMMGeometry(channels: Int) -> mc_conv2d_geometry? {
        guard input[0] == 1, output[0] == 1, kernel[0] == 1, padHead[0] == 0 else { return nil }
        let fields = [channels, input[1], input[2], output[1], output[2], kernel[1], kernel[2], stride[1], stride[2],
                      dilation[1], dilation[2], padHead[1], padHead[2]]
        guard fields.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }), channels * kernelSize <= Int(Int32.max),
              outPlane <= Int(Int32.max) else { return nil }
        let v = fields.map { Int32($0) }
        return mc_conv2d_geometry(channels: v[0], in_h: v[1], in_w: v[2], out_h: v[3], out_w: v[4], kernel_h: v[5],
                                  kernel_w: v[6], stride_h: v[7], stride_w: v[8], dilation_h: v[9], dilation_w: v[10],
                                  pad_top: v[11], pad_left: v[12])
    }

    /// Writes the col matrix of `channels` input planes at `x` for the output positions
    /// `columns` (flattened over the promoted output dims): row `((c*KD + kd)*KH + kh)*KW + kw`
    /// holds, for each output position, the input element the kernel tap reads (`zero` where
    /// it falls in the padding). `col` has leading dimension `ld >= columns.count`.
    func im2col<T>(_ x: UnsafePointer<T>, channels: Int, columns: Range<Int>, into col: UnsafeMutablePointer<T>,
                   ld: Int, zero: T) {
        let (ID, IH, IW) = (input[0], input[1], input[2])
        let (OH, OW) = (output[1], output[2])
        let (KD, KH, KW) = (kernel[0], kernel[1], kernel[2])
        let (sd, sh, sw) = (stride[0], stride[1], stride[2])
        let (dd, dh, dw) = (dilation[0], dilation[1], dilation[2])
        let (pd, ph, pw) = (padHead[0], padHead[1], padHead[2])
        let plane = inPlane
        var r = 0
        for c in 0..<channels {
            let xc = x + c * plane
            for kd in 0..<KD {
                for kh in 0..<KH {
                    for kw in 0..<KW {
                        let row = col + r * ld
                        r += 1
                        let off = kw * dw - pw  // iw = ow * sw + off
                        // The ow whose iw lies in [0, IW): lo...hi (inclusive).
                        let lo = off >= 0 ? 0 : (-off + sw - 1) / sw
                        let hi = IW - 1 - off < 0 ? -1 : (IW - 1 - off) / sw
                        var p = columns.lowerBound
                        var ow = p % OW
                        let rest = p / OW
                        var oh = rest % OH
                        var od = rest / OH
                        var j = 0
                        while p < columns.upperBound {
                            let len = min(OW - ow, columns.upperBound - p)
                            let id = od * sd - pd + kd * dd
                            let ih = oh * sh - ph + kh * dh
                            let dst = row + j
                            if id < 0 || id >= ID || ih < 0 || ih >= IH {
                                dst.update(repeating: zero, count: len)
                            } else {
                                let src = xc + (id * IH + ih) * IW + off
                                let a = max(ow, lo), b = min(ow + len - 1, hi)
                                if b < a {
                                    dst.update(repeating: zero, count: len)
                                } else {
                                    if a > ow { dst.update(repeating: zero, count: a - ow) }
                                    let d = dst + (a - ow)
                                    if sw == 1 {
                                        d.update(from: src + a, count: b - a + 1)
                                    } else if sw == 2 && T.self == Float.self {
                                        // Stride 2: even lanes of 16-float loads while the
                                        // 16th element read is still inside the row.
                                        let fs = UnsafeRawPointer(src).assumingMemoryBound(to: Float.self)
                                        let fd = UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self)
                                        let count = b - a + 1
                                        var q = 0
                                        while q + 8 <= count && (a + q + 7) * 2 + 1 + off <= IW - 1 {
                                            let v = UnsafeRawPointer(fs + (a + q) * 2).loadUnaligned(as: SIMD16<Float>.self)
                                            UnsafeMutableRawPointer(fd + q).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                                            q += 8
                                        }
                                        while q < count {
                                            fd[q] = fs[(a + q) * 2]
                                            q += 1
                                        }
                                    } else {
                                        for q in 0...(b - a) { d[q] = src[(a + q) * sw] }
                                    }
                                    if b < ow + len - 1 { (dst + (b + 1 - ow)).update(repeating: zero, count: ow + len - 1 - b) }
                                }
                            }
                            j += len
                            p += len
                            ow = 0
                            oh += 1
                            if oh == OH {
                                oh = 0
                                od += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// The transpose of `im2col` with accumulation, for ConvTranspose: `col` has a row per
    /// (output channel, kernel tap) and a column per input position (`inPlane` columns,
    /// leading dimension `ld`); each entry is added to the output element the tap reaches
    /// (`o = i*stride - padHead + k*dilation`), entries outside the output are dropped.
    /// `y` holds `channels` output planes.
    func col2im<T: Numeric>(_ col: UnsafePointer<T>, ld: Int, channels: Int, into y: UnsafeMutablePointer<T>) {
        let (ID, IH, IW) = (input[0], input[1], input[2])
        let (OD, OH, OW) = (output[0], output[1], output[2])
        let (KD, KH, KW) = (kernel[0], kernel[1], kernel[2])
        let (sd, sh, sw) = (stride[0], stride[1], stride[2])
        let (dd, dh, dw) = (dilation[0], dilation[1], dilation[2])
        let (pd, ph, pw) = (padHead[0], padHead[1], padHead[2])
        let plane = outPlane
        var r = 0
        for m in 0..<channels {
            let ym = y + m * plane
            for kd in 0..<KD {
                for kh in 0..<KH {
                    for kw in 0..<KW {
                        let row = col + r * ld
                        r += 1
                        let off = kw * dw - pw  // ow = iw * sw + off
                        let lo = off >= 0 ? 0 : (-off + sw - 1) / sw
                        let hi = OW - 1 - off < 0 ? -1 : min(IW - 1, (OW - 1 - off) / sw)
                        if hi < lo { continue }
                        for id in 0..<ID {
                            let od = id * sd - pd + kd * dd
                            if od < 0 || od >= OD { continue }
                            for ih in 0..<IH {
                                let oh = ih * sh - ph + kh * dh
                                if oh < 0 || oh >= OH { continue }
                                let src = row + (id * IH + ih) * IW
                                let dst = ym + (od * OH + oh) * OW + off
                                if sw == 1 {
                                    for iw in lo...hi { dst[iw] += src[iw] }
                                } else {
                                    for iw in lo...hi { dst[iw * sw] += src[iw] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
