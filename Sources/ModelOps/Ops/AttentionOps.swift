import ModelIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attention (opset 23; 24: `nonpad_kv_seqlen` input; 25: `left_window_size` /
/// `right_window_size`): scaled dot-product attention over 4-D `[batch, heads, seq, size]`
/// or 3-D `[batch, seq, heads * size]` Q, K, V (3-D needs `q_num_heads` and `kv_num_heads`),
/// as `onnx.reference`'s `_compute_attention` computes it:
/// 1. `present_key/value = Concat(past_key/value, K/V, axis 2)`; both pasts or neither.
/// 2. `Q` and `present_key` are each multiplied by `sqrt(scale)` (default `scale` is
///    `1/sqrt(head_size)`), rounded to the input type.
/// 3. A bias per `[batch, head, query, key]`: `attn_mask` (bool: true attends, false adds
///    -inf; numeric: added), padded with -inf (false) when shorter than the keys; with
///    `is_causal` key j is visible to query i iff `j <= i + offset`, `offset` being the past
///    length, else `nonpad_kv_seqlen[b] - q_len` (an external cache), else 0; the window
///    bounds (`p - left <= j <= p + right`, `p = offset + i`, -1 unbounded) and keys at or
///    past `nonpad_kv_seqlen[b]` add -inf.
/// 4. `QK^T`, then `softcap * tanh(QK / softcap)` when `softcap > 0`, then `+ bias`, then a
///    softmax along keys (in `softmax_precision` when given) whose fully masked rows (every
///    bias -inf) are 0, then `softmax x V`. Grouped-query attention: query head h reads key/
///    value head `h / (q_heads / kv_heads)`.
/// The optional 4th output is, by `qk_matmul_output_mode`: 0 the raw `QK^T`, 1 after softcap,
/// 2 after adding the bias, 3 the (guarded) softmax. Arithmetic is in float64 and every
/// intermediate NumPy keeps in the input type is rounded to it (float16, bfloat16, float32),
/// so results track the reference to an ulp or so; float64 inputs compute in float64. As in
/// the reference, whose float attributes are float32 scalars, a softcap moves 16-bit scores
/// to float32 from the softcap to the softmax (the outputs are rounded back).
///
/// The same file holds the other transformer / sequence-model blocks (see their sections):
/// RotaryEmbedding (23), SwiGLU (28), LinearAttention (27), CausalConvWithState (27), and
/// FlexAttention (ai.onnx.preview 1).
enum AttentionOps {
    static let schemas: [OpSchema] = [
        OpSchema("Attention", versions: [23, 24, 25]) { ctx in try attention(ctx) },
        OpSchema("RotaryEmbedding", versions: [23]) { ctx in [.tensor(try rotaryEmbedding(ctx))] },
        OpSchema("SwiGLU", versions: [28]) { ctx in [.tensor(try swiGLU(ctx))] },
        OpSchema("LinearAttention", versions: [27]) { ctx in try linearAttention(ctx) },
        OpSchema("CausalConvWithState", versions: [27]) { ctx in try causalConvWithState(ctx) },
        OpSchema("FlexAttention", domain: "ai.onnx.preview", versions: [1]) { ctx in [.tensor(try flexAttention(ctx))] },
    ]

    /// A floating-point type intermediate results are rounded to, as NumPy would keep them.
    enum Precision {
        case float16, bfloat16, float32, float64

        init?(_ dtype: DType) {
            switch dtype {
            case .float16: self = .float16
            case .bfloat16: self = .bfloat16
            case .float32: self = .float32
            case .float64: self = .float64
            default: return nil
            }
        }

        /// `x` rounded to nearest even in this type (NaN and infinities kept).
        @inline(__always) func round(_ x: Double) -> Double {
            switch self {
            case .float64: return x
            case .float32: return Double(Float(x))
            case .float16: return Double(Float16(x))
            case .bfloat16: return Double(BFloat16Bits(Float(x)).float)
            }
        }
    }

    /// The shapes of one Attention call, after 3-D inputs are split into heads.
    struct Geometry {
        let batch: Int, qHeads: Int, kvHeads: Int
        let qLength: Int, kvLength: Int, pastLength: Int
        let headSize: Int, valueSize: Int
        var totalLength: Int { pastLength + kvLength }
    }

    static func attention(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let q = try ctx.tensor(0), k = try ctx.tensor(1), v = try ctx.tensor(2)
        let mask = ctx.optionalTensor(3), pastKey = ctx.optionalTensor(4), pastValue = ctx.optionalTensor(5)
        let nonpadTensor = ctx.opset >= 24 ? ctx.optionalTensor(6) : nil
        guard let precision = Precision(q.dtype) else {
            throw OpError.unsupported("input Q is \(q.dtype); expected float16, bfloat16, float32 or float64")
        }
        guard k.dtype == q.dtype else { throw OpError.invalid("input K is \(k.dtype) but Q is \(q.dtype)") }
        guard Precision(v.dtype) != nil else {
            throw OpError.unsupported("input V is \(v.dtype); expected float16, bfloat16, float32 or float64")
        }
        let rank = q.dims.count
        guard rank == 3 || rank == 4, k.dims.count == rank, v.dims.count == rank else {
            throw OpError.invalid("Q, K and V must all be 3-D or all 4-D, got Q \(Shape(q.dims)), K \(Shape(k.dims)), V \(Shape(v.dims))")
        }
        let qHeadsAttribute = ctx.int("q_num_heads"), kvHeadsAttribute = ctx.int("kv_num_heads")
        let batch = q.dims[0]
        let qHeads: Int, kvHeads: Int, qLength: Int, kvLength: Int, headSize: Int, keySize: Int, valueSize: Int
        if rank == 3 {
            guard let hq = qHeadsAttribute, let hkv = kvHeadsAttribute, hq > 0, hkv > 0 else {
                throw OpError.invalid("3-D inputs need positive q_num_heads and kv_num_heads attributes")
            }
            guard q.dims[2] % hq == 0, k.dims[2] % hkv == 0, v.dims[2] % hkv == 0 else {
                throw OpError.invalid("hidden sizes of Q \(Shape(q.dims)), K \(Shape(k.dims)), V \(Shape(v.dims)) are not multiples of q_num_heads \(hq) / kv_num_heads \(hkv)")
            }
            (qHeads, kvHeads, qLength, kvLength) = (hq, hkv, q.dims[1], k.dims[1])
            (headSize, keySize, valueSize) = (q.dims[2] / hq, k.dims[2] / hkv, v.dims[2] / hkv)
            guard v.dims[1] == kvLength else {
                throw OpError.invalid("K \(Shape(k.dims)) and V \(Shape(v.dims)) differ in sequence length")
            }
        } else {
            if ctx.opset >= 25 && (qHeadsAttribute != nil || kvHeadsAttribute != nil) {
                throw OpError.invalid("q_num_heads and kv_num_heads must not be given for 4-D inputs")
            }
            (qHeads, kvHeads, qLength, kvLength) = (q.dims[1], k.dims[1], q.dims[2], k.dims[2])
            (headSize, keySize, valueSize) = (q.dims[3], k.dims[3], v.dims[3])
            guard v.dims[1] == kvHeads, v.dims[2] == kvLength else {
                throw OpError.invalid("K \(Shape(k.dims)) and V \(Shape(v.dims)) differ in heads or sequence length")
            }
        }
        guard k.dims[0] == batch, v.dims[0] == batch else {
            throw OpError.invalid("Q, K and V differ in batch size: \(Shape(q.dims)), \(Shape(k.dims)), \(Shape(v.dims))")
        }
        guard keySize == headSize else { throw OpError.invalid("Q head size \(headSize) differs from K head size \(keySize)") }
        guard kvHeads > 0, qHeads % kvHeads == 0 else {
            throw OpError.invalid("q heads (\(qHeads)) must be a multiple of kv heads (\(kvHeads))")
        }

        // Past and present caches.
        var pastLength = 0
        if pastKey != nil || pastValue != nil {
            guard let pk = pastKey, let pv = pastValue else {
                throw OpError.invalid("past_key and past_value must be given together")
            }
            guard nonpadTensor == nil else { throw OpError.invalid("nonpad_kv_seqlen cannot be combined with past_key/past_value") }
            guard pk.dims.count == 4, pk.dims[0] == batch, pk.dims[1] == kvHeads, pk.dims[3] == headSize,
                  pv.dims == [batch, kvHeads, pk.dims[2], valueSize] else {
                throw OpError.invalid("past_key \(Shape(pk.dims)) / past_value \(Shape(pv.dims)) must be [\(batch), \(kvHeads), past, \(headSize) / \(valueSize)]")
            }
            pastLength = pk.dims[2]
        }
        let g = Geometry(batch: batch, qHeads: qHeads, kvHeads: kvHeads, qLength: qLength, kvLength: kvLength,
                         pastLength: pastLength, headSize: headSize, valueSize: valueSize)
        var nonpad: [Int]? = nil
        if let t = nonpadTensor {
            let values = try Movement.integers(t, "input 6 (nonpad_kv_seqlen)")
            guard values.count == batch else {
                throw OpError.invalid("nonpad_kv_seqlen has \(values.count) values; expected one per batch (\(batch))")
            }
            nonpad = values
        }

        let qs = headsFirst(try QuantizeOps.doubles(q, name: "Q"), split: rank == 3, batch: batch, heads: qHeads, length: qLength, size: headSize)
        let ks = headsFirst(try QuantizeOps.doubles(k, name: "K"), split: rank == 3, batch: batch, heads: kvHeads, length: kvLength, size: headSize)
        let vs = headsFirst(try QuantizeOps.doubles(v, name: "V"), split: rank == 3, batch: batch, heads: kvHeads, length: kvLength, size: valueSize)
        let presentKey = try concatenate(past: pastKey.map { try QuantizeOps.doubles($0, name: "past_key") }, ks, g, size: headSize)
        let presentValue = try concatenate(past: pastValue.map { try QuantizeOps.doubles($0, name: "past_value") }, vs, g, size: valueSize)

        // An explicit scale is a float32 scalar in the reference (sqrt in float32); the default
        // 1/sqrt(head_size) is float64.
        let factor = precision.round(ctx.float("scale").map { Double($0.squareRoot()) } ?? (1 / Double(headSize).squareRoot()).squareRoot())
        let scaledQ = qs.map { precision.round($0 * factor) }
        let scaledK = presentKey.map { precision.round($0 * factor) }

        // The reference's softcap is a float32 scalar: dividing by it moves float16/bfloat16
        // scores to float32 until the final casts.
        let softcap = Double(ctx.float("softcap", default: 0))
        let scorePrecision: Precision = softcap > 0 && precision != .float64 ? .float32 : precision
        var softmaxPrecision = scorePrecision
        if let code = ctx.int("softmax_precision") {
            guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)), let p = Precision(t) else {
                throw OpError.unsupported("softmax_precision \(code); expected 1, 10, 11 or 16")
            }
            softmaxPrecision = p
        }
        let mode = ctx.int("qk_matmul_output_mode", default: 0)
        guard (0...3).contains(mode) else { throw OpError.invalid("qk_matmul_output_mode \(mode) is not 0, 1, 2 or 3") }
        let bias = try BiasRule(
            mask: mask, geometry: g, causal: ctx.int("is_causal", default: 0) != 0, nonpad: nonpad,
            left: ctx.opset >= 25 ? ctx.int("left_window_size", default: -1) : -1,
            right: ctx.opset >= 25 ? ctx.int("right_window_size", default: -1) : -1, precision: precision)
        let plan = RowPlan(geometry: g, precision: precision, scorePrecision: scorePrecision, softmaxPrecision: softmaxPrecision,
                           softcap: softcap, mode: mode, wantScores: ctx.wantsOutput(3))

        let rowCount = batch * qHeads * qLength
        var y = [Double](repeating: 0, count: rowCount * valueSize)
        var scores = [Double](repeating: 0, count: plan.wantScores ? rowCount * g.totalLength : 0)
        let work = rowCount * g.totalLength * (headSize + valueSize)
        y.withUnsafeMutableBufferPointer { yOut in
            scores.withUnsafeMutableBufferPointer { sOut in
                parallelFor(batch * qHeads, threads: parallelForThreads(elements: work, threads: ctx.threads)) { range in
                    var scratch = RowPlan.Scratch(length: g.totalLength)
                    for bh in range {
                        for i in 0..<qLength {
                            plan.row(batchHead: bh, query: i, q: scaledQ, k: scaledK, v: presentValue, bias: bias,
                                     scratch: &scratch, y: yOut, scores: sOut)
                        }
                    }
                }
            }
        }

        let yDims = rank == 3 ? [batch, qLength, qHeads * valueSize] : [batch, qHeads, qLength, valueSize]
        let yValues = rank == 3 ? sequenceFirst(y, batch: batch, heads: qHeads, length: qLength, size: valueSize) : y
        var outputs: [RuntimeValue] = [.tensor(try NormalizationOps.tensor(yValues, dtype: q.dtype, dims: yDims))]
        if ctx.wantsOutput(1) {
            outputs.append(.tensor(try NormalizationOps.tensor(presentKey, dtype: k.dtype, dims: [batch, kvHeads, g.totalLength, headSize])))
        } else if ctx.outputCount > 1 {
            outputs.append(.none)
        }
        if ctx.wantsOutput(2) {
            outputs.append(.tensor(try NormalizationOps.tensor(presentValue, dtype: v.dtype, dims: [batch, kvHeads, g.totalLength, valueSize])))
        } else if ctx.outputCount > 2 {
            outputs.append(.none)
        }
        if ctx.wantsOutput(3) {
            outputs.append(.tensor(try NormalizationOps.tensor(scores, dtype: q.dtype, dims: [batch, qHeads, qLength, g.totalLength])))
        }
        return outputs
    }

    // MARK: Layout

    /// `[batch, length, heads * size]` as `[batch, heads, length, size]` when `split`; else
    /// the values unchanged (already 4-D).
    static func headsFirst(_ x: [Double], split: Bool, batch: Int, heads: Int, length: Int, size: Int) -> [Double] {
        guard split else { return x }
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<batch {
            for s in 0..<length {
                for h in 0..<heads {
                    let src = ((b * length + s) * heads + h) * size, dst = ((b * heads + h) * length + s) * size
                    for d in 0..<size { out[dst + d] = x[src + d] }
                }
            }
        }
        return out
    }

    /// `[batch, heads, length, size]` as `[batch, length, heads * size]`.
    static func sequenceFirst(_ x: [Double], batch: Int, heads: Int, length: Int, size: Int) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<batch {
            for h in 0..<heads {
                for s in 0..<length {
                    let src = ((b * heads + h) * length + s) * size, dst = ((b * length + s) * heads + h) * size
                    for d in 0..<size { out[dst + d] = x[src + d] }
                }
            }
        }
        return out
    }

    /// `past` (`[batch, kvHeads, pastLength, size]`) and `current` (`[..., kvLength, size]`)
    /// concatenated along the sequence axis.
    static func concatenate(past: [Double]?, _ current: [Double], _ g: Geometry, size: Int) throws -> [Double] {
        guard let past else { return current }
        var out = [Double](repeating: 0, count: g.batch * g.kvHeads * g.totalLength * size)
        for bh in 0..<(g.batch * g.kvHeads) {
            let dst = bh * g.totalLength * size
            for i in 0..<(g.pastLength * size) { out[dst + i] = past[bh * g.pastLength * size + i] }
            for i in 0..<(g.kvLength * size) { out[dst + g.pastLength * size + i] = current[bh * g.kvLength * size + i] }
        }
        return out
    }

    // MARK: Bias

    /// The additive bias of every score: the mask, causal frontier, window and padding.
    struct BiasRule {
        let g: Geometry
        /// The mask's values (bool: 1 or 0), its dims left-padded to rank 4, and the strides
        /// that broadcast it onto `[batch, qHeads, qLength, maskKeys]`.
        let mask: [Double]?
        let maskIsBool: Bool
        let maskStrides: [Int]
        let maskKeys: Int
        let causal: Bool
        let nonpad: [Int]?
        let left: Int, right: Int

        init(mask t: Tensor?, geometry g: Geometry, causal: Bool, nonpad: [Int]?, left: Int, right: Int,
             precision: Precision) throws {
            self.g = g
            self.causal = causal
            self.nonpad = nonpad
            self.left = left
            self.right = right
            guard left >= -1, right >= -1 else {
                throw OpError.invalid("left_window_size \(left) / right_window_size \(right) must be -1 or non-negative")
            }
            guard let t else {
                (mask, maskIsBool, maskStrides, maskKeys) = (nil, false, [0, 0, 0, 0], 0)
                return
            }
            guard (1...4).contains(t.dims.count) else {
                throw OpError.invalid("attn_mask \(Shape(t.dims)) must have rank 1 to 4")
            }
            let dims = [Int](repeating: 1, count: 4 - t.dims.count) + t.dims
            let target = [g.batch, g.qHeads, g.qLength]
            for a in 0..<3 where dims[a] != 1 && dims[a] != target[a] {
                throw OpError.invalid("attn_mask \(Shape(t.dims)) does not broadcast to [\(g.batch), \(g.qHeads), \(g.qLength), \(g.totalLength)]")
            }
            guard dims[3] <= g.totalLength else {
                throw OpError.invalid("attn_mask \(Shape(t.dims)) has more keys than the \(g.totalLength) of past and present")
            }
            maskKeys = dims[3]
            maskStrides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1].enumerated().map { a, s in
                a < 3 && dims[a] == 1 ? 0 : s
            }
            maskIsBool = t.dtype == .bool
            // A numeric mask joins the bias in the input type (it is added to a zero bias of Q's type).
            mask = maskIsBool ? try Movement.doubles(t, "attn_mask") : try QuantizeOps.doubles(t, name: "attn_mask").map(precision.round)
        }

        /// Writes the bias of query `i` of batch `b`, head `h` to `out[0..<totalLength]`;
        /// returns whether every entry is -inf (the row attends nothing).
        @inline(__always)
        func row(b: Int, h: Int, i: Int, into out: UnsafeMutablePointer<Double>) -> Bool {
            let total = g.totalLength
            let base = b * maskStrides[0] + h * maskStrides[1] + i * maskStrides[2]
            let offset = g.pastLength > 0 ? g.pastLength : (nonpad.map { $0[b] - g.qLength } ?? 0)
            let visible = nonpad?[b] ?? total
            var largest = -Double.infinity
            for j in 0..<total {
                var value = 0.0
                if let mask {
                    if j < maskKeys {
                        let m = mask[base + j]
                        value = maskIsBool ? (m != 0 ? 0 : -.infinity) : m
                    } else {
                        value = -.infinity
                    }
                }
                if causal && j > i + offset { value += -.infinity }
                let distance = i + offset - j
                if left >= 0 && distance > left { value += -.infinity }
                if right >= 0 && -distance > right { value += -.infinity }
                if j >= visible { value += -.infinity }
                out[j] = value
                if value.isNaN || largest.isNaN { largest = .nan } else if value > largest { largest = value }
            }
            return largest == -.infinity
        }
    }

    // MARK: Rows

    /// One query row: scores against every key, softcap, bias, softmax, weighted values.
    struct RowPlan {
        let g: Geometry
        /// The input type (QK^T, the probabilities, Y).
        let precision: Precision
        /// The type of the softcapped scores and the biased scores.
        let scorePrecision: Precision
        let softmaxPrecision: Precision
        let softcap: Double
        let mode: Int
        let wantScores: Bool

        init(geometry: Geometry, precision: Precision, scorePrecision: Precision, softmaxPrecision: Precision,
             softcap: Double, mode: Int, wantScores: Bool) {
            self.g = geometry
            self.precision = precision
            self.scorePrecision = scorePrecision
            self.softmaxPrecision = softmaxPrecision
            self.softcap = softcap
            self.mode = mode
            self.wantScores = wantScores
        }

        struct Scratch {
            var bias: [Double], scores: [Double]
            init(length: Int) {
                bias = [Double](repeating: 0, count: length)
                scores = [Double](repeating: 0, count: length)
            }
        }

        func row(batchHead bh: Int, query i: Int, q: [Double], k: [Double], v: [Double], bias: BiasRule,
                 scratch: inout Scratch, y: UnsafeMutableBufferPointer<Double>, scores out: UnsafeMutableBufferPointer<Double>) {
            let b = bh / g.qHeads, h = bh % g.qHeads
            let kvh = b * g.kvHeads + h / (g.qHeads / g.kvHeads)
            let total = g.totalLength, d = g.headSize, dv = g.valueSize
            let qBase = (bh * g.qLength + i) * d
            let row = bh * g.qLength + i
            let p = precision, cp = scorePrecision, sp = softmaxPrecision
            scratch.bias.withUnsafeMutableBufferPointer { biasRow in
                scratch.scores.withUnsafeMutableBufferPointer { s in
                    guard let bp = biasRow.baseAddress else { return }
                    let fullyMasked = bias.row(b: b, h: h, i: i, into: bp)
                    for j in 0..<total {
                        let kBase = (kvh * total + j) * d
                        var dot = 0.0
                        for c in 0..<d { dot += q[qBase + c] * k[kBase + c] }
                        var x = p.round(dot)
                        if wantScores && mode == 0 { out[row * total + j] = x }
                        if softcap > 0 { x = cp.round(cp.round(tanh(cp.round(x / softcap))) * softcap) }
                        if wantScores && mode == 1 { out[row * total + j] = p.round(x) }
                        x = cp.round(x + biasRow[j])
                        if wantScores && mode == 2 { out[row * total + j] = p.round(x) }
                        s[j] = sp.round(x)
                    }
                    // Softmax as the reference writes it: NaN-propagating max, exp(x - max),
                    // a zero sum replaced by 1; rows whose bias is all -inf give zeros.
                    var largest = -Double.infinity
                    for j in 0..<total {
                        if s[j].isNaN || largest.isNaN { largest = .nan } else if s[j] > largest { largest = s[j] }
                    }
                    let shift = largest == -.infinity ? 0 : largest
                    var sum = 0.0
                    for j in 0..<total {
                        s[j] = sp.round(exp(sp.round(s[j] - shift)))
                        sum += s[j]
                    }
                    sum = sp.round(sum)
                    if sum == 0 { sum = 1 }
                    for j in 0..<total {
                        s[j] = fullyMasked ? 0 : p.round(sp.round(s[j] / sum))
                        if wantScores && mode == 3 { out[row * total + j] = s[j] }
                    }
                    let yBase = row * dv
                    for c in 0..<dv { y[yBase + c] = 0 }
                    for j in 0..<total {
                        let w = s[j], vBase = (kvh * total + j) * dv
                        for c in 0..<dv { y[yBase + c] += w * v[vBase + c] }
                    }
                    for c in 0..<dv { y[yBase + c] = p.round(y[yBase + c]) }
                }
            }
        }
    }
}

