import ModelIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RNN (opset 1, 7, 14, 22), GRU (1, 3, 7, 14, 22) and LSTM (1, 7, 14, 22), as the ONNX
/// spec and ONNX Runtime define them.
///
/// - Inputs: X `[seq, batch, input]` (layout 1: `[batch, seq, input]`), W `[dirs, G*H, input]`,
///   R `[dirs, G*H, H]`, B `[dirs, 2*G*H]` (W biases then R biases), sequence_lens `[batch]`,
///   initial_h `[dirs, batch, H]` (layout 1: `[batch, dirs, H]`); LSTM also initial_c and
///   peepholes P `[dirs, 3H]` (i, o, f). Gate order: RNN `i`; GRU `z, r, h`; LSTM `i, o, f, c`.
/// - Outputs: Y `[seq, dirs, batch, H]` (layout 1: `[batch, seq, dirs, H]`), Y_h (and LSTM's
///   Y_c) `[dirs, batch, H]` (layout 1: `[batch, dirs, H]`).
/// - `activations` (f, g, h per direction; defaults Sigmoid/Tanh/Tanh, RNN Tanh) take their
///   alpha/beta in list order, only activations that use them consuming one (ONNX Runtime's
///   rule; defaults LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1.0, otherwise 0).
/// - `clip` bounds every gate's pre-activation (after peepholes and biases).
/// - `sequence_lens`: batch entry `b` runs `len_b` steps (the reverse direction starts at
///   step `len_b - 1`); Y past `len_b` is zero and Y_h is the state after the last step.
/// - GRU `linear_before_reset`: `h = g(x Wh + r * (H Rh + Rbh) + Wbh)` instead of
///   `g(x Wh + (r * H) Rh + Rbh + Wbh)`. LSTM `input_forget`: `f = 1 - i`.
///
/// float32 and float64 compute in their own type (products through BLAS), float16 in
/// float32.
enum RecurrentOps {
    static let schemas: [OpSchema] = [
        OpSchema("RNN", versions: [1, 7, 14, 22]) { ctx in try run(ctx, cell: .rnn) },
        OpSchema("GRU", versions: [1, 3, 7, 14, 22]) { ctx in try run(ctx, cell: .gru) },
        OpSchema("LSTM", versions: [1, 7, 14, 22]) { ctx in try run(ctx, cell: .lstm) },
    ]

    enum Cell {
        case rnn, gru, lstm
        var gates: Int { self == .rnn ? 1 : self == .gru ? 3 : 4 }
        var defaultActivations: [String] {
            switch self {
            case .rnn: return ["Tanh"]
            case .gru: return ["Sigmoid", "Tanh"]
            case .lstm: return ["Sigmoid", "Tanh", "Tanh"]
            }
        }
    }

    /// One activation function with its alpha and beta.
    struct Activation {
        enum Kind: String, CaseIterable {
            case affine, relu, leakyrelu, thresholdedrelu, tanh, scaledtanh, sigmoid, hardsigmoid, elu, softsign, softplus
        }
        var kind: Kind
        var alpha: Double = 0
        var beta: Double = 0

        /// Parses `names`, consuming `alphas`/`betas` in order as ONNX Runtime does.
        static func parse(_ names: [String], alphas: [Float], betas: [Float]) throws -> [Activation] {
            var ai = 0, bi = 0
            return try names.map { name in
                guard let kind = Kind(rawValue: name.lowercased()) else {
                    throw OpError.unsupported("activation '\(name)' (expected one of Affine, Relu, LeakyRelu, ThresholdedRelu, Tanh, ScaledTanh, Sigmoid, HardSigmoid, Elu, Softsign, Softplus)")
                }
                var a = Activation(kind: kind)
                let usesAlpha: Bool, usesBeta: Bool
                switch kind {
                case .affine, .scaledtanh, .hardsigmoid: usesAlpha = true; usesBeta = true
                case .leakyrelu, .thresholdedrelu, .elu: usesAlpha = true; usesBeta = false
                default: usesAlpha = false; usesBeta = false
                }
                let defaults: (Double, Double) = kind == .leakyrelu ? (0.01, 0) : kind == .hardsigmoid ? (0.2, 0.5) : kind == .elu ? (1, 0) : (0, 0)
                if usesAlpha {
                    if ai < alphas.count { a.alpha = Double(alphas[ai]); ai += 1 } else { a.alpha = defaults.0 }
                }
                if usesBeta {
                    if bi < betas.count { a.beta = Double(betas[bi]); bi += 1 } else { a.beta = defaults.1 }
                }
                return a
            }
        }

