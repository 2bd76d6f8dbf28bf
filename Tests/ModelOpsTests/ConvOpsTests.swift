import Testing
import ModelIR
import ModelOps

/// Conv and ConvTranspose fast paths (im2col + OpenBLAS over column tiles, pointwise,
/// depthwise SIMD, non-overlapping transposed scatter, threads) against plain reference
/// loops written here, on seeded data large enough to reach the vector and tiled code. OpenBLAS
/// is checked this way because this machine's OpenBLAS picks its kernels by CPU type
/// (`OPENBLAS_CORETYPE`). Small semantic cases use onnx.reference values (Python in comments).
@Suite("Conv")
struct ConvOpsTests {
    /// Runs `op` at `opset` with `threads` (and node annotations, as the passes set them).
    func run(_ op: String, opset: Int = 17, _ inputs: [Tensor?], _ attributes: [Attribute] = [], threads: Int = 1,
             outputs: Int = 1, annotations: [String: String] = [:]) throws -> [Tensor] {
        var g = Graph()
        let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
        let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
        let id = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
        for (k, v) in annotations { g.setAnnotation(k, v, of: id) }
        guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
        let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) },
                                threads: threads)
        return try schema.kernel(ctx).map { v in
            guard let t = v.tensor else { throw OpError.invalid("output is not a tensor") }
            return t
        }
    }

    /// Seeded values in [-1, 1) (a 64-bit LCG).
    static func seeded(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1
        }
    }

    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map(Int64.init))) }

    /// The plain definition: y[n, m, o...] = b[m] + sum over c in m's group and kernel taps.
    /// Spatial dims promoted to three; `pads` are the head pads, `out` the output sizes.
    static func referenceConv(x: [Float], xd: [Int], w: [Float], wd: [Int], b: [Float]?, group: Int,
                              strides: [Int], pads: [Int], dilations: [Int], out: [Int]) -> [Float] {
        func p3(_ v: [Int], _ f: Int) -> [Int] { [Int](repeating: f, count: 3 - v.count) + v }
        let inS = p3(Array(xd[2...]), 1), k = p3(Array(wd[2...]), 1), s = p3(strides, 1), p = p3(pads, 0)
        let d = p3(dilations, 1), o = p3(out, 1)
        let (n, c, m) = (xd[0], xd[1], wd[0])
        let cg = c / group, mg = m / group
        var y = [Float](repeating: 0, count: n * m * o[0] * o[1] * o[2])
        var i = 0
        for b0 in 0..<n { for mm in 0..<m { for od in 0..<o[0] { for oh in 0..<o[1] { for ow in 0..<o[2] {
            var acc = Double(b?[mm] ?? 0)
            let g = mm / mg
            for cc in 0..<cg { for kd in 0..<k[0] { for kh in 0..<k[1] { for kw in 0..<k[2] {
                let id = od * s[0] - p[0] + kd * d[0], ih = oh * s[1] - p[1] + kh * d[1], iw = ow * s[2] - p[2] + kw * d[2]
                guard id >= 0, id < inS[0], ih >= 0, ih < inS[1], iw >= 0, iw < inS[2] else { continue }
                let xv = x[(((b0 * c + g * cg + cc) * inS[0] + id) * inS[1] + ih) * inS[2] + iw]
                let wv = w[(((mm * cg + cc) * k[0] + kd) * k[1] + kh) * k[2] + kw]
                acc += Double(xv) * Double(wv)
            } } } }
            y[i] = Float(acc)
            i += 1
        } } } } }
        return y
    }

    /// The plain definition of ConvTranspose: each input element times each tap added at
    /// `i*stride - pad + k*dilation` (promoted to three spatial dims).
    static func referenceConvTranspose(x: [Float], xd: [Int], w: [Float], wd: [Int], b: [Float]?, group: Int,
                                       strides: [Int], pads: [Int], dilations: [Int], out: [Int]) -> [Float] {
        func p3(_ v: [Int], _ f: Int) -> [Int] { [Int](repeating: f, count: 3 - v.count) + v }
        let inS = p3(Array(xd[2...]), 1), k = p3(Array(wd[2...]), 1), s = p3(strides, 1), p = p3(pads, 0)
        let d = p3(dilations, 1), o = p3(out, 1)
        let (n, c) = (xd[0], xd[1]), mg = wd[1], m = mg * group, cg = c / group
        let plane = o[0] * o[1] * o[2]
        var y = [Double](repeating: 0, count: n * m * plane)
        for b0 in 0..<n { for cc in 0..<c { for id in 0..<inS[0] { for ih in 0..<inS[1] { for iw in 0..<inS[2] {
            let xv = Double(x[(((b0 * c + cc) * inS[0] + id) * inS[1] + ih) * inS[2] + iw])
            let g = cc / cg
            for mm in 0..<mg { for kd in 0..<k[0] { for kh in 0..<k[1] { for kw in 0..<k[2] {
                let od = id * s[0] - p[0] + kd * d[0], oh = ih * s[1] - p[1] + kh * d[1], ow = iw * s[2] - p[2] + kw * d[2]
                guard od >= 0, od < o[0], oh >= 0, oh < o[1], ow >= 0, ow < o[2] else { continue }
                let wv = Double(w[(((cc * mg + mm) * k[0] + kd) * k[1] + kh) * k[2] + kw])
                y[(b0 * m + g * mg + mm) * plane + (od * o[1] + oh) * o[2] + ow] += xv * wv
            } } } }
        } } } } }
        return (0..<y.count).map { i in Float(y[i] + Double(b?[(i / plane) % m] ?? 0)) }
    }

    static func expectClose(_ got: [Float], _ want: [Float], rtol: Float = 1e-4, atol: Float = 1e-4,
                            _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(what): \(got.count) values, expected \(want.count)", sourceLocation: sourceLocation)
        guard got.count == want.count else { return }
        var worst = 0, excess: Float = 0
        for i in 0..<got.count {
            let e = abs(got[i] - want[i]) - (atol + rtol * abs(want[i]))
            if e > excess || e.isNaN { excess = e.isNaN ? .infinity : e; worst = i }
        }
        #expect(excess <= 0, "\(what): element \(worst) is \(got[worst]), expected \(want[worst])", sourceLocation: sourceLocation)
    }

    struct Case: CustomStringConvertible {
        var x: [Int], w: [Int], group = 1, strides: [Int]? = nil, pads: [Int]? = nil, dilations: [Int]? = nil
        var bias = true
        var description: String { "x\(x) w\(w) g\(group) s\(strides ?? []) p\(pads ?? []) d\(dilations ?? [])" }
    }

    /// Conv through the kernel (threads 1 and 2) against `referenceConv`; `annotations` can
    /// pick the algorithm (`conv_algorithm`).
    func checkConv(annotations: [String: String] = [:], _ c: Case, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = c.x.count - 2
        let strides = c.strides ?? [Int](repeating: 1, count: r), dil = c.dilations ?? [Int](repeating: 1, count: r)
        let pads = c.pads ?? [Int](repeating: 0, count: 2 * r)
        let x = Self.seeded(c.x.reduce(1, *), seed: 1), w = Self.seeded(c.w.reduce(1, *), seed: 2)
        let b = c.bias ? Self.seeded(c.w[0], seed: 3) : nil
        let out = (0..<r).map { (i: Int) -> Int in
            let span: Int = c.x[i + 2] + pads[i] + pads[i + r] - ((c.w[i + 2] - 1) * dil[i] + 1)
            return span / strides[i] + 1
        }
        let want = Self.referenceConv(x: x, xd: c.x, w: w, wd: c.w, b: b, group: c.group, strides: strides,
                                      pads: Array(pads[..<r]), dilations: dil, out: out)
        var attrs = [Attribute("group", .int(Int64(c.group)))]
        if let s = c.strides { attrs.append(Self.ints("strides", s)) }
        if let p = c.pads { attrs.append(Self.ints("pads", p)) }
        if let d = c.dilations { attrs.append(Self.ints("dilations", d)) }
        for threads in [1, 2] {
            let y = try run("Conv", [Tensor.of(x, dims: c.x), Tensor.of(w, dims: c.w), b.map { Tensor.of($0) }], attrs,
                            threads: threads, annotations: annotations)[0]
            #expect(y.dims == [c.x[0], c.w[0]] + out, "\(c)", sourceLocation: sourceLocation)
            Self.expectClose(y.elements(Float.self), want, "\(c) threads \(threads)", sourceLocation: sourceLocation)
        }
    }

    @Test func implicitGEMMConvolutionsMatchTheDefinition() throws {
        // The AVX-512 implicit GEMM (the default float32 path where the CPU has it) at its
        // edges: output channels not a multiple of the kernel's 12 rows, planes not a multiple
        // of its 32 columns, K over one 384-deep block (576, 450: equal blocks), planes over
        // one 512-column block, stride 2 gathers, dilation, asymmetric pads, groups, batches,
        // 1-D; each against im2col + BLAS too.
        let cases = [Case(x: [1, 64, 30, 30], w: [13, 64, 3, 3], pads: [1, 1, 1, 1]),
                     Case(x: [1, 50, 9, 11], w: [25, 50, 3, 3], pads: [0, 1, 2, 1]),
                     Case(x: [2, 6, 33, 35], w: [12, 3, 3, 3], group: 2, strides: [2, 2], pads: [1, 1, 1, 1], dilations: [2, 2]),
                     Case(x: [1, 40, 7, 7], w: [36, 40, 1, 1]),
                     Case(x: [1, 3, 45, 47], w: [8, 3, 7, 7], strides: [2, 2], pads: [3, 3, 3, 3], bias: false),
                     Case(x: [2, 5, 700], w: [7, 5, 5], strides: [1], pads: [2, 2]),
                     Case(x: [1, 16, 28, 28], w: [24, 16, 1, 1], strides: [2, 2])]
        for c in cases {
            try checkConv(c)
            try checkConv(annotations: ["conv_algorithm": "im2col"], c)
        }
    }

    @Test func im2colConvolutionsMatchTheDefinition() throws {
        // Column tiles (plane 96x96 with 3x3x32 taps exceeds one tile; dilated so that it is
        // not a Winograd case), strides, asymmetric
        // pads, dilations, groups, batches, 1-D and 3-D; asked for by annotation (the implicit
        // GEMM takes 1-D and 2-D float32 where the CPU has AVX-512).
        let im2col = ["conv_algorithm": "im2col"]
        try checkConv(annotations: im2col, Case(x: [1, 32, 96, 96], w: [24, 32, 3, 3], pads: [2, 2, 2, 2], dilations: [2, 2]))
        try checkConv(annotations: im2col, Case(x: [1, 32, 40, 40], w: [24, 16, 3, 3], group: 2, pads: [1, 1, 1, 1]))
        try checkConv(annotations: im2col, Case(x: [2, 6, 17, 23], w: [8, 3, 3, 5], group: 2, strides: [2, 3], pads: [1, 0, 2, 1], dilations: [2, 1]))
        try checkConv(annotations: im2col, Case(x: [1, 3, 64, 65], w: [16, 3, 7, 7], strides: [2, 2], pads: [3, 3, 3, 3]))
        try checkConv(annotations: im2col, Case(x: [1, 4, 9, 9], w: [5, 4, 1, 1], strides: [2, 2], bias: false))
        try checkConv(annotations: im2col, Case(x: [1, 64, 7, 7], w: [80, 64, 3, 3], pads: [1, 1, 1, 1]))
        try checkConv(annotations: im2col, Case(x: [2, 4, 31], w: [6, 2, 4], group: 2, strides: [3], pads: [2, 1], dilations: [2]))
        try checkConv(annotations: im2col, Case(x: [1, 2, 5, 6, 7], w: [3, 2, 2, 3, 2], strides: [1, 2, 1], pads: [1, 0, 1, 0, 1, 1]))
    }

    @Test func winogradConvolutionsMatchTheDefinition() throws {
        // 3x3 stride 1, one group: the Winograd F(2x2,3x3) path (vector and single tiles),
        // asked for by annotation (by shape it is taken only with a BLAS without FMA kernels);
        // odd output sizes (cropped last tiles), asymmetric pads, batches, few tiles.
        let winograd = ["conv_algorithm": "winograd"]
        try checkConv(annotations: winograd, Case(x: [1, 16, 24, 24], w: [12, 16, 3, 3], pads: [1, 1, 1, 1]))
        try checkConv(annotations: winograd, Case(x: [2, 10, 23, 29], w: [9, 10, 3, 3], pads: [0, 2, 1, 0]))
        try checkConv(annotations: winograd, Case(x: [1, 9, 41, 20], w: [8, 9, 3, 3], bias: false))
        try checkConv(annotations: winograd, Case(x: [1, 10, 40, 45], w: [9, 10, 3, 3], pads: [1, 1, 1, 1]))
        try checkConv(annotations: winograd, Case(x: [1, 4, 5, 3], w: [6, 4, 3, 3], pads: [1, 1, 1, 1]))
    }

    @Test func fusedActivationAnnotationsClampInTheEpilogue() throws {
        // `fuse-activation` annotates Conv with an idempotent Relu / Clip(0, 6): every float32
        // path (im2col, pointwise, depthwise, Winograd) then returns the clamped result.
        let relu = ["fused_activation": "Relu"]
        let relu6 = ["fused_activation": "Clip", "fused_activation_min": "0", "fused_activation_max": "6"]
        let cases = [Case(x: [1, 4, 9, 9], w: [5, 4, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1]),
                     Case(x: [1, 6, 7, 7], w: [8, 6, 1, 1]),
                     Case(x: [1, 6, 20, 20], w: [6, 1, 3, 3], group: 6, pads: [1, 1, 1, 1]),
                     Case(x: [1, 12, 24, 24], w: [8, 12, 3, 3], pads: [1, 1, 1, 1])]
        for (k, c) in cases.enumerated() {
            let algorithm = k == 3 ? ["conv_algorithm": "winograd"] : [:]
            let relu = relu.merging(algorithm) { a, _ in a }, relu6 = relu6.merging(algorithm) { a, _ in a }
            let x = Self.seeded(c.x.reduce(1, *), seed: 31).map { $0 * 8 }, w = Self.seeded(c.w.reduce(1, *), seed: 32)
            var attrs = [Attribute("group", .int(Int64(c.group)))]
            if let s = c.strides { attrs.append(Self.ints("strides", s)) }
            if let p = c.pads { attrs.append(Self.ints("pads", p)) }
            let plain = try run("Conv", [Tensor.of(x, dims: c.x), Tensor.of(w, dims: c.w)], attrs,
                                annotations: algorithm)[0].elements(Float.self)
            #expect(plain.contains { $0 < 0 } && plain.contains { $0 > 6 }, "\(c): the data should exercise both bounds")
            let r1 = try run("Conv", [Tensor.of(x, dims: c.x), Tensor.of(w, dims: c.w)], attrs, annotations: relu)[0]
            #expect(r1.elements(Float.self) == plain.map { max($0, 0) }, "\(c) Relu")
            let r6 = try run("Conv", [Tensor.of(x, dims: c.x), Tensor.of(w, dims: c.w)], attrs, threads: 2, annotations: relu6)[0]
            #expect(r6.elements(Float.self) == plain.map { min(max($0, 0), 6) }, "\(c) Clip(0, 6)")
        }
    }

    @Test func pointwiseConvolutionsMatchTheDefinition() throws {
        for algorithm in [[:], ["conv_algorithm": "im2col"]] {
            try checkConv(annotations: algorithm, Case(x: [1, 48, 40, 40], w: [96, 48, 1, 1]))
            try checkConv(annotations: algorithm, Case(x: [3, 8, 5, 5], w: [4, 8, 1, 1], bias: false))
            try checkConv(annotations: algorithm, Case(x: [1, 512, 7, 7], w: [64, 512, 1, 1]))
        }
    }

    @Test func depthwiseConvolutionsMatchTheDefinition() throws {
        // Rows wide enough for the 16- and 8-wide vector blocks, stride 2 (even-lane loads),
        // 5x5 kernels, dilation, asymmetric pads, channel multiplier 2, 1-D.
        try checkConv(Case(x: [1, 8, 40, 45], w: [8, 1, 3, 3], group: 8, pads: [1, 1, 1, 1]))
        try checkConv(Case(x: [2, 6, 41, 43], w: [6, 1, 5, 5], group: 6, strides: [2, 2], pads: [2, 2, 2, 2]))
        try checkConv(Case(x: [1, 4, 37, 70], w: [4, 1, 3, 3], group: 4, strides: [2, 2], pads: [0, 1, 1, 0]))
        try checkConv(Case(x: [1, 3, 20, 50], w: [6, 1, 3, 5], group: 3, pads: [1, 2, 0, 3], dilations: [2, 3]))
        try checkConv(Case(x: [1, 5, 12, 19], w: [5, 1, 3, 3], group: 5, strides: [3, 3], pads: [1, 1, 1, 1], bias: false))
        try checkConv(Case(x: [1, 4, 60], w: [4, 1, 7], group: 4, pads: [3, 3]))
        try checkConv(Case(x: [1, 2, 4, 4], w: [2, 1, 5, 5], group: 2, pads: [2, 2, 2, 2]))
        try checkConv(Case(x: [1, 3, 10, 12], w: [3, 1, 3, 3], group: 3, pads: [1, 1, 1, 1]))
        try checkConv(Case(x: [2, 6, 7, 7], w: [6, 1, 3, 3], group: 6, pads: [1, 1, 1, 1]))
        try checkConv(Case(x: [1, 4, 14, 14], w: [4, 1, 3, 3], group: 4, strides: [2, 2], pads: [1, 1, 1, 1]))
        try checkConv(Case(x: [1, 3, 10, 27], w: [3, 1, 3, 3], group: 3, strides: [2, 2], pads: [1, 1, 1, 1]))
    }

    /// ConvTranspose through the kernel against `referenceConvTranspose`, explicit pads.
    func checkTranspose(x xd: [Int], w wd: [Int], group: Int = 1, strides: [Int], pads: [Int], dilations: [Int]? = nil,
                        outputPadding: [Int]? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = xd.count - 2
        let dil = dilations ?? [Int](repeating: 1, count: r), op = outputPadding ?? [Int](repeating: 0, count: r)
        let x = Self.seeded(xd.reduce(1, *), seed: 4), w = Self.seeded(wd.reduce(1, *), seed: 5)
        let b = Self.seeded(wd[1] * group, seed: 6)
        let out = (0..<r).map { (i: Int) -> Int in
            let natural: Int = strides[i] * (xd[i + 2] - 1) + op[i] + (wd[i + 2] - 1) * dil[i] + 1
            return natural - pads[i] - pads[i + r]
        }
        let want = Self.referenceConvTranspose(x: x, xd: xd, w: w, wd: wd, b: b, group: group, strides: strides,
                                               pads: Array(pads[..<r]), dilations: dil, out: out)
        var attrs = [Attribute("group", .int(Int64(group))), Self.ints("strides", strides), Self.ints("pads", pads),
                     Self.ints("dilations", dil)]
        if let outputPadding { attrs.append(Self.ints("output_padding", outputPadding)) }
        for threads in [1, 2] {
            let y = try run("ConvTranspose", [Tensor.of(x, dims: xd), Tensor.of(w, dims: wd), Tensor.of(b)], attrs,
                            threads: threads)[0]
            #expect(y.dims == [xd[0], wd[1] * group] + out, sourceLocation: sourceLocation)
            Self.expectClose(y.elements(Float.self), want, "ConvTranspose x\(xd) w\(wd) threads \(threads)",
                             sourceLocation: sourceLocation)
        }
    }

    @Test func transposedConvolutionsMatchTheDefinition() throws {
        // Kernel == stride (PP-OCR's 2x2/2 upsampling: the direct scatter path), then
        // overlapping kernels with pads, dilations, output_padding, groups, 1-D and 3-D.
        try checkTranspose(x: [1, 6, 20, 21], w: [6, 4, 2, 2], strides: [2, 2], pads: [0, 0, 0, 0])
        try checkTranspose(x: [2, 4, 5, 6], w: [4, 1, 3, 2], strides: [3, 2], pads: [0, 0, 0, 0])
        try checkTranspose(x: [1, 4, 7, 8], w: [4, 3, 3, 3], group: 2, strides: [2, 2], pads: [1, 0, 1, 2], dilations: [1, 2],
                           outputPadding: [1, 0])
        try checkTranspose(x: [1, 3, 11], w: [3, 2, 4], strides: [3], pads: [2, 1], dilations: [2])
        try checkTranspose(x: [1, 2, 3, 4, 3], w: [2, 2, 2, 3, 2], strides: [2, 1, 2], pads: [0, 1, 1, 0, 0, 1])
    }

    @Test func convTransposeOutputShapeGivesPadsLikeOnnxruntime() throws {
        // ref("ConvTranspose", x=arange(9).reshape(1,1,3,3), w=ones((1,2,3,3)), output_shape=[10,8],
        // strides=[3,2]) = the natural 9x7 result padded with zeros at the end (total padding
        // max(0, 9-10) = 0): check the shape and that the last row and column are 0.
        let x = Tensor.of((0..<9).map(Float.init), dims: [1, 1, 3, 3])
        let w = Tensor.of([Float](repeating: 1, count: 18), dims: [1, 2, 3, 3])
        let y = try run("ConvTranspose", [x, w], [Self.ints("output_shape", [10, 8]), Self.ints("strides", [3, 2])])[0]
        #expect(y.dims == [1, 2, 10, 8])
        let v = y.elements(Float.self)
        #expect((0..<8).allSatisfy { v[9 * 8 + $0] == 0 })
        #expect((0..<10).allSatisfy { v[$0 * 8 + 7] == 0 })
        // Row 0 of channel 0: x[0, :] spread by stride 2 with 3 taps: [0, 0, 1, 1, 3, 2, 2, 0].
        #expect(Array(v[0..<8]) == [0, 0, 1, 1, 3, 2, 2, 0])
    }

    @Test func autoPadSameLowerPutsTheExtraPaddingFirst() throws {
        // ref("Conv", x=arange(25).reshape(1,1,5,5), w=ones((1,1,2,2)), auto_pad="SAME_LOWER")
        //   -> [[0,1,3,5,7],[5,12,16,20,24],[15,32,36,40,44],[25,52,56,60,64],[35,72,76,80,84]]
        let x = Tensor.of((0..<25).map(Float.init), dims: [1, 1, 5, 5])
        let w = Tensor.of([Float](repeating: 1, count: 4), dims: [1, 1, 2, 2])
        let y = try run("Conv", [x, w], [Attribute("auto_pad", .string(Array("SAME_LOWER".utf8)))])[0]
        #expect(y.dims == [1, 1, 5, 5])
        #expect(y.elements(Float.self) == [0, 1, 3, 5, 7, 5, 12, 16, 20, 24, 15, 32, 36, 40, 44, 25, 52, 56, 60, 64,
                                           35, 72, 76, 80, 84])
    }

    @Test func float16AndFloat64ConvolveLikeFloat32() throws {
        let c = Case(x: [1, 4, 9, 10], w: [6, 2, 3, 3], group: 2, pads: [1, 1, 1, 1])
        let x = Self.seeded(c.x.reduce(1, *), seed: 7), w = Self.seeded(c.w.reduce(1, *), seed: 8)
        let want = Self.referenceConv(x: x, xd: c.x, w: w, wd: c.w, b: nil, group: 2, strides: [1, 1], pads: [1, 1],
                                      dilations: [1, 1], out: [9, 10])
        let attrs = [Attribute("group", .int(2)), Self.ints("pads", [1, 1, 1, 1])]
        let y64 = try run("Conv", [Tensor.of(x.map(Double.init), dims: c.x), Tensor.of(w.map(Double.init), dims: c.w)], attrs)[0]
        #expect(y64.dtype == .float64)
        Self.expectClose(y64.elements(Double.self).map(Float.init), want, rtol: 1e-6, atol: 1e-6, "float64")
        let x16 = x.map { Float16($0) }, w16 = w.map { Float16($0) }
        let want16 = Self.referenceConv(x: x16.map(Float.init), xd: c.x, w: w16.map(Float.init), wd: c.w, b: nil, group: 2,
                                        strides: [1, 1], pads: [1, 1], dilations: [1, 1], out: [9, 10])
        let y16 = try run("Conv", [Tensor.of(x16, dims: c.x), Tensor.of(w16, dims: c.w)], attrs)[0]
        #expect(y16.dtype == .float16)
        Self.expectClose(y16.elements(Float16.self).map(Float.init), want16, rtol: 1e-3, atol: 1e-3, "float16")
    }

    @Test func badGroupsAndKernelShapesThrow() throws {
        let x = Tensor.of([Float](repeating: 1, count: 3 * 16), dims: [1, 3, 4, 4])
        let w = Tensor.of([Float](repeating: 1, count: 4 * 3 * 4), dims: [4, 3, 2, 2])
        #expect(throws: OpError.self) { try run("Conv", [x, w], [Attribute("group", .int(2))]) }
        #expect(throws: OpError.self) { try run("Conv", [x, w], [Self.ints("kernel_shape", [3, 3])]) }
        #expect(throws: OpError.self) { try run("Conv", [x, w], [Self.ints("strides", [0, 1])]) }
        let big = Tensor.of([Float](repeating: 1, count: 4 * 3 * 25), dims: [4, 3, 5, 5])
        #expect(throws: OpError.self) { try run("Conv", [x, big]) }
    }

    @Test func qlinearConvRequantizesHalfToEven() throws {
        // ref("QLinearConv", x=uint8 [[[[0,10,20],[30,40,50],[60,70,80]]]], x_scale=0.5, x_zp=uint8 10,
        //     w=int8 [[[[1,-1],[2,0]]]] (1x1x2x2), w_scale=[0.25], w_zp=int8 0, y_scale=0.3, y_zp=uint8 5,
        //     B=int32 [7], opset 10) -> [[[[20, 29], [45, 54]]]]
        // (acc = conv(x - 10, w) + 7 = [[37, 57], [97, 117]]; acc * (0.5*0.25/0.3) + 5, rounded half to even.)
        let y = try run("QLinearConv", opset: 10, [
            Tensor.of([UInt8(0), 10, 20, 30, 40, 50, 60, 70, 80], dims: [1, 1, 3, 3]), Tensor.scalar(Float(0.5)),
            Tensor.scalar(UInt8(10)), Tensor.of([Int8(1), -1, 2, 0], dims: [1, 1, 2, 2]), Tensor.of([Float(0.25)]),
            Tensor.scalar(Int8(0)), Tensor.scalar(Float(0.3)), Tensor.scalar(UInt8(5)), Tensor.of([Int32(7)]),
        ])[0]
        #expect(y.dtype == .uint8)
        #expect(y.elements(UInt8.self) == [20, 29, 45, 54])
    }
}
