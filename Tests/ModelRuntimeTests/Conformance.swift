import Foundation
import ModelIR
import ModelONNX
import ModelOps
import ModelRuntime

/// Runs ONNX backend test cases (model.onnx + test_data_set_N/{input,output}_K.pb) through
/// the interpreter and compares with the expected outputs the way ONNX's backend test does:
/// `numpy.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-7)` for floats
/// (bfloat16: compared in float32 with rtol 2^-6, as the runner does), exact equality
/// otherwise; NaN equals NaN; dtype and shape must match.
enum Conformance {
    static let rtol = 1e-3
    static let atol = 1e-7

    enum Outcome: Equatable {
        case pass
        case fail(String)

        var reason: String? {
            if case .fail(let r) = self { return r }
            return nil
        }
    }

    /// Runs one case folder.
    static func run(caseDirectory dir: String) -> Outcome {
        let model: Model
        do { model = try ONNXImporter.load(path: dir + "/model.onnx") } catch { return .fail("import: \(error)") }
        let interpreter: Interpreter
        do { interpreter = try Interpreter(model: model) } catch { return .fail("\(error)") }
        let sets = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("test_data_set_") }.sorted()
        guard !sets.isEmpty else { return .fail("no test_data_set folder") }
        let feeds = model.graph.inputs.filter { model.graph[value: $0].initializer == nil }.map { model.graph[value: $0].name }
        for set in sets {
            let folder = dir + "/" + set
            var inputs: [String: RuntimeValue] = [:]
            var k = 0
            while FileManager.default.fileExists(atPath: "\(folder)/input_\(k).pb") {
                guard k < feeds.count else { return .fail("\(set): more input files than graph inputs") }
                do { inputs[feeds[k]] = .tensor(oldBFloat16(try ONNXTensorFile.read(path: "\(folder)/input_\(k).pb"), declared: declaredType(model, input: feeds[k]))) } catch {
                    return .fail("\(set)/input_\(k).pb: \(error)")
                }
                k += 1
            }
            var expected: [Tensor] = []
            while FileManager.default.fileExists(atPath: "\(folder)/output_\(expected.count).pb") {
                do { expected.append(oldBFloat16(try ONNXTensorFile.read(path: "\(folder)/output_\(expected.count).pb"), declared: declaredType(model, output: expected.count))) } catch {
                    return .fail("\(set)/output_\(expected.count).pb: \(error)")
                }
            }
            var options = RunOptions()
            options.threads = 1
            let result: RunResult
            do { result = try interpreter.run(inputs, options: options) } catch { return .fail("\(error)") }
            guard result.outputs.count >= expected.count else { return .fail("\(set): \(result.outputs.count) outputs, expected \(expected.count)") }
            for (i, want) in expected.enumerated() {
                guard let got = result.outputs[i].value.tensor else { return .fail("\(set): output \(i) is not a tensor") }
                if let problem = compare(got, want) { return .fail("\(set): output \(i) '\(result.outputs[i].name)': \(problem)") }
            }
        }
        return .pass
    }

    /// The element type the model declares for graph input `name` / output number `index`.
    static func declaredType(_ model: Model, input name: String) -> DType? {
        model.graph.inputs.map { model.graph[value: $0] }.first { $0.name == name }?.type?.tensorDType
    }
    static func declaredType(_ model: Model, output index: Int) -> DType? {
        index < model.graph.outputs.count ? model.graph[value: model.graph.outputs[index]].type?.tensorDType : nil
    }

    /// Old test data: onnx 1.12 (Debian's libonnx-testdata) wrote bfloat16 tensors with the
    /// data type UINT16 (NumPy had no bfloat16; the bits were stored as uint16). When the
    /// model declares the value bfloat16 and the file says uint16, the bytes are bfloat16:
    /// relabel them (a reinterpretation, no conversion). Shapes are left to the interpreter.
    static func oldBFloat16(_ t: Tensor, declared: DType?) -> Tensor {
        guard declared == .bfloat16, t.dtype == .uint16 else { return t }
        var r = t
        r.dtype = .bfloat16
        return r
    }

    /// nil when `got` matches `want` within the backend-test tolerance.
    static func compare(_ got: Tensor, _ want: Tensor) -> String? {
        guard got.dtype == want.dtype else { return "dtype \(got.dtype), expected \(want.dtype)" }
        guard got.dims == want.dims else { return "shape \(got.dims), expected \(want.dims)" }
        if case .strings(let a) = got.storage {
            if case .strings(let b) = want.storage, a == b { return nil }
            return "strings differ"
        }
        let a = values(got), b = values(want)
        guard let a, let b else {
            return got.isBitwiseEqual(to: want) ? nil : "bytes differ"
        }
        // bfloat16 as ONNX's runner compares it: in float32 with rtol at least 2^-6 (two ulps).
        let rtol = got.dtype == .bfloat16 ? max(Self.rtol, 1.0 / 64) : Self.rtol
        var worst = 0.0, worstIndex = -1
        for i in 0..<a.count {
            let x = a[i], y = b[i]
            if x.isNaN && y.isNaN { continue }
            if x == y { continue }
            let excess = abs(x - y) - (atol + rtol * abs(y))
            if excess > 0 || x.isNaN || y.isNaN, excess > worst || worstIndex < 0 {
                worst = excess.isNaN ? .infinity : excess
                worstIndex = i
            }
        }
        if worstIndex >= 0 {
            return "element \(worstIndex): got \(a[worstIndex]), expected \(b[worstIndex]) (rtol \(rtol), atol \(atol))"
        }
        return nil
    }

    /// Elements as Double for comparison; nil for types compared bytewise.
    static func values(_ t: Tensor) -> [Double]? {
        switch t.dtype {
        case .float32: return t.elements(Float.self).map(Double.init)
        case .float64: return t.elements(Double.self)
        case .float16: return t.elements(Float16.self).map(Double.init)
        case .bool: return t.elements(Bool.self).map { $0 ? 1 : 0 }
        case .bfloat16:
            return t.withUnsafeBytes { raw in
                stride(from: 0, to: raw.count - 1, by: 2).map { i in
                    Double(Float(bitPattern: (UInt32(raw[i]) | UInt32(raw[i + 1]) << 8) << 16))
                }
            }
        default:
            if let v = try? t.dtype.visitNumeric(ToDoubles(tensor: t)) { return v }
            return nil
        }
    }

    struct ToDoubles: NumericVisitor {
        let tensor: Tensor
        func visit<T: NumericElement>(_ type: T.Type) throws -> [Double] { tensor.elements(T.self).map(\.asDouble) }
    }

    // MARK: Kinds

    /// What issue 3's goal leaves out: training ops, string ops and sequence/optional
    /// types. The same rules as scripts/gen_node_tests.py's manifest.
    enum Kind: String { case tensor, training, string, sequenceOptional = "sequence_optional" }

    static let trainingOps: Set<String> = ["Adam", "Adagrad", "Momentum", "Gradient"]
    static let stringOps: Set<String> = ["StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch"]
    static let stringAttributes: Set<String> = ["pool_strings", "keys_strings", "values_strings", "cats_strings",
                                                "classlabels_strings", "value_string", "value_strings"]
    static let sequenceOps: Set<String> = ["SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
                                           "SequenceInsert", "SequenceLength", "SequenceMap", "SplitToSequence",
                                           "ConcatFromSequence", "Optional", "OptionalHasElement", "OptionalGetElement"]

    /// The kind of a case folder's model (tensor when it cannot be read).
    static func kind(caseDirectory dir: String) -> Kind {
        guard let model = try? ONNXImporter.load(path: dir + "/model.onnx") else { return .tensor }
        var nodes: [Node] = []
        func walk(_ g: Graph) { for (_, n) in g.liveNodes { nodes.append(n); n.subgraphs.forEach(walk) } }
        walk(model.graph)
        let g = model.graph
        if nodes.contains(where: { trainingOps.contains($0.opType) || $0.domain == "ai.onnx.preview.training" })
            || model.opsetImports.contains(where: { $0.domain == "ai.onnx.preview.training" }) {
            return .training
        }
        func hasString(_ t: ValueType?) -> Bool {
            switch t {
            case .tensor(let d, _)?, .sparseTensor(let d, _)?: return d == .string
            case .sequence(let e)?, .optional(let e)?: return hasString(e)
            case .map(let k, let v)?: return k == .string || hasString(v)
            case nil: return false
            }
        }
        let interface = (g.inputs + g.outputs).map { g[value: $0].type }
        let stringAttribute: (Node) -> Bool = { n in
            n.attributes.contains { a in
                if stringAttributes.contains(a.name) { return true }
                if case .tensor(let t) = a.value { return t.dtype == .string }
                if case .tensors(let ts) = a.value { return ts.contains { $0.dtype == .string } }
                return false
            }
        }
        if interface.contains(where: hasString) || g.values.contains(where: { hasString($0.type) })
            || nodes.contains(where: { stringOps.contains($0.opType) || stringAttribute($0) }) {
            return .string
        }
        let isCollection: (ValueType?) -> Bool = { t in
            switch t {
            case .sequence?, .optional?, .map?: return true
            default: return false
            }
        }
        if interface.contains(where: isCollection) || nodes.contains(where: { sequenceOps.contains($0.opType) }) {
            return .sequenceOptional
        }
        return .tensor
    }

    // MARK: Expectations

    /// `Tests/ModelRuntimeTests/conformance-expectations.txt`: one line per case,
    /// `suite/case pass` or `suite/case skip <reason>`.
    static let expectationsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("conformance-expectations.txt").path

    static func loadExpectations() -> [String: String] {
        guard let text = try? String(contentsOfFile: expectationsPath, encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }
}