        /// Applies the function in place to `n` elements.
        func apply<T: RecurrentFloat>(_ p: UnsafeMutablePointer<T>, _ n: Int) {
            let alpha = T(alpha), beta = T(beta)
            switch kind {
            case .sigmoid: for i in 0..<n { p[i] = T.sigmoid(p[i]) }
            case .tanh: for i in 0..<n { p[i] = T.tanh(p[i]) }
            case .relu: for i in 0..<n { p[i] = max(p[i], 0) }
            case .affine: for i in 0..<n { p[i] = alpha * p[i] + beta }
            case .leakyrelu: for i in 0..<n { p[i] = p[i] >= 0 ? p[i] : alpha * p[i] }
            case .thresholdedrelu: for i in 0..<n { p[i] = p[i] > alpha ? p[i] : 0 }
            case .scaledtanh: for i in 0..<n { p[i] = alpha * T.tanh(beta * p[i]) }
            case .hardsigmoid: for i in 0..<n { p[i] = max(0, min(1, alpha * p[i] + beta)) }
            case .elu: for i in 0..<n { p[i] = p[i] >= 0 ? p[i] : alpha * (T.exp(p[i]) - 1) }
            case .softsign: for i in 0..<n { p[i] = p[i] / (1 + abs(p[i])) }
            case .softplus: for i in 0..<n { p[i] = T.log(1 + T.exp(p[i])) }
            }
        }
    }

    /// The validated configuration of one node.
    struct Config {
        var cell: Cell
        var seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1
        var layout = 0
        var reverseOnly = false
        var clip: Double? = nil
        var linearBeforeReset = false
        var inputForget = false
        /// Activations per direction.
        var activations: [[Activation]] = []
        var lengths: [Int] = []

        /// Row of X (and of the precomputed input products) for step `t` of batch entry `b`.
        @inline(__always) func xRow(_ t: Int, _ b: Int) -> Int { layout == 0 ? t * batch + b : b * seq + t }
        /// Offset of Y[t, d, b, 0].
        @inline(__always) func yOffset(_ t: Int, _ d: Int, _ b: Int) -> Int {
            layout == 0 ? ((t * dirs + d) * batch + b) * hidden : ((b * seq + t) * dirs + d) * hidden
        }
        /// Offset of Y_h[d, b, 0] (also of initial_h).
        @inline(__always) func stateOffset(_ d: Int, _ b: Int) -> Int {
            layout == 0 ? (d * batch + b) * hidden : (b * dirs + d) * hidden
        }
    }

