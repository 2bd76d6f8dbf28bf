import Foundation
import Testing
import ModelIR
@testable import ModelOps

/// Runs one node of `op` (default domain) at `opset` on `inputs` (nil: an absent optional
/// input) and returns its first `outputs` results as tensors.
func runKernel(_ op: String, opset: Int, _ inputs: [Tensor?], _ attributes: [Attribute] = [], outputs: Int = 1) throws -> [Tensor] {
    var g = Graph()
    let ins = inputs.enumerated().map { $0.element == nil ? nil : g.addValue(named: "in\($0.offset)") }
    let outs = (0..<outputs).map { g.addValue(named: "out\($0)") }
    let id = g.appendNode(op, name: "n", inputs: ins, outputs: outs, attributes: attributes)
    guard let schema = OpRegistry.schema(domain: "", opType: op) else { throw OpError.unsupported("no schema \(op)") }
    let ctx = KernelContext(node: g[node: id], opset: opset, inputs: inputs.map { $0.map(RuntimeValue.tensor) })
    return try Array(schema.kernel(ctx).prefix(outputs)).map { v in
        guard let t = v.tensor else { throw OpError.invalid("output is not a tensor") }
        return t
    }
}

/// The elements of a float16/float32/float64 tensor as Float (for comparisons).
func floatValues(_ t: Tensor) -> [Float] {
    switch t.dtype {
    case .float16: return t.elements(Float16.self).map(Float.init)
    case .float64: return t.elements(Double.self).map(Float.init)
    default: return t.elements(Float.self)
    }
}

/// `x[i] = (i % modulus - shift) / divisor` as float32, the inputs the Python below builds with
/// `(np.arange(n) % modulus - shift) / divisor`.
func pattern(_ dims: [Int], modulus: Int, shift: Double = 0, divisor: Double) -> Tensor {
    let n = dims.reduce(1, *)
    return Tensor.of((0..<n).map { Float((Double($0 % modulus) - shift) / divisor) }, dims: dims)
}

/// Attention and the other transformer blocks. Expected values come from `onnx.reference` in
/// the venv (onnx 1.23 / NumPy 2.4): `ref(op, inputs, opset, outputs, **attrs)` runs a one-node
/// model with `ReferenceEvaluator` (helper in the comment of each test).
@Suite("Attention and transformer blocks")
struct AttentionOpsTests {
    static func int(_ name: String, _ v: Int) -> Attribute { Attribute(name, .int(Int64(v))) }
    func close(_ got: Tensor, _ want: [Float], tol: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
        ConvOpsTests.expectClose(floatValues(got), want, rtol: tol, atol: tol, "values", sourceLocation: sourceLocation)
    }

    // Q = (np.arange(32) % 7 - 3) / 4 as [2,4,2,2]; K = (arange(16) % 5 - 2) / 3 as [2,2,2,2];
    // V = (arange(24) % 4) / 2 as [2,2,2,3]; PK = (arange(8) % 3 - 1) / 2 as [2,2,1,2];
    // PV = (arange(12) % 5) / 4 as [2,2,1,3] (all float32)
    var q: Tensor { pattern([2, 4, 2, 2], modulus: 7, shift: 3, divisor: 4) }
    var k: Tensor { pattern([2, 2, 2, 2], modulus: 5, shift: 2, divisor: 3) }
    var v: Tensor { pattern([2, 2, 2, 3], modulus: 4, divisor: 2) }
    var pastKey: Tensor { pattern([2, 2, 1, 2], modulus: 3, shift: 1, divisor: 2) }
    var pastValue: Tensor { pattern([2, 2, 1, 3], modulus: 5, divisor: 4) }