// MARK: - RotaryEmbedding, SwiGLU

extension AttentionOps {
    /// The precision of a float input, or an `unsupported` error naming it.
    static func precision(_ t: Tensor, _ what: String) throws -> Precision {
        guard let p = Precision(t.dtype) else {
            throw OpError.unsupported("\(what) is \(t.dtype); expected a float type (float16, bfloat16, float32, float64)")
        }
        return p
    }

    /// RotaryEmbedding: rotates pairs of each head's first `rotary_embedding_dim` (default:
    /// all) features by the angle whose cos/sin the caches hold. X is `[batch, heads, seq,
    /// size]` or `[batch, seq, heads * size]` (`num_heads` given); caches are `[positions,
    /// dim/2]` indexed by `position_ids [batch, seq]`, or `[batch, seq, dim/2]` without them.
    /// Pairs are the two halves of the rotated part, or adjacent features when `interleaved`:
    /// `(x1, x2) -> (cos x1 - sin x2, sin x1 + cos x2)`, each product and sum rounded to X's type.
    static func rotaryEmbedding(_ ctx: KernelContext) throws -> Tensor {
        let x = try ctx.tensor(0), cosT = try ctx.tensor(1), sinT = try ctx.tensor(2)
        let p = try precision(x, "input X")
        let interleaved = ctx.int("interleaved", default: 0) != 0
        let rank = x.dims.count
        guard rank == 3 || rank == 4 else { throw OpError.invalid("input X must be 3-D or 4-D, got \(Shape(x.dims))") }
        let batch = x.dims[0]
        let heads: Int, seq: Int, size: Int
        if rank == 4 {
            (heads, seq, size) = (x.dims[1], x.dims[2], x.dims[3])
        } else {
            let h = ctx.int("num_heads", default: 0)
            guard h > 0, x.dims[2] % h == 0 else {
                throw OpError.invalid("3-D input X \(Shape(x.dims)) needs num_heads (> 0) dividing its last dimension, got \(h)")
            }
            (heads, seq, size) = (h, x.dims[1], x.dims[2] / h)
        }
        var rotary = ctx.int("rotary_embedding_dim", default: 0)
        if rotary == 0 { rotary = size }
        guard rotary > 0, rotary <= size, rotary % 2 == 0 else {
            throw OpError.invalid("rotary_embedding_dim \(rotary) must be even and at most the head size \(size)")
        }
        let half = rotary / 2
        guard cosT.dims == sinT.dims, cosT.dims.last == half else {
            throw OpError.invalid("cos_cache \(Shape(cosT.dims)) and sin_cache \(Shape(sinT.dims)) must match and end in rotary_embedding_dim/2 = \(half)")
        }
        let cosines = try QuantizeOps.doubles(cosT, name: "cos_cache"), sines = try QuantizeOps.doubles(sinT, name: "sin_cache")
        // Row of the caches for each (batch, position).
        var cacheRow = [Int](repeating: 0, count: batch * seq)
        if let ids = ctx.optionalTensor(3) {
            guard cosT.dims.count == 2 else { throw OpError.invalid("with position_ids the caches must be 2-D, got \(Shape(cosT.dims))") }
            guard ids.dims == [batch, seq] else { throw OpError.invalid("position_ids \(Shape(ids.dims)) must be [\(batch), \(seq)]") }
            cacheRow = try Movement.indices(ids, size: cosT.dims[0], "position_ids")
        } else {
            guard cosT.dims == [batch, seq, half] else {
                throw OpError.invalid("without position_ids the caches must be [\(batch), \(seq), \(half)], got \(Shape(cosT.dims))")
            }
            cacheRow = Array(0..<(batch * seq))
        }
        let xs = try QuantizeOps.doubles(x, name: "X")
        var y = xs
        for b in 0..<batch {
            for h in 0..<heads {
                for s in 0..<seq {
                    // Offset of feature 0 of (b, h, s) in either layout.
                    let base = rank == 4 ? ((b * heads + h) * seq + s) * size : ((b * seq + s) * heads + h) * size
                    let c = cacheRow[b * seq + s] * half
                    for i in 0..<half {
                        let (i1, i2) = interleaved ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + half + i)
                        let x1 = xs[i1], x2 = xs[i2], cv = cosines[c + i], sv = sines[c + i]
                        y[i1] = p.round(p.round(cv * x1) - p.round(sv * x2))
                        y[i2] = p.round(p.round(sv * x1) + p.round(cv * x2))
                    }
                }
            }
        }
        return try NormalizationOps.tensor(y, dtype: x.dtype, dims: x.dims)
    }

    /// SwiGLU: `A * sigmoid(alpha * A) * B` for A and B of one shape and type (no
    /// broadcasting); the sigmoid in float32 (float64 inputs: float64), the products rounded
    /// to the inputs' type, as the reference computes them.
    static func swiGLU(_ ctx: KernelContext) throws -> Tensor {
        let a = try ctx.tensor(0), b = try ctx.tensor(1)
        let p = try precision(a, "input A")
        guard b.dtype == a.dtype, b.dims == a.dims else {
            throw OpError.invalid("SwiGLU needs A and B of one type and shape, got \(a.dtype)\(Shape(a.dims)) and \(b.dtype)\(Shape(b.dims))")
        }
        // The reference's alpha is a float32 scalar: the sigmoid is computed in float32 (in
        // float64 for float64 inputs), then rounded to the inputs' type.
        let alpha = Double(ctx.float("alpha", default: 1))
        let s: Precision = p == .float64 ? .float64 : .float32
        let xs = try QuantizeOps.doubles(a, name: "A"), gs = try QuantizeOps.doubles(b, name: "B")
        var y = [Double](repeating: 0, count: xs.count)
        for i in 0..<xs.count {
            let e = s.round(exp(s.round(-alpha * xs[i])))
            let sigmoid = p.round(s.round(1 / s.round(1 + e)))
            y[i] = p.round(p.round(xs[i] * sigmoid) * gs[i])
        }
        return try NormalizationOps.tensor(y, dtype: a.dtype, dims: a.dims)
    }
}

