import ModelIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Signal processing: DFT (17; 20: `axis` became input 2), STFT (17), HannWindow,
/// HammingWindow, BlackmanWindow (17), MelWeightMatrix (17), as `onnx.reference` computes
/// them (NumPy's `fft`, `ifft`, `irfft`).
///
/// Complex values are a trailing dimension of 2 (real, imaginary); real signals have a
/// trailing 1. Transforms run in float64 (a radix-2 FFT for power-of-two lengths, a direct
/// O(n^2) sum with an exact twiddle table otherwise) and round once to the input's type.
/// - DFT: `dft_length` (input 1) crops or zero-pads the signal along `axis` (17: attribute,
///   default 1; 20: input 2, default -2); `onesided` keeps bins `0...n/2`. `inverse` with
///   `onesided` is NumPy's `irfft` (a one-sided spectrum to a real signal of length
///   `dft_length`, default `2 * (bins - 1)`), else `ifft` (scaled by 1/n).
/// - STFT: frames `1 + (length - frame_length) / frame_step` windows of the signal
///   `[batch, length, 1|2]`, multiplies each by `window` (default ones), transforms it with
///   length `frame_length` (default: the window's length); output `[batch, frames, bins, 2]`.
/// - Windows: `size` samples of the cosine-sum window, periodic (N = size) by default or
///   symmetric (N = size - 1), computed in float64 (Hann and Hamming round `n * pi` to a
///   float `output_datatype` first, as NumPy does) and converted to `output_datatype`.
enum SignalOps {
    static let schemas: [OpSchema] = [
        OpSchema("DFT", versions: [17, 20]) { ctx in [.tensor(try dft(ctx))] },
        OpSchema("STFT", versions: [17]) { ctx in [.tensor(try stft(ctx))] },
        OpSchema("HannWindow", versions: [17]) { ctx in [.tensor(try window(ctx, .hann))] },
        OpSchema("HammingWindow", versions: [17]) { ctx in [.tensor(try window(ctx, .hamming))] },
        OpSchema("BlackmanWindow", versions: [17]) { ctx in [.tensor(try window(ctx, .blackman))] },
        OpSchema("MelWeightMatrix", versions: [17]) { ctx in [.tensor(try melWeightMatrix(ctx))] },
    ]

    typealias Precision = AttentionOps.Precision

    // MARK: Transforms

    /// A length-n complex transform: twiddles precomputed once, applied to many sequences.
    struct Transform {
        let n: Int
        /// cos and sin of 2*pi*k/n for k in 0..<n (forward sign applied in `run`).
        let cosines: [Double], sines: [Double]
        let isPowerOfTwo: Bool

        init(length n: Int) {
            self.n = n
            isPowerOfTwo = n > 0 && n & (n - 1) == 0
            // Exact symmetric values (cos(pi/2) = 0, not 6e-17) keep zero bins zero.
            var c = [Double](repeating: 0, count: n), s = [Double](repeating: 0, count: n)
            for k in 0..<n {
                if 4 * k == n { (c[k], s[k]) = (0, 1) }
                else if 2 * k == n { (c[k], s[k]) = (-1, 0) }
                else if 4 * k == 3 * n { (c[k], s[k]) = (0, -1) }
                else {
                    let angle = 2 * Double.pi * Double(k) / Double(n)
                    (c[k], s[k]) = (cos(angle), sin(angle))
                }
            }
            cosines = c
            sines = s
        }

        /// Transforms `re`/`im` (n values each) in place: `X[j] = sum x[t] e^(-+2 pi i j t / n)`,
        /// minus for forward, plus for `inverse` (unscaled).
        func run(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>,
                 inverse: Bool, scratch: UnsafeMutablePointer<Double>) {
            let sign: Double = inverse ? 1 : -1
            if isPowerOfTwo {
                // Bit-reversal permutation, then iterative butterflies.
                var j = 0
                for i in 1..<max(n, 1) {
                    var bit = n >> 1
                    while j & bit != 0 { j ^= bit; bit >>= 1 }
                    j |= bit
                    if i < j { swap(&re[i], &re[j]); swap(&im[i], &im[j]) }
                }
                var size = 2
                while size <= n {
                    let half = size / 2, step = n / size
                    var start = 0
                    while start < n {
                        for k in 0..<half {
                            let wr = cosines[k * step], wi = sign * sines[k * step]
                            let a = start + k, b = a + half
                            let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                            re[b] = re[a] - tr; im[b] = im[a] - ti
                            re[a] += tr; im[a] += ti
                        }
                        start += size
                    }
                    size *= 2
                }
                return
            }
            let outRe = scratch, outIm = scratch + n
            for f in 0..<n {
                var sr = 0.0, si = 0.0, k = 0
                for t in 0..<n {
                    let wr = cosines[k], wi = sign * sines[k]
                    sr += re[t] * wr - im[t] * wi
                    si += re[t] * wi + im[t] * wr
                    k += f
                    if k >= n { k -= n }
                }
                outRe[f] = sr
                outIm[f] = si
            }
            re.update(from: outRe, count: n)
            im.update(from: outIm, count: n)
        }
    }