    @Test func groupedQueryCausalWithPastAlignsBottomRight() throws {
        // ref('Attention', [Q,K,V,None,PK,PV], 23, outputs=4, is_causal=1, qk_matmul_output_mode=3)
        let out = try runKernel("Attention", opset: 23, [q, k, v, nil, pastKey, pastValue],
                                [Self.int("is_causal", 1), Self.int("qk_matmul_output_mode", 3)], outputs: 4)
        #expect(out[0].dims == [2, 4, 2, 3] && out[1].dims == [2, 2, 3, 2] && out[2].dims == [2, 2, 3, 3] && out[3].dims == [2, 4, 2, 3])
        close(out[0], [0.0, 0.3878444731235504, 0.7756889462471008, 0.4662020802497864, 0.25971847772598267, 0.6748376488685608,
                       0.0, 0.36580947041511536, 0.7316189408302307, 0.5145082473754883, 0.25, 0.6715027093887329,
                       0.8731586933135986, 1.2463173866271973, 0.0, 0.740088939666748, 1.1584796905517578, 0.5349054932594299,
                       0.8731586933135986, 1.2463173866271973, 0.0, 0.7246016263961792, 1.148256778717041, 0.5971603393554688,
                       0.12868177890777588, 0.5, 0.8713182210922241, 0.445989727973938, 0.38123658299446106, 0.7915370464324951,
                       0.11947932839393616, 0.5, 0.8805207014083862, 0.7358124256134033, 0.2797563076019287, 0.704675018787384,
                       1.0, 0.7720906734466553, 0.12131821364164352, 0.8478116989135742, 0.9173728227615356, 0.5283046960830688,
                       1.0, 0.6080994606018066, 0.14865007996559143, 0.8509297966957092, 0.8012866973876953, 0.538817822933197])
        // Query 0 sees the past key and key 0 only (offset = past length 1): its last probability is 0.
        close(out[3], [0.44862210750579834, 0.5513778924942017, 0.0, 0.33952322602272034, 0.34967535734176636, 0.3108013868331909,
                       0.536761999130249, 0.4632379412651062, 0.0, 0.3139890432357788, 0.3430054783821106, 0.3430054783821106,
                       0.5073651671409607, 0.4926348030567169, 0.0, 0.3264368772506714, 0.3169594407081604, 0.3566036522388458,
                       0.5073651671409607, 0.4926348030567169, 0.0, 0.30537956953048706, 0.29651349782943726, 0.3981069028377533,
                       0.5147271156311035, 0.4852728545665741, 0.0, 0.35879796743392944, 0.4036751985549927, 0.2375268191099167,
                       0.47791731357574463, 0.5220827460289001, 0.0, 0.3003251254558563, 0.2591874599456787, 0.44048741459846497,
                       0.4852728545665741, 0.5147271156311035, 0.0, 0.2869592607021332, 0.40866413712501526, 0.30437660217285156,
                       0.5946003198623657, 0.4053996503353119, 0.0, 0.36642876267433167, 0.3354308307170868, 0.29814043641090393])
        // present_key = concat(PK, K) along the sequence axis.
        close(out[1], [-0.5, 0.0, -0.6666666865348816, -0.3333333432674408, 0.0, 0.3333333432674408, 0.5, -0.5, 0.6666666865348816,
                       -0.6666666865348816, -0.3333333432674408, 0.0, 0.0, 0.5, 0.3333333432674408, 0.6666666865348816,
                       -0.6666666865348816, -0.3333333432674408, -0.5, 0.0, 0.0, 0.3333333432674408, 0.6666666865348816,
                       -0.6666666865348816])
    }