// MARK: - LinearAttention, CausalConvWithState

extension AttentionOps {
    /// LinearAttention: a recurrent state `S [batch, kv_heads, d_k, d_v]` (from `past_state`
    /// or zeros) updated once per step t, in float32 like the reference:
    /// - gated / gated_delta: `S *= exp(decay_t)` (per head, or per key feature);
    /// - delta / gated_delta: `v_t = beta_t * (v_t - S^T k_t)`;
    /// - `S += k_t v_t^T`; output `o_t = scale * q_t S` (query head h reads kv head
    ///   `h / (q_heads / kv_heads)`; scale defaults to `1/sqrt(d_k)`).
    /// Q, K, V, decay and beta are packed `[batch, T, heads * size]`. Outputs: `[batch, T,
    /// q_heads * d_v]` in Q's type, the final state in past_state's type (else Q's).
    static func linearAttention(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let q = try ctx.tensor(0), k = try ctx.tensor(1), v = try ctx.tensor(2)
        let past = ctx.optionalTensor(3), decay = ctx.optionalTensor(4), beta = ctx.optionalTensor(5)
        _ = try precision(q, "query")
        let rule = ctx.string("update_rule", default: "gated_delta")
        guard ["linear", "gated", "delta", "gated_delta"].contains(rule) else {
            throw OpError.invalid("update_rule '\(rule)' is not linear, gated, delta or gated_delta")
        }
        guard let hq = ctx.int("q_num_heads"), let hkv = ctx.int("kv_num_heads"), hq > 0, hkv > 0, hq % hkv == 0 else {
            throw OpError.invalid("q_num_heads and kv_num_heads are required, positive, and q_num_heads a multiple of kv_num_heads")
        }
        let gating = rule == "gated" || rule == "gated_delta", delta = rule == "delta" || rule == "gated_delta"
        guard gating == (decay != nil) else { throw OpError.invalid("update_rule '\(rule)' \(gating ? "requires" : "forbids") the decay input") }
        guard delta == (beta != nil) else { throw OpError.invalid("update_rule '\(rule)' \(delta ? "requires" : "forbids") the beta input") }
        for (t, name) in [(q, "query"), (k, "key"), (v, "value")] where t.dims.count != 3 {
            throw OpError.invalid("\(name) must be 3-D [batch, T, heads * size], got \(Shape(t.dims))")
        }
        let batch = q.dims[0], steps = q.dims[1]
        guard q.dims[2] % hq == 0, k.dims[2] % hkv == 0, v.dims[2] % hkv == 0,
              k.dims[0] == batch, v.dims[0] == batch, k.dims[1] == steps, v.dims[1] == steps else {
            throw OpError.invalid("query \(Shape(q.dims)), key \(Shape(k.dims)), value \(Shape(v.dims)) do not fit \(hq) query / \(hkv) kv heads")
        }
        let dk = q.dims[2] / hq, dv = v.dims[2] / hkv, group = hq / hkv
        guard k.dims[2] / hkv == dk else { throw OpError.invalid("key head size \(k.dims[2] / hkv) differs from query head size \(dk)") }
        let f = Precision.float32
        let qs = try QuantizeOps.doubles(q, name: "query").map(f.round)
        let ks = try QuantizeOps.doubles(k, name: "key").map(f.round)
        let vs = try QuantizeOps.doubles(v, name: "value").map(f.round)
        var perKeyDecay = false
        var gs: [Double] = []
        if let decay {
            guard decay.dims.count == 3, decay.dims[0] == batch, decay.dims[1] == steps,
                  decay.dims[2] == hkv || decay.dims[2] == hkv * dk else {
                throw OpError.invalid("decay \(Shape(decay.dims)) must be [\(batch), \(steps), \(hkv) or \(hkv * dk)]")
            }
            perKeyDecay = decay.dims[2] != hkv
            gs = try QuantizeOps.doubles(decay, name: "decay").map(f.round)
        }
        var betaHeads = 1
        var bs: [Double] = []
        if let beta {
            guard beta.dims.count == 3, beta.dims[0] == batch, beta.dims[1] == steps, beta.dims[2] == hkv || beta.dims[2] == 1 else {
                throw OpError.invalid("beta \(Shape(beta.dims)) must be [\(batch), \(steps), \(hkv) or 1]")
            }
            betaHeads = beta.dims[2]
            bs = try QuantizeOps.doubles(beta, name: "beta").map(f.round)
        }
        var state = [Double](repeating: 0, count: batch * hkv * dk * dv)
        if let past {
            guard past.dims == [batch, hkv, dk, dv] else {
                throw OpError.invalid("past_state \(Shape(past.dims)) must be [\(batch), \(hkv), \(dk), \(dv)]")
            }
            state = try QuantizeOps.doubles(past, name: "past_state").map(f.round)
        }
        // 1/sqrt(d_k) is a float64 in the reference (the product rounds once); an explicit
        // scale is a float32 multiplier.
        let explicitScale = ctx.float("scale").flatMap { $0 == 0 ? nil : Double($0) }
        var out = [Double](repeating: 0, count: batch * steps * hq * dv)
        var vt = [Double](repeating: 0, count: dv)
        for b in 0..<batch {
            for t in 0..<steps {
                for h in 0..<hkv {
                    let s = (b * hkv + h) * dk * dv
                    let kBase = ((b * steps + t) * hkv + h) * dk, vBase = ((b * steps + t) * hkv + h) * dv
                    if gating {
                        for d in 0..<dk {
                            let g = perKeyDecay ? gs[((b * steps + t) * hkv + h) * dk + d] : gs[(b * steps + t) * hkv + h]
                            let factor = f.round(exp(g))
                            for m in 0..<dv { state[s + d * dv + m] = f.round(state[s + d * dv + m] * factor) }
                        }
                    }
                    for m in 0..<dv { vt[m] = vs[vBase + m] }
                    if delta {
                        let bt = bs[(b * steps + t) * betaHeads + (betaHeads == 1 ? 0 : h)]
                        for m in 0..<dv {
                            var retrieved = 0.0
                            for d in 0..<dk { retrieved += state[s + d * dv + m] * ks[kBase + d] }
                            vt[m] = f.round(bt * f.round(vt[m] - f.round(retrieved)))
                        }
                    }
                    for d in 0..<dk {
                        for m in 0..<dv {
                            state[s + d * dv + m] = f.round(state[s + d * dv + m] + f.round(ks[kBase + d] * vt[m]))
                        }
                    }
                }
                for h in 0..<hq {
                    let s = (b * hkv + h / group) * dk * dv
                    let qBase = ((b * steps + t) * hq + h) * dk, oBase = ((b * steps + t) * hq + h) * dv
                    for m in 0..<dv {
                        var acc = 0.0
                        for d in 0..<dk { acc += qs[qBase + d] * state[s + d * dv + m] }
                        let e = f.round(acc)
                        out[oBase + m] = explicitScale.map { f.round(f.round($0) * e) } ?? f.round(e * (1 / Double(dk).squareRoot()))
                    }
                }
            }
        }
        return [.tensor(try NormalizationOps.tensor(out, dtype: q.dtype, dims: [batch, steps, hq * dv])),
                .tensor(try NormalizationOps.tensor(state, dtype: past?.dtype ?? q.dtype, dims: [batch, hkv, dk, dv]))]
    }