    static func run(_ ctx: KernelContext, cell: Cell) throws -> [RuntimeValue] {
        let x = try ctx.tensor(0), w = try ctx.tensor(1), r = try ctx.tensor(2)
        var cfg = Config(cell: cell)
        let g = cell.gates
        guard x.dims.count == 3 else { throw OpError.invalid("X must be rank 3, got \(x.dims)") }
        cfg.layout = ctx.opset >= 14 ? ctx.int("layout", default: 0) : 0
        guard cfg.layout == 0 || cfg.layout == 1 else { throw OpError.invalid("layout must be 0 or 1, got \(cfg.layout)") }
        cfg.seq = cfg.layout == 0 ? x.dims[0] : x.dims[1]
        cfg.batch = cfg.layout == 0 ? x.dims[1] : x.dims[0]
        cfg.input = x.dims[2]
        let direction = ctx.string("direction", default: "forward")
        switch direction {
        case "forward": cfg.dirs = 1
        case "reverse": cfg.dirs = 1; cfg.reverseOnly = true
        case "bidirectional": cfg.dirs = 2
        default: throw OpError.invalid("direction '\(direction)' is not forward, reverse or bidirectional")
        }
        guard r.dims.count == 3 else { throw OpError.invalid("R must be rank 3, got \(r.dims)") }
        cfg.hidden = ctx.int("hidden_size") ?? r.dims[2]
        let h = cfg.hidden, dirs = cfg.dirs
        guard w.dims == [dirs, g * h, cfg.input] else { throw OpError.invalid("W must be \([dirs, g * h, cfg.input]), got \(w.dims)") }
        guard r.dims == [dirs, g * h, h] else { throw OpError.invalid("R must be \([dirs, g * h, h]), got \(r.dims)") }
        for t in [w, r] where t.dtype != x.dtype { throw OpError.invalid("W and R must be \(x.dtype) like X, got \(t.dtype)") }
        let b = ctx.optionalTensor(3)
        if let b, b.dims != [dirs, 2 * g * h] || b.dtype != x.dtype { throw OpError.invalid("B must be \(x.dtype)\([dirs, 2 * g * h]), got \(b.dtype)\(b.dims)") }
        cfg.lengths = Array(repeating: cfg.seq, count: cfg.batch)
        if let sl = ctx.optionalTensor(4) {
            guard let v = sl.integers(), v.count == cfg.batch, v.allSatisfy({ $0 >= 0 && $0 <= cfg.seq }) else {
                throw OpError.invalid("sequence_lens must hold \(cfg.batch) lengths in 0...\(cfg.seq)")
            }
            cfg.lengths = v
        }
        let stateDims = cfg.layout == 0 ? [dirs, cfg.batch, h] : [cfg.batch, dirs, h]
        let h0 = ctx.optionalTensor(5)
        if let h0, h0.dims != stateDims || h0.dtype != x.dtype { throw OpError.invalid("initial_h must be \(x.dtype)\(stateDims), got \(h0.dtype)\(h0.dims)") }
        var c0: Tensor? = nil, p: Tensor? = nil
        if cell == .lstm {
            c0 = ctx.optionalTensor(6)
            if let c0, c0.dims != stateDims || c0.dtype != x.dtype { throw OpError.invalid("initial_c must be \(x.dtype)\(stateDims), got \(c0.dtype)\(c0.dims)") }
            p = ctx.optionalTensor(7)
            if let p, p.dims != [dirs, 3 * h] || p.dtype != x.dtype { throw OpError.invalid("P must be \(x.dtype)\([dirs, 3 * h]), got \(p.dtype)\(p.dims)") }
            cfg.inputForget = ctx.int("input_forget", default: 0) != 0
        }
        if cell == .gru { cfg.linearBeforeReset = ctx.int("linear_before_reset", default: 0) != 0 }
        if let c = ctx.float("clip") {
            guard c > 0 else { throw OpError.invalid("clip must be positive, got \(c)") }
            cfg.clip = Double(c)
        }
        let names = ctx.strings("activations") ?? []
        let perDir = cell.defaultActivations.count
        var all: [String]
        if names.isEmpty {
            all = Array([[String]](repeating: cell.defaultActivations, count: dirs).joined())
        } else if names.count == perDir * dirs {
            all = names
        } else if names.count == perDir {
            all = Array([[String]](repeating: names, count: dirs).joined())
        } else {
            throw OpError.invalid("activations lists \(names.count) functions, expected \(perDir * dirs)")
        }
        let parsed = try Activation.parse(all, alphas: ctx.floats("activation_alpha") ?? [], betas: ctx.floats("activation_beta") ?? [])
        cfg.activations = (0..<dirs).map { Array(parsed[($0 * perDir)..<(($0 + 1) * perDir)]) }

        let inputs = [x, w, r, b, h0, c0, p]
        let outs: [Tensor]
        switch x.dtype {
        case .float32: outs = try Kernel<Float>(cfg: cfg, threads: ctx.threads).run(inputs.map { $0.map { $0.elements(Float.self) } })
        case .float64: outs = try Kernel<Double>(cfg: cfg, threads: ctx.threads).run(inputs.map { $0.map { $0.elements(Double.self) } })
        case .float16:
            let f = try Kernel<Float>(cfg: cfg, threads: ctx.threads).run(inputs.map { $0.map { $0.elements(Float16.self).map(Float.init) } })
            outs = f.map { t in Tensor.of(t.elements(Float.self).map { Float16($0) }, dims: t.dims) }
        default: throw OpError.unsupported("\(cell) of \(x.dtype)")
        }
        return outs.map { .tensor($0) }
    }

    /// The computation, generic over the element type.
    struct Kernel<T: RecurrentFloat> {
        let cfg: Config
        let threads: Int