    @Test func fullyMaskedRowIsZeroAndModeTwoKeepsTheBias() throws {
        // m = np.array([[False,False,False],[True,False,True]])
        // ref('Attention', [Q,K,V,m,PK,PV], 23, outputs=4, softcap=2.0, qk_matmul_output_mode=2)
        let mask = Tensor.of([false, false, false, true, false, true], dims: [2, 3])
        let out = try runKernel("Attention", opset: 23, [q, k, v, mask, pastKey, pastValue],
                                [Attribute("softcap", .float(2)), Self.int("qk_matmul_output_mode", 2)], outputs: 4)
        close(out[0], [0.0, 0.0, 0.0, 0.7168974876403809, 0.13051709532737732, 0.5, 0.0, 0.0, 0.0, 0.7827184200286865,
                       0.11954694241285324, 0.5, 0.0, 0.0, 0.0, 0.6194829344749451, 1.0, 0.7831025719642639, 0.0, 0.0, 0.0,
                       0.6085553169250488, 1.0, 0.848668098449707, 0.0, 0.0, 0.0, 0.7483599781990051, 0.3006559908390045,
                       0.6503279805183411, 0.0, 0.0, 0.0, 0.9925963878631592, 0.20296144485473633, 0.6014807224273682, 0.0,
                       0.0, 0.0, 0.7426767349243164, 0.5146465301513672, 0.893308162689209, 0.0, 0.0, 0.0, 0.7756649851799011,
                       0.44867005944252014, 0.8108375668525696])
        let scores = floatValues(out[3])
        #expect(scores[0] == -.infinity && scores[1] == -.infinity && scores[2] == -.infinity && scores[4] == -.infinity)
        ConvOpsTests.expectClose([scores[3], scores[5], scores[9], scores[11]], [0.08833085745573044, 0.0, -0.2636221945285797, -0.17631779611110687],
                                 rtol: 1e-5, atol: 1e-6, "finite scores")
    }