    /// CausalConvWithState: a depthwise causal 1-D convolution. The input `[batch, channels,
    /// length]` is prefixed with `past_state [batch, channels, k - 1]` (zeros when absent)
    /// and convolved with `weight [channels, 1, k]` (+ `bias`), no padding; `activation`
    /// "silu"/"swish" applies `x * sigmoid(x)` in float32. The second output is the last
    /// `k - 1` positions of the prefixed input.
    static func causalConvWithState(_ ctx: KernelContext) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0), w = try ctx.tensor(1), bias = ctx.optionalTensor(2), past = ctx.optionalTensor(3)
        let p = try precision(x, "input")
        let activation = ctx.string("activation", default: "none")
        guard ["none", "silu", "swish"].contains(activation) else {
            throw OpError.invalid("activation '\(activation)' is not none, silu or swish")
        }
        guard x.dims.count == 3 else { throw OpError.invalid("input must be [batch, channels, length], got \(Shape(x.dims))") }
        let batch = x.dims[0], channels = x.dims[1], length = x.dims[2]
        guard w.dims.count == 3, w.dims[0] == channels, w.dims[1] == 1, w.dims[2] >= 1 else {
            throw OpError.invalid("weight \(Shape(w.dims)) must be [\(channels), 1, k]")
        }
        let kernel = w.dims[2], carry = kernel - 1
        if let bias, bias.dims != [channels] { throw OpError.invalid("bias \(Shape(bias.dims)) must be [\(channels)]") }
        if let past, past.dims != [batch, channels, carry] {
            throw OpError.invalid("past_state \(Shape(past.dims)) must be [\(batch), \(channels), \(carry)]")
        }
        let xs = try QuantizeOps.doubles(x, name: "input"), ws = try QuantizeOps.doubles(w, name: "weight")
        let bs = try bias.map { try QuantizeOps.doubles($0, name: "bias") }
        let ps = try past.map { try QuantizeOps.doubles($0, name: "past_state") }
        let padded = length + carry
        var y = [Double](repeating: 0, count: xs.count)
        var state = [Double](repeating: 0, count: batch * channels * carry)
        var row = [Double](repeating: 0, count: padded)
        let silu = activation != "none"
        let f = Precision.float32
        for b in 0..<batch {
            for c in 0..<channels {
                let plane = b * channels + c
                for i in 0..<carry { row[i] = ps?[plane * carry + i] ?? 0 }
                for i in 0..<length { row[carry + i] = xs[plane * length + i] }
                for t in 0..<length {
                    var acc = bs?[c] ?? 0
                    for j in 0..<kernel { acc += row[t + j] * ws[c * kernel + j] }
                    var value = p.round(acc)
                    if silu {
                        let sigmoid = f.round(1 / f.round(1 + f.round(exp(-f.round(value)))))
                        value = p.round(f.round(value * sigmoid))
                    }
                    y[plane * length + t] = value
                }
                for i in 0..<carry { state[plane * carry + i] = row[length + i] }
            }
        }
        return [.tensor(try NormalizationOps.tensor(y, dtype: x.dtype, dims: x.dims)),
                .tensor(try NormalizationOps.tensor(state, dtype: x.dtype, dims: [batch, channels, carry]))]
    }
}