        /// `inputs`: X, W, R, B?, initial_h?, initial_c?, P?. Returns Y, Y_h, Y_c.
        func run(_ inputs: [[T]?]) throws -> [Tensor] {
            let h = cfg.hidden, batch = cfg.batch, seq = cfg.seq, g = cfg.cell.gates, gh = g * h
            let stateCount = cfg.dirs * batch * h
            let rows = seq * batch
            var buffers: [UnsafeMutableBufferPointer<T>] = []
            defer { for b in buffers { b.deallocate() } }
            func buffer(_ count: Int, from source: [T]? = nil) -> UnsafeMutablePointer<T> {
                let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(count, 1))
                b.initialize(repeating: 0)
                if let source { for i in 0..<min(count, source.count) { b[i] = source[i] } }
                buffers.append(b)
                return b.baseAddress!
            }
            let x = buffer(rows * cfg.input, from: inputs[0]), w = buffer(cfg.dirs * gh * cfg.input, from: inputs[1])
            let r = buffer(cfg.dirs * gh * h, from: inputs[2])
            let y = buffer(seq * stateCount), yh = buffer(stateCount), yc = buffer(stateCount)
            let xw = buffer(rows * gh), hr = buffer(batch * gh)
            let hState = buffer(batch * h), cState = buffer(batch * h), scratch = buffer(batch * h)
            let bias = buffer(gh), rbh = buffer(h), peep = buffer(3 * h)
            let usePeepholes = inputs[6] != nil
            for d in 0..<cfg.dirs {
                let reverse = cfg.reverseOnly || d == 1
                let act = cfg.activations[d]
                // Biases: every W bias, and the R biases except GRU's Rbh with linear_before_reset.
                bias.update(repeating: 0, count: gh)
                rbh.update(repeating: 0, count: h)
                if let bAll = inputs[3] {
                    let base = d * 2 * gh
                    for i in 0..<gh { bias[i] = bAll[base + i] }
                    for i in 0..<gh {
                        if cfg.cell == .gru && cfg.linearBeforeReset && i >= 2 * h {
                            rbh[i - 2 * h] = bAll[base + gh + i]
                        } else {
                            bias[i] += bAll[base + gh + i]
                        }
                    }
                }
                if let pAll = inputs[6] { for i in 0..<(3 * h) { peep[i] = pAll[d * 3 * h + i] } }
                for b in 0..<batch {
                    for k in 0..<h {
                        hState[b * h + k] = inputs[4]?[cfg.stateOffset(d, b) + k] ?? 0
                        cState[b * h + k] = inputs[5]?[cfg.stateOffset(d, b) + k] ?? 0
                    }
                }
                // Input products of every step at once: xw = X W_d^T + bias.
                T.gemmNT(m: rows, n: gh, k: cfg.input, a: x, lda: cfg.input, b: w + d * gh * cfg.input, ldb: cfg.input,
                         c: xw, ldc: gh, threads: threads)
                for row in 0..<rows { for i in 0..<gh { xw[row * gh + i] += bias[i] } }
                let rd = r + d * gh * h
                for step in 0..<seq {
                    let active = (0..<batch).filter { step < cfg.lengths[$0] }
                    if active.isEmpty { break }
                    // GRU computes the h gate's recurrent product after the reset gate.
                    let n = cfg.cell == .gru && !cfg.linearBeforeReset ? 2 * h : gh
                    T.gemmNT(m: batch, n: n, k: h, a: hState, lda: h, b: rd, ldb: h, c: hr, ldc: gh, threads: 1)
                    for b in active {
                        let t = reverse ? cfg.lengths[b] - 1 - step : step
                        let gates = xw + cfg.xRow(t, b) * gh
                        let rec = hr + b * gh
                        let hp = hState + b * h, sp = scratch + b * h
                        switch cfg.cell {
                        case .rnn:
                            for i in 0..<h { gates[i] += rec[i] }
                            clip(gates, h)
                            act[0].apply(gates, h)
                            hp.update(from: gates, count: h)
                        case .gru:
                            for i in 0..<(2 * h) { gates[i] += rec[i] }
                            clip(gates, 2 * h)
                            act[0].apply(gates, 2 * h)  // z, r
                            if cfg.linearBeforeReset {
                                for i in 0..<h { gates[2 * h + i] += gates[h + i] * (rec[2 * h + i] + rbh[i]) }
                            } else {
                                for i in 0..<h { sp[i] = gates[h + i] * hp[i] }
                            }
                        case .lstm:
                            let cp = cState + b * h
                            for i in 0..<gh { gates[i] += rec[i] }
                            // Gate blocks: i [0,h), o [h,2h), f [2h,3h), c [3h,4h).
                            if usePeepholes {
                                for k in 0..<h {
                                    gates[k] += peep[k] * cp[k]
                                    gates[2 * h + k] += peep[2 * h + k] * cp[k]
                                }
                            }
                            clip(gates, h)
                            act[0].apply(gates, h)
                            if cfg.inputForget {
                                for k in 0..<h { gates[2 * h + k] = 1 - gates[k] }
                            } else {
                                clip(gates + 2 * h, h)
                                act[0].apply(gates + 2 * h, h)
                            }
                            clip(gates + 3 * h, h)
                            act[1].apply(gates + 3 * h, h)
                            for k in 0..<h { cp[k] = gates[2 * h + k] * cp[k] + gates[k] * gates[3 * h + k] }
                            if usePeepholes { for k in 0..<h { gates[h + k] += peep[h + k] * cp[k] } }
                            clip(gates + h, h)
                            act[0].apply(gates + h, h)
                            sp.update(from: cp, count: h)
                            act[2].apply(sp, h)
                            for k in 0..<h { hp[k] = gates[h + k] * sp[k] }
                        }
                    }
                    if cfg.cell == .gru {
                        if !cfg.linearBeforeReset {
                            // The h gate's recurrent part: (r * H) Rh^T.
                            T.gemmNT(m: batch, n: h, k: h, a: scratch, lda: h, b: rd + 2 * h * h, ldb: h, c: hr + 2 * h, ldc: gh, threads: 1)
                        }
                        for b in active {
                            let t = reverse ? cfg.lengths[b] - 1 - step : step
                            let gates = xw + cfg.xRow(t, b) * gh
                            let hp = hState + b * h
                            if !cfg.linearBeforeReset {
                                for i in 0..<h { gates[2 * h + i] += hr[b * gh + 2 * h + i] }
                            }
                            clip(gates + 2 * h, h)
                            act[1].apply(gates + 2 * h, h)
                            for i in 0..<h {
                                let z = gates[i]
                                hp[i] = (1 - z) * gates[2 * h + i] + z * hp[i]
                            }
                        }
                    }
                    for b in active {
                        let t = reverse ? cfg.lengths[b] - 1 - step : step
                        (y + cfg.yOffset(t, d, b)).update(from: hState + b * h, count: h)
                    }
                }
                for b in 0..<batch {
                    let o = cfg.stateOffset(d, b)
                    (yh + o).update(from: hState + b * h, count: h)
                    (yc + o).update(from: cState + b * h, count: h)
                }
            }
            let stateDims = cfg.layout == 0 ? [cfg.dirs, batch, h] : [batch, cfg.dirs, h]
            let yDims = cfg.layout == 0 ? [seq, cfg.dirs, batch, h] : [batch, seq, cfg.dirs, h]
            return [Tensor.of(Array(UnsafeBufferPointer(start: y, count: seq * stateCount)), dims: yDims),
                    Tensor.of(Array(UnsafeBufferPointer(start: yh, count: stateCount)), dims: stateDims),
                    Tensor.of(Array(UnsafeBufferPointer(start: yc, count: stateCount)), dims: stateDims)]
        }

