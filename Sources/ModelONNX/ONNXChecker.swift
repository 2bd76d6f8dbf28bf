import ModelIR
import ONNXProtoC
import ONNXCheckerShim

/// libonnx's official checker and shape inference, through the C++ shim.
///
/// libonnx knows operator sets up to a fixed version (Debian's 1.12: opset 17). A model
/// importing a newer opset is not checked rather than failed: the result is
/// `.notChecked` with the reason.
public enum ONNXChecker {
    /// What a check or an inference run concluded.
    public enum Outcome: Equatable, Sendable, CustomStringConvertible {
        case passed
        case failed(String)
        case notChecked(String)

        public var description: String {
            switch self {
            case .passed: return "passed"
            case .failed(let r): return "failed: \(r)"
            case .notChecked(let r): return "not checked: \(r)"
            }
        }
    }

    /// The installed libonnx's version string.
    public static var libonnxVersion: String { String(cString: mcx_onnx_version()) }

    /// The newest opset of `domain` libonnx knows, or nil for a domain it does not know.
    public static func maxOpset(_ domain: String) -> Int64? {
        let v = mcx_max_opset(domain)
        return v < 0 ? nil : Int64(v)
    }

    /// Why libonnx cannot judge `model`, or nil when it can.
    public static func unsupportedReason(_ model: Model) -> String? {
        for o in model.opsetImports {
            let domain = o.domain == "ai.onnx" ? "" : o.domain
            guard let known = maxOpset(domain) else { continue }  // custom domains: checked as far as libonnx can
            if o.version > known {
                return "opset \(o.version)\(domain.isEmpty ? "" : " of '\(domain)'") is newer than libonnx \(libonnxVersion)'s \(known)"
            }
        }
        return nil
    }

    /// Runs libonnx's `check_model` on the file at `path` (whose content is `model`).
    public static func check(path: String, model: Model) -> Outcome {
        if let reason = unsupportedReason(model) { return .notChecked(reason) }
        var error: UnsafeMutablePointer<CChar>? = nil
        let status = mcx_check_model_path(path, &error)
        defer { mcx_free(error) }
        if status == 0 { return .passed }
        return .failed(firstLine(error.map { String(cString: $0) } ?? "unknown error"))
    }

    /// Runs libonnx's shape inference and stores the inferred types on `model`'s values
    /// (main graph). Weights are not serialized for it: large initializers are passed as
    /// typed inputs. `strict` makes node-level inference errors fail.
    public static func inferShapes(_ model: inout Model, strict: Bool = false) -> Outcome {
        if let reason = unsupportedReason(model) { return .notChecked(reason) }
        let bytes = ONNXExporter.serialize(model, inlineLimit: 4096)
        var out: UnsafeMutableRawPointer? = nil
        var outLength = 0
        var error: UnsafeMutablePointer<CChar>? = nil
        let status = bytes.withUnsafeBytes { mcx_infer_shapes($0.baseAddress, $0.count, strict ? 1 : 0, &out, &outLength, &error) }
        defer { mcx_free(error); mcx_free(out) }
        guard status == 0, let out else {
            return .failed(firstLine(error.map { String(cString: $0) } ?? "unknown error"))
        }
        guard let proto = onnx__model_proto__unpack(nil, outLength, out.assumingMemoryBound(to: UInt8.self)) else {
            return .failed("could not read libonnx's result")
        }
        defer { onnx__model_proto__free_unpacked(proto, nil) }
        guard let g = proto.pointee.graph else { return .failed("libonnx returned no graph") }
        let reader = ProtoTypes(path: "shape inference")
        for vi in messages(g.pointee.value_info, g.pointee.n_value_info) + messages(g.pointee.output, g.pointee.n_output) {
            guard let id = model.graph.valueID(named: string(vi.pointee.name)),
                  let t = try? reader.type(vi.pointee.type) else { continue }
            model.graph.setType(t, of: id)
        }
        return .passed
    }

    static func firstLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline)
            .map { line in line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed() }
            .filter { !$0.isEmpty }.map { String($0) }.joined(separator: " ")
    }
}