    @Test func threeDimensionalFloat16WithShortFloatMask() throws {
        // Q = ((arange(8) % 5 - 2) / 3).astype(float16) as [1,2,4]; K = ((arange(6) % 4 - 1) / 2) as [1,3,2];
        // V = ((arange(6) % 3) / 2) as [1,3,2]; m = [[0.5,-1],[0,0.25]] (float16, 2 of 3 keys: padded with -inf)
        // ref('Attention', [Q,K,V,m], 23, q_num_heads=2, kv_num_heads=1)
        func half(_ t: Tensor) -> Tensor { Tensor.of(t.elements(Float.self).map { Float16($0) }, dims: t.dims) }
        let q3 = half(pattern([1, 2, 4], modulus: 5, shift: 2, divisor: 3))
        let k3 = half(pattern([1, 3, 2], modulus: 4, shift: 1, divisor: 2))
        let v3 = half(pattern([1, 3, 2], modulus: 3, divisor: 2))
        let mask = Tensor.of([Float16(0.5), -1, 0, 0.25], dims: [2, 2])
        let y = try runKernel("Attention", opset: 23, [q3, k3, v3, mask], [Self.int("q_num_heads", 2), Self.int("kv_num_heads", 1)])[0]
        #expect(y.dtype == .float16 && y.dims == [1, 2, 4])
        #expect(floatValues(y) == [0.09912109375, 0.4501953125, 0.2203369140625, 0.3896484375, 0.56201171875, 0.2188720703125,
                                   0.50341796875, 0.2481689453125])
    }

    @Test func float16SoftcapScoresStayInFloat32() throws {
        // Q = ((arange(24) % 7 - 3) / 2) as [1,2,3,4]; K = ((arange(12) % 5 - 2) / 1.5) as [1,1,3,4];
        // V = ((arange(6) % 4) / 3) as [1,1,3,2] (all float16); m = [[T,F,T],[T,T,T],[F,T,T]]
        // ref('Attention', [Q,K,V,m], 24, outputs=4, softcap=1.5, qk_matmul_output_mode=1, scale=0.3)
        func half(_ t: Tensor) -> Tensor { Tensor.of(t.elements(Float.self).map { Float16($0) }, dims: t.dims) }
        let inputs = [half(pattern([1, 2, 3, 4], modulus: 7, shift: 3, divisor: 2)), half(pattern([1, 1, 3, 4], modulus: 5, shift: 2, divisor: 1.5)),
                      half(pattern([1, 1, 3, 2], modulus: 4, divisor: 3)),
                      Tensor.of([true, false, true, true, true, true, false, true, true], dims: [3, 3])]
        let attributes = [Attribute("softcap", .float(1.5)), Attribute("scale", .float(0.3))]
        let out = try runKernel("Attention", opset: 24, inputs, attributes + [Self.int("qk_matmul_output_mode", 1)], outputs: 4)
        let wantY: [Float] = [0.0, 0.333251953125, 0.174560546875, 0.5078125, 0.380126953125, 0.71337890625, 0.0,
                                        0.333251953125, 0.174560546875, 0.5078125, 0.473876953125, 0.80712890625]
        #expect(floatValues(out[0]) == wantY)
        let wantScores: [Float] = [0.73193359375, -0.09991455078125, -0.482177734375, -0.6533203125, -0.482177734375,
                                        0.1988525390625, 0.56982421875, -0.1988525390625, -0.482177734375, -0.8056640625,
                                        0.09991455078125, 1.1826171875, 0.390869140625, -0.296142578125, -0.482177734375,
                                        -0.390869140625, 1.0986328125, 0.1988525390625]
        #expect(floatValues(out[3]) == wantScores)
        // The same with qk_matmul_output_mode=2: the masked scores are -inf.
        let biased = try runKernel("Attention", opset: 24, inputs, attributes + [Self.int("qk_matmul_output_mode", 2)], outputs: 4)[3]
        let inf = Float.infinity
        let want: [Float] = [0.73193359375, -inf, -0.482177734375, -0.6533203125, -0.482177734375, 0.1988525390625,
                             -inf, -0.1988525390625, -0.482177734375, -0.8056640625, -inf, 1.1826171875,
                             0.390869140625, -0.296142578125, -0.482177734375, -inf, 1.0986328125, 0.1988525390625]
        #expect(floatValues(biased) == want)
    }

    @Test func flexAttentionGroupedFloat16ComputesInFloat32() throws {
        // Q = ((arange(24) % 7 - 3) / 2) as [1,4,2,3]; K = ((arange(18) % 5 - 2) / 1.5) as [1,2,3,3];
        // V = ((arange(12) % 4) / 3) as [1,2,3,2] (all float16)
        // ref_domain('FlexAttention', 'ai.onnx.preview', [Q,K,V], 1, scale=0.4)  (no score_mod/prob_mod)
        func half(_ t: Tensor) -> Tensor { Tensor.of(t.elements(Float.self).map { Float16($0) }, dims: t.dims) }
        let inputs = [half(pattern([1, 4, 2, 3], modulus: 7, shift: 3, divisor: 2)), half(pattern([1, 2, 3, 3], modulus: 5, shift: 2, divisor: 1.5)),
                      half(pattern([1, 2, 3, 2], modulus: 4, divisor: 3))]
        var g = Graph()
        let ins = (0..<3).map { g.addValue(named: "in\($0)") }
        let id = g.appendNode("FlexAttention", domain: "ai.onnx.preview", name: "n", inputs: ins, outputs: [g.addValue(named: "y")],
                              attributes: [Attribute("scale", .float(0.4))])
        let schema = try #require(OpRegistry.schema(domain: "ai.onnx.preview", opType: "FlexAttention"))
        let y = try #require(try schema.kernel(KernelContext(node: g[node: id], opset: 1, inputs: inputs.map { .tensor($0) }))[0].tensor)
        let want: [Float] = [0.072509765625, 0.40576171875, 0.17333984375, 0.5068359375, 0.327392578125, 0.66064453125,
                             0.13623046875, 0.469482421875, 0.4638671875, 0.79736328125, 0.50390625, 0.83740234375,
                             0.1832275390625, 0.5166015625, 0.57666015625, 0.91015625]
        #expect(y.dtype == .float16 && y.dims == [1, 4, 2, 2])
        #expect(floatValues(y) == want)
    }

    @Test func slidingWindowWithExternalCacheOffset() throws {
        // Q = (arange(6) % 4 - 1.5) / 2 as [1,1,3,2]; K = (arange(10) % 3 - 1) / 2 as [1,1,5,2]; V = arange(5) as [1,1,5,1]
        // ref('Attention', [Q,K,V,None,None,None,np.array([4])], 25, is_causal=1, left_window_size=1)
        // offset = nonpad 4 - 3 queries = 1: query i sees keys i and i + 1 only.
        let out = try runKernel("Attention", opset: 25,
                                [pattern([1, 1, 3, 2], modulus: 4, shift: 1.5, divisor: 2), pattern([1, 1, 5, 2], modulus: 3, shift: 1, divisor: 2),
                                 pattern([1, 1, 5, 1], modulus: 100, divisor: 1), nil, nil, nil, Tensor.of([Int64(4)])],
                                [Self.int("is_causal", 1), Self.int("left_window_size", 1)])
        close(out[0], [0.39127838611602783, 1.6087216138839722, 2.5874791145324707])
    }

    @Test func rotaryEmbeddingInterleavedPartialAndThreeDimensional() throws {
        // X = (arange(24) % 7 - 3) / 2 as [1,2,2,6]; cos/sin = np.cos/sin(arange(6).reshape(3,2) * 0.3); pos = [[2,0]]
        // ref('RotaryEmbedding', [X,cos,sin,pos], 23, interleaved=1, rotary_embedding_dim=4)
        let x = pattern([1, 2, 2, 6], modulus: 7, shift: 3, divisor: 2)
        let angles = (0..<6).map { Double($0) * 0.3 }
        let cosines = Tensor.of(angles.map { Float(cos($0)) }, dims: [3, 2]), sines = Tensor.of(angles.map { Float(sin($0)) }, dims: [3, 2])
        let y = try runKernel("RotaryEmbedding", opset: 23, [x, cosines, sines, Tensor.of([Int64(2), 0], dims: [1, 2])],
                              [Self.int("interleaved", 1), Self.int("rotary_embedding_dim", 4)])[0]
        close(y, [0.38850241899490356, -1.7604163885116577, -0.035368598997592926, -0.49874749779701233, 0.5, 1.0, 1.5, -1.5,
                  -0.8075764179229736, -0.7731884717941284, 0.0, 0.5, -1.0357009172439575, 1.4755756855010986, 0.8913891911506653,
                  -1.5669797658920288, -0.5, 0.0, 0.5, 1.0, 1.8762850761413574, -0.9897243976593018, -1.0, -0.5])
        // X3 = X.transpose(0,2,1,3).reshape(1,2,12); caches cos[[2,0]][None], sin[[2,0]][None] ([1,2,2])
        // ref('RotaryEmbedding', [X3,c2,s2], 23, num_heads=2, rotary_embedding_dim=4)
        let xv = x.elements(Float.self)
        var x3 = [Float](repeating: 0, count: 24)
        for h in 0..<2 { for s in 0..<2 { for d in 0..<6 { x3[(s * 2 + h) * 6 + d] = xv[(h * 2 + s) * 6 + d] } } }
        let cv = cosines.elements(Float.self), sv = sines.elements(Float.self)
        let y3 = try runKernel("RotaryEmbedding", opset: 23,
                               [Tensor.of(x3, dims: [1, 2, 12]), Tensor.of([cv[4], cv[5], cv[0], cv[1]], dims: [1, 2, 2]),
                                Tensor.of([sv[4], sv[5], sv[0], sv[1]], dims: [1, 2, 2])],
                               [Self.int("num_heads", 2), Self.int("rotary_embedding_dim", 4)])[0]
        close(y3, [-0.07751712203025818, -0.07073719799518585, -1.5792375802993774, -0.9974949955940247, 0.5, 1.0,
                   1.7604163885116577, 1.1036007404327393, 0.38850241899490356, 1.42550528049469, -0.5, 0.0, 1.5,
                   -1.2852445840835571, -1.0, -0.9209486246109009, 0.0, 0.5, 0.5, 1.3986167907714844, 1.5,
                   -1.1374845504760742, -1.0, -0.5])
    }

    @Test func swiGLUInFloat16() throws {
        // a = [-3,-0.5,0,0.5,2,10], b = [1,2,-1,0.5,3,-2] (float16); ref('SwiGLU', [a,b], 28, alpha=1.702)
        let a = Tensor.of([Float16(-3), -0.5, 0, 0.5, 2, 10]), b = Tensor.of([Float16(1), 2, -1, 0.5, 3, -2])
        let y = try runKernel("SwiGLU", opset: 28, [a, b], [Attribute("alpha", .float(1.702))])[0]
        #expect(floatValues(y) == [-0.01806640625, -0.29931640625, -0.0, 0.1751708984375, 5.8046875, -20.0])
    }

    @Test func linearAttentionGatedDeltaAndLinear() throws {
        // q = (arange(12) % 5 - 2) / 3 as [1,3,4]; k = (arange(6) % 4 - 1.5) / 2 as [1,3,2]; v = (arange(6) % 3) / 2 as [1,3,2]
        // ps = (arange(4) % 3 - 1) / 4 as [1,1,2,2]; decay = -(arange(6) % 3) / 5 as [1,3,2]; beta = [[[0.5],[0.9],[0.2]]]
        // ref('LinearAttention', [q,k,v,ps,decay,beta], 27, outputs=2, q_num_heads=2, kv_num_heads=1, update_rule='gated_delta')
        let q = pattern([1, 3, 4], modulus: 5, shift: 2, divisor: 3), k = pattern([1, 3, 2], modulus: 4, shift: 1.5, divisor: 2)
        let v = pattern([1, 3, 2], modulus: 3, divisor: 2)
        let heads = [Self.int("q_num_heads", 2), Self.int("kv_num_heads", 1)]
        let out = try runKernel("LinearAttention", opset: 27,
                                [q, k, v, pattern([1, 1, 2, 2], modulus: 3, shift: 1, divisor: 4), pattern([1, 3, 2], modulus: 3, divisor: -5),
                                 Tensor.of([Float(0.5), 0.9, 0.2], dims: [1, 3, 1])],
                                heads + [Attribute("update_rule", .string(Array("gated_delta".utf8)))], outputs: 2)
        close(out[0], [0.04149046912789345, 0.1408105045557022, 0.05226081237196922, -0.061467934399843216, -0.35129088163375854,
                       0.022276796400547028, -0.014559786766767502, 0.014723917469382286, 0.22725075483322144,
                       -0.10230875760316849, -0.09580632299184799, 0.11926034837961197])
        close(out[1], [-0.05039992555975914, -0.1926327794790268, 0.5072715878486633, -0.1207132339477539])
        // ref('LinearAttention', [q,k,v], 27, outputs=2, q_num_heads=2, kv_num_heads=1, update_rule='linear', scale=0.5)
        let lin = try runKernel("LinearAttention", opset: 27, [q, k, v],
                                heads + [Attribute("update_rule", .string(Array("linear".utf8))), Attribute("scale", .float(0.5))], outputs: 2)
        close(lin[0], [0.0, 0.1458333283662796, 0.0, -0.02083333395421505, -0.1666666567325592, -0.0833333283662796,
                       -0.0416666679084301, 0.0625, 0.1875000149011612, -0.3125, -0.0625, 0.4375])
        close(lin[1], [-0.125, -1.125, 0.625, -0.375])
    }

    @Test func causalConvSiluCarriesTheState() throws {
        // x = (arange(8) % 5 - 2) / 2 as [1,2,4]; w = [[[0.5,-1,2]],[[1,0.25,-0.5]]]; bias = [0.1,-0.2]; past = [[[1,-1],[0.5,2]]]
        // ref('CausalConvWithState', [x,w,bias,past], 27, outputs=2, activation='silu')
        let out = try runKernel("CausalConvWithState", opset: 27,
                                [pattern([1, 2, 4], modulus: 5, shift: 2, divisor: 2), Tensor.of([Float(0.5), -1, 2, 1, 0.25, -0.5], dims: [2, 1, 3]),
                                 Tensor.of([Float(0.1), -0.2]), Tensor.of([Float(1), -1, 0.5, 2], dims: [1, 2, 2])],
                                [Attribute("activation", .string(Array("silu".utf8)))], outputs: 2)
        close(out[0], [-0.16052494943141937, -0.16052494943141937, 0.05249791964888573, 0.5954821109771729, 0.172332763671875,
                       2.365312337875366, 0.5519796013832092, -0.2782335877418518])
        #expect(out[1].elements(Float.self) == [0.0, 0.5, -0.5, 0.0])
    }
}