        @inline(__always)
        func clip(_ p: UnsafeMutablePointer<T>, _ n: Int) {
            guard let c = cfg.clip else { return }
            let hi = T(c), lo = -T(c)
            for i in 0..<n { p[i] = min(max(p[i], lo), hi) }
        }
    }
}

/// The element types recurrent kernels compute in.
protocol RecurrentFloat: FloatElement {
    static func sigmoid(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    /// `C[m x n] = A[m x k] B[n x k]^T`, row-major.
    static func gemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                       c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int)
}

extension Float: RecurrentFloat {
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Glibc.expf(-x)) }
    static func tanh(_ x: Float) -> Float { Glibc.tanhf(x) }
    static func exp(_ x: Float) -> Float { Glibc.expf(x) }
    static func log(_ x: Float) -> Float { Glibc.logf(x) }
    static func gemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        GEMM.setBLASThreads(GEMM.threadsWorth(flops: m * n * k, threads: threads))
        GEMM.sgemm(transB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }
}

extension Double: RecurrentFloat {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Glibc.exp(-x)) }
    static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    static func log(_ x: Double) -> Double { Glibc.log(x) }
    static func gemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                       c: UnsafeMutablePointer<Double>, ldc: Int, threads: Int) {
        GEMM.setBLASThreads(GEMM.threadsWorth(flops: m * n * k, threads: threads))
        GEMM.dgemm(transB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }
}