    static let floatTypes: [DType] = [.float32, .float16, .float64, .bfloat16]

    /// A scalar integer input (dft_length, frame_step...) when present.
    static func scalarInteger(_ ctx: KernelContext, _ i: Int, _ what: String) throws -> Int? {
        guard let t = ctx.optionalTensor(i) else { return nil }
        let v = try Movement.integers(t, "input \(i) (\(what))")
        guard v.count == 1 else { throw OpError.invalid("input \(i) (\(what)) must be a scalar, has \(v.count) values") }
        return v[0]
    }

    static func dft(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0)
        try expect(x, floatTypes, "0 (input)")
        let rank = x.dims.count
        guard rank >= 2, let channels = x.dims.last, channels == 1 || channels == 2 else {
            throw OpError.invalid("input must have rank >= 2 and a last dimension of 1 (real) or 2 (complex), got \(Shape(x.dims))")
        }
        let rawAxis = ctx.opset >= 20 ? (try scalarInteger(ctx, 2, "axis") ?? -2) : ctx.int("axis", default: 1)
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < rank - 1 else {
            throw OpError.invalid("axis \(rawAxis) is out of range for input \(Shape(x.dims)) (the last dimension is not a signal axis)")
        }
        let inverse = ctx.int("inverse", default: 0) != 0, onesided = ctx.int("onesided", default: 0) != 0
        let length = x.dims[axis]
        let n = try scalarInteger(ctx, 1, "dft_length") ?? (inverse && onesided ? 2 * (length - 1) : length)
        guard n >= 1 else { throw OpError.invalid("dft_length must be positive, got \(n)") }
        let outer = x.dims[..<axis].reduce(1, *), inner = x.dims[(axis + 1)..<(rank - 1)].reduce(1, *)
        let xs = try QuantizeOps.doubles(x, name: "input")
        var outDims = x.dims
        let plan = Transform(length: n)
        var re = [Double](repeating: 0, count: n), im = re, scratch = [Double](repeating: 0, count: 2 * n)

        if inverse && onesided {
            // irfft: bins 0...n/2 (cropped or zero-padded) of a Hermitian spectrum; the
            // imaginary parts of bin 0 and, for even n, bin n/2 are ignored.
            let bins = n / 2 + 1
            outDims[axis] = n
            outDims[rank - 1] = 1
            var y = [Double](repeating: 0, count: outer * n * inner)
            for o in 0..<outer {
                for c in 0..<inner {
                    for j in 0..<n {
                        if j < bins && j < length {
                            let src = ((o * length + j) * inner + c) * channels
                            re[j] = xs[src]
                            im[j] = channels == 2 ? xs[src + 1] : 0
                        } else {
                            re[j] = 0
                            im[j] = 0
                        }
                    }
                    im[0] = 0
                    if n % 2 == 0 { im[n / 2] = 0 }
                    for j in bins..<n { re[j] = re[n - j]; im[j] = -im[n - j] }
                    plan.run(&re, &im, inverse: true, scratch: &scratch)
                    for t in 0..<n { y[(o * n + t) * inner + c] = re[t] / Double(n) }
                }
            }
            return try NormalizationOps.tensor(y, dtype: x.dtype, dims: outDims)
        }