// MARK: - FlexAttention

extension AttentionOps {
    /// FlexAttention (ai.onnx.preview 1): 4-D attention whose scores and probabilities pass
    /// through the optional `score_mod` / `prob_mod` subgraphs (one tensor in, one out), as
    /// the reference computes it: Q and K scaled by `sqrt(scale)` (float32, then the input
    /// type; default scale `1/sqrt(head_size)`), `QK^T` in the input type, then everything in
    /// the compute type (`softmax_precision`, else float32 for 16-bit inputs, else the input
    /// type): `score_mod`, a plain softmax along keys (no masked-row guard), `prob_mod`,
    /// `probs x V`, rounded to V's type. Grouped-query heads as in Attention.
    static func flexAttention(_ ctx: KernelContext) throws -> Tensor {
        let q = try ctx.tensor(0), k = try ctx.tensor(1), v = try ctx.tensor(2)
        let p = try precision(q, "Q")
        _ = try precision(v, "V")
        guard k.dtype == q.dtype, q.dims.count == 4, k.dims.count == 4, v.dims.count == 4 else {
            throw OpError.invalid("Q, K, V must be 4-D of one float type, got \(q.dtype)\(Shape(q.dims)), \(k.dtype)\(Shape(k.dims)), \(v.dtype)\(Shape(v.dims))")
        }
        let (batch, qHeads, qLength, size) = (q.dims[0], q.dims[1], q.dims[2], q.dims[3])
        let (kvHeads, kvLength, valueSize) = (k.dims[1], k.dims[2], v.dims[3])
        guard k.dims[0] == batch, v.dims[0] == batch, v.dims[1] == kvHeads, v.dims[2] == kvLength, k.dims[3] == size else {
            throw OpError.invalid("Q \(Shape(q.dims)), K \(Shape(k.dims)) and V \(Shape(v.dims)) do not fit together")
        }
        guard kvHeads > 0, qHeads % kvHeads == 0 else {
            throw OpError.invalid("q heads (\(qHeads)) must be a multiple of kv heads (\(kvHeads))")
        }
        var compute: DType = p == .float64 ? .float64 : .float32
        if let code = ctx.int("softmax_precision") {
            guard let t = DType(rawValue: Int32(truncatingIfNeeded: code)), Precision(t) != nil else {
                throw OpError.unsupported("softmax_precision \(code); expected 1, 10, 11 or 16")
            }
            compute = t
        }
        guard let c = Precision(compute) else { throw OpError.unsupported("compute type \(compute)") }
        let scale = Float(ctx.float("scale").map(Double.init) ?? 1 / Double(size).squareRoot())
        let factor = p.round(Double(scale.squareRoot()))
        let qs = try QuantizeOps.doubles(q, name: "Q").map { p.round($0 * factor) }
        let ks = try QuantizeOps.doubles(k, name: "K").map { p.round($0 * factor) }
        let vs = try QuantizeOps.doubles(v, name: "V").map(c.round)
        let group = qHeads / kvHeads
        var scores = [Double](repeating: 0, count: batch * qHeads * qLength * kvLength)
        for bh in 0..<(batch * qHeads) {
            let kvh = (bh / qHeads) * kvHeads + (bh % qHeads) / group
            for i in 0..<qLength {
                for j in 0..<kvLength {
                    var dot = 0.0
                    for d in 0..<size { dot += qs[(bh * qLength + i) * size + d] * ks[(kvh * kvLength + j) * size + d] }
                    scores[(bh * qLength + i) * kvLength + j] = c.round(p.round(dot))
                }
            }
        }
        let scoreDims = [batch, qHeads, qLength, kvLength]
        func modify(_ name: String, _ values: [Double]) throws -> [Double] {
            guard case .graph(_)? = ctx.attribute(name) else { return values }
            let input = try NormalizationOps.tensor(values, dtype: compute, dims: scoreDims)
            let outputs = try ctx.runSubgraph(name, 0, [.tensor(input)])
            guard outputs.count == 1, let t = outputs[0].tensor else {
                throw OpError.invalid("\(name) must produce exactly one tensor")
            }
            let result = try QuantizeOps.doubles(t, name: name)
            guard result.count == values.count else {
                throw OpError.invalid("\(name) returned \(Shape(t.dims)); expected \(Shape(scoreDims))")
            }
            return result.map(c.round)
        }
        scores = try modify("score_mod", scores)
        for r in 0..<(batch * qHeads * qLength) {
            let base = r * kvLength
            var largest = -Double.infinity
            for j in 0..<kvLength {
                let x = scores[base + j]
                if x.isNaN || largest.isNaN { largest = .nan } else if x > largest { largest = x }
            }
            var sum = 0.0
            for j in 0..<kvLength {
                scores[base + j] = c.round(exp(c.round(scores[base + j] - largest)))
                sum += scores[base + j]
            }
            sum = c.round(sum)
            for j in 0..<kvLength { scores[base + j] = c.round(scores[base + j] / sum) }
        }
        scores = try modify("prob_mod", scores)
        var y = [Double](repeating: 0, count: batch * qHeads * qLength * valueSize)
        for bh in 0..<(batch * qHeads) {
            let kvh = (bh / qHeads) * kvHeads + (bh % qHeads) / group
            for i in 0..<qLength {
                let row = bh * qLength + i
                for j in 0..<kvLength {
                    let w = scores[row * kvLength + j]
                    for d in 0..<valueSize { y[row * valueSize + d] += w * vs[(kvh * kvLength + j) * valueSize + d] }
                }
                for d in 0..<valueSize { y[row * valueSize + d] = c.round(y[row * valueSize + d]) }
            }
        }
        return try NormalizationOps.tensor(y, dtype: v.dtype, dims: [batch, qHeads, qLength, valueSize])
    }
}