        let kept = !inverse && onesided ? n / 2 + 1 : n
        outDims[axis] = kept
        outDims[rank - 1] = 2
        var y = [Double](repeating: 0, count: outer * kept * inner * 2)
        let scale = inverse ? 1 / Double(n) : 1
        for o in 0..<outer {
            for c in 0..<inner {
                for t in 0..<n {
                    if t < length {
                        let src = ((o * length + t) * inner + c) * channels
                        re[t] = xs[src]
                        im[t] = channels == 2 ? xs[src + 1] : 0
                    } else {
                        re[t] = 0
                        im[t] = 0
                    }
                }
                plan.run(&re, &im, inverse: inverse, scratch: &scratch)
                for f in 0..<kept {
                    let dst = ((o * kept + f) * inner + c) * 2
                    y[dst] = re[f] * scale
                    y[dst + 1] = im[f] * scale
                }
            }
        }
        return try NormalizationOps.tensor(y, dtype: x.dtype, dims: outDims)
    }

    static func stft(_ ctx: KernelContext) throws -> Tensor {
        let signal = try ctx.tensor(0)
        try expect(signal, floatTypes, "0 (signal)")
        guard signal.dims.count == 3, signal.dims[2] == 1 || signal.dims[2] == 2 else {
            throw OpError.invalid("signal must be [batch, length, 1 or 2], got \(Shape(signal.dims))")
        }
        guard let step = try scalarInteger(ctx, 1, "frame_step"), step > 0 else {
            throw OpError.invalid("input 1 (frame_step) must be a positive scalar")
        }
        let batch = signal.dims[0], length = signal.dims[1], channels = signal.dims[2]
        let windowTensor = ctx.optionalTensor(2)
        if let w = windowTensor, w.dims.count != 1 { throw OpError.invalid("window must be 1-D, got \(Shape(w.dims))") }
        let frameLength = try scalarInteger(ctx, 3, "frame_length") ?? windowTensor?.dims[0] ?? length
        guard frameLength >= 1, frameLength <= length else {
            throw OpError.invalid("frame_length \(frameLength) must be in 1...\(length) (the signal length)")
        }
        let window = try windowTensor.map { try QuantizeOps.doubles($0, name: "window") }
            ?? [Double](repeating: 1, count: frameLength)
        let windowSize = window.count
        let onesided = ctx.int("onesided", default: 1) != 0
        let frames = 1 + (length - frameLength) / step
        let n = frameLength, bins = onesided ? n / 2 + 1 : n
        let precision = Precision(signal.dtype) ?? .float64
        let xs = try QuantizeOps.doubles(signal, name: "signal")
        let plan = Transform(length: n)
        var re = [Double](repeating: 0, count: n), im = re, scratch = [Double](repeating: 0, count: 2 * n)
        var y = [Double](repeating: 0, count: batch * frames * bins * 2)
        for b in 0..<batch {
            for f in 0..<frames {
                let begin = f * step
                for t in 0..<n {
                    // The frame is the window's length of signal (zeros past the end), weighted
                    // in the signal's type, then cropped or padded to the transform length.
                    if t < windowSize && begin + t < length {
                        let src = (b * length + begin + t) * channels
                        re[t] = precision.round(xs[src] * window[t])
                        im[t] = channels == 2 ? precision.round(xs[src + 1] * window[t]) : 0
                    } else {
                        re[t] = 0
                        im[t] = 0
                    }
                }
                plan.run(&re, &im, inverse: false, scratch: &scratch)
                for k in 0..<bins {
                    let dst = ((b * frames + f) * bins + k) * 2
                    y[dst] = re[k]
                    y[dst + 1] = im[k]
                }
            }
        }
        return try NormalizationOps.tensor(y, dtype: signal.dtype, dims: [batch, frames, bins, 2])
    }

    // MARK: Windows

    enum WindowKind { case hann, hamming, blackman }

    /// The output type of a generator (`output_datatype`, default float32).
    static func outputType(_ ctx: KernelContext) throws -> DType {
        let code = ctx.int("output_datatype", default: 1)
        guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)), t != .string, t != .undefined else {
            throw OpError.unsupported("output_datatype \(code) is not a supported data type")
        }
        return t
    }

    static func window(_ ctx: KernelContext, _ kind: WindowKind) throws -> Tensor {
        guard let size = try scalarInteger(ctx, 0, "size"), size >= 0 else {
            throw OpError.invalid("input 0 (size) must be a non-negative scalar")
        }
        let outType = try outputType(ctx)
        let periodic = ctx.int("periodic", default: 1) != 0
        let denominator = Double(periodic ? size : size - 1)
        var values = [Double](repeating: 0, count: size)
        switch kind {
        case .blackman:
            // NumPy computes this one in float64 from an int64 range.
            for i in 0..<size {
                var y = cos(Double(i) * (Double.pi * 2) / denominator) * -0.5
                y += cos(Double(i) * (Double.pi * 4) / denominator) * 0.08
                values[i] = y + 0.42
            }
        case .hann, .hamming:
            // `np.arange(size, dtype=output) * np.pi` (and `* 2`) stays in a float output
            // type; dividing by N, a NumPy integer, promotes to float64 for the rest.
            let p = Precision(outType) ?? .float64
            let pi = p.round(Double.pi)
            for i in 0..<size {
                let ni = p.round(Double(i))
                if kind == .hann {
                    let s = sin(p.round(ni * pi) / denominator)
                    values[i] = s * s
                } else {
                    values[i] = 25.0 / 46.0 - cos(p.round(p.round(ni * pi) * 2) / denominator) * (1 - 25.0 / 46.0)
                }
            }
        }
        return try CastOps.cast(Tensor.of(values, dims: [size]), to: outType, saturate: true, threads: ctx.threads)
    }

    // MARK: MelWeightMatrix

    /// `[dft_length / 2 + 1, num_mel_bins]` triangular filters between `lower_edge_hertz`
    /// and `upper_edge_hertz` on the HTK mel scale (`2595 log10(1 + f / 700)`), as the
    /// reference builds them (bin edges `floor((dft_length + 1) * f / sample_rate)`).
    static func melWeightMatrix(_ ctx: KernelContext) throws -> Tensor {
        guard let melBins = try scalarInteger(ctx, 0, "num_mel_bins"), melBins > 0,
              let dftLength = try scalarInteger(ctx, 1, "dft_length"), dftLength > 0,
              let sampleRate = try scalarInteger(ctx, 2, "sample_rate"), sampleRate > 0 else {
            throw OpError.invalid("num_mel_bins, dft_length and sample_rate must be positive scalars")
        }
        let lowerT = try ctx.tensor(3), upperT = try ctx.tensor(4)
        let lowers = try QuantizeOps.doubles(lowerT, name: "lower_edge_hertz"), uppers = try QuantizeOps.doubles(upperT, name: "upper_edge_hertz")
        guard lowers.count == 1, uppers.count == 1 else { throw OpError.invalid("lower_edge_hertz and upper_edge_hertz must be scalars") }
        let outType = try outputType(ctx)
        // 2595 * log1p(f / 700) in the edges' type, then divided by log(10) in float64.
        func mel(_ f: Double, _ p: Precision) -> Double {
            p.round(2595 * p.round(log1p(p.round(f / 700)))) / log(10.0)
        }
        let low = mel(lowers[0], Precision(lowerT.dtype) ?? .float64)
        let high = mel(uppers[0], Precision(upperT.dtype) ?? .float64)
        let step = (high - low) / Double(melBins + 2)
        let edges = (0..<(melBins + 2)).map { i -> Int in
            let hertz = 700 * expm1((Double(i) * step + low) / 2595 * log(10.0))
            return Int(exactly: ((Double(dftLength + 1) * hertz) / Double(sampleRate)).rounded(.down)) ?? -1
        }
        let spectrogramBins = dftLength / 2 + 1
        guard edges.allSatisfy({ $0 >= 0 }) else {
            throw OpError.invalid("mel filter edges \(edges) fall below bin 0 (lower_edge_hertz \(lowers[0]), upper_edge_hertz \(uppers[0]))")
        }
        var out = [Double](repeating: 0, count: spectrogramBins * melBins)
        for i in 0..<melBins {
            let lower = edges[i], center = edges[i + 1], upper = edges[i + 2]
            guard center < spectrogramBins else {
                throw OpError.invalid("mel filter \(i) centers on bin \(center), past the \(spectrogramBins) spectrogram bins")
            }
            if center == lower {
                out[center * melBins + i] = 1
            } else if lower <= center {
                for j in lower...center { out[j * melBins + i] = Double(j - lower) / Double(center - lower) }
            }
            if upper > center {
                for j in center..<upper {
                    guard j < spectrogramBins else {
                        throw OpError.invalid("mel filter \(i) reaches bin \(j), past the \(spectrogramBins) spectrogram bins")
                    }
                    out[j * melBins + i] = Double(upper - j) / Double(upper - center)
                }
            }
        }
        return try CastOps.cast(Tensor.of(out, dims: [spectrogramBins, melBins]), to: outType, saturate: true, threads: ctx.threads)
    }
}
