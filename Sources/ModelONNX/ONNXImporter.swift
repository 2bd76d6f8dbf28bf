import ModelIR
import ONNXProtoC
import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

/// Options for reading ONNX models.
public struct ONNXImportOptions: Sendable {
    /// Subgraphs (If/Loop/Scan bodies) nested deeper than this are refused.
    public var maxSubgraphDepth = 64
    /// Model-local functions called more deeply than this (a call cycle) are refused.
    public var maxFunctionDepth = 32

    public init() {}
}

/// Reads ONNX models into the IR.
///
/// The file is memory-mapped. Initializers of the main graph borrow their `raw_data`
/// from the mapping and external data files are mapped the same way: importing copies no
/// weights. Everything else is decoded by libprotobuf-c from a slim copy of the metadata.
/// Sparse initializers become dense; model-local functions are inlined at their call
/// sites (the inlined nodes carry the call's name as provenance).
public enum ONNXImporter {
    /// Reads the model at `path`. Throws `ONNXError` naming the file and the tensor or
    /// node at fault: a truncated or malformed file, tensors whose contents disagree with
    /// their dims, external data outside the model's folder or past its file's end,
    /// values defined twice, subgraphs nested past the cap.
    public static func load(path: String, options: ONNXImportOptions = ONNXImportOptions()) throws(ONNXError) -> Model {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .unreadable(file: path, reason: error.reason)
        }
        let slim: SlimModel
        do {
            slim = try SlimModel(file.bytes, maxDepth: options.maxSubgraphDepth)
        } catch {
            switch error {
            case .wire(let w):
                throw .malformed(file: path, reason: Self.describe(w, size: file.bytes.count))
            case .tooDeep(let node):
                throw .nestingTooDeep(file: path, node: node, limit: options.maxSubgraphDepth)
            }
        }
        let proto = slim.bytes.withUnsafeBufferPointer { b in
            onnx__model_proto__unpack(nil, b.count, b.baseAddress)
        }
        guard let proto else {
            throw .malformed(file: path, reason: "protobuf decoding failed (a field has the wrong type or the data is corrupt)")
        }
        defer { onnx__model_proto__free_unpacked(proto, nil) }
        var context = ImportContext(path: path, file: file, slim: slim, options: options)
        return try context.model(proto)
    }

    static func describe(_ failure: WireReader.Failure, size: Int) -> String {
        switch failure {
        case .truncated(let at): return "truncated: a field at byte \(at) runs past the end of the \(size)-byte file"
        case .badWireType(let t, let at): return "unknown wire type \(t) at byte \(at)"
        case .varintTooLong(let at): return "malformed varint at byte \(at)"
        }
    }
}

/// State of one import: the mapped file, external files mapped so far, local functions.
struct ImportContext {
    let path: String
    let file: MappedFile
    let rawData: [Range<Int>?]
    let attributeRawData: [Int: [Int: Range<Int>]]
    let options: ONNXImportOptions
    /// The model's folder, resolved (external data must stay inside it).
    let folder: String
    var externalFiles: [String: MappedFile] = [:]
    var functions: [String: UnsafeMutablePointer<Onnx__FunctionProto>] = [:]
    var extraOpsets: [OpsetImport] = []

    /// A context for decoding lone messages (tensor files): no lifted spans.
    init(path: String, file: MappedFile, rawData: [Range<Int>?], options: ONNXImportOptions) {
        self.init(path: path, file: file, rawData: rawData, attributeRawData: [:], options: options)
    }

    init(path: String, file: MappedFile, slim: SlimModel, options: ONNXImportOptions) {
        self.init(path: path, file: file, rawData: slim.rawData, attributeRawData: slim.attributeRawData, options: options)
    }

    private init(path: String, file: MappedFile, rawData: [Range<Int>?], attributeRawData: [Int: [Int: Range<Int>]],
                 options: ONNXImportOptions) {
        self.path = path
        self.file = file
        self.rawData = rawData
        self.attributeRawData = attributeRawData
        self.options = options
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        self.folder = ImportContext.realPath(dir.isEmpty ? "/" : dir) ?? dir
    }

    mutating func model(_ p: UnsafeMutablePointer<Onnx__ModelProto>) throws(ONNXError) -> Model {
        let m = p.pointee
        guard let graphProto = m.graph else {
            throw .malformed(file: path, reason: "the model has no graph")
        }
        for f in messages(m.functions, m.n_functions) {
            functions[Self.functionKey(string(f.pointee.domain), string(f.pointee.name))] = f
        }
        let opsets = messages(m.opset_import, m.n_opset_import).map {
            OpsetImport(domain: string($0.pointee.domain), version: $0.pointee.has_version != 0 ? $0.pointee.version : 1)
        }
        let graph = try self.graph(graphProto, depth: 1, topLevel: true)
        var model = Model(graph: graph,
                          irVersion: m.has_ir_version != 0 ? m.ir_version : 0,
                          opsetImports: opsets,
                          producerName: string(m.producer_name),
                          producerVersion: string(m.producer_version),
                          domain: string(m.domain),
                          modelVersion: m.has_model_version != 0 ? m.model_version : 0,
                          docString: string(m.doc_string),
                          metadata: messages(m.metadata_props, m.n_metadata_props).map {
                              (key: string($0.pointee.key), value: string($0.pointee.value))
                          })
        if let entry = model.metadata.first(where: { $0.key == ProvenanceMetadata.key }) {
            model.metadata.removeAll { $0.key == ProvenanceMetadata.key }
            let provenance = ProvenanceMetadata.decode(entry.value)
            for (id, node) in model.graph.liveNodes {
                if let sources = provenance[node.name] { model.graph.setProvenance(sources, of: id) }
            }
        }
        for o in extraOpsets where model.opsetVersion(o.domain) == nil {
            model.opsetImports.append(o)
        }
        return model
    }

    static func functionKey(_ domain: String, _ name: String) -> String { domain + "\u{0}" + name }

    // MARK: Graphs

    mutating func graph(_ p: UnsafeMutablePointer<Onnx__GraphProto>, depth: Int, topLevel: Bool) throws(ONNXError) -> Graph {
        let gp = p.pointee
        var g = Graph(name: string(gp.name), docString: string(gp.doc_string))
        let where_ = topLevel ? "graph" : "subgraph '\(g.name)'"
        for vi in messages(gp.input, gp.n_input) {
            let name = string(vi.pointee.name)
            guard g.valueID(named: name) == nil else {
                throw .invalidGraph(file: path, reason: "\(where_): input '\(name)' is declared twice")
            }
            let id = g.addValue(named: name, type: try type(vi.pointee.type))
            g.appendInput(id)
            if vi.pointee.doc_string != nil { g.markValueInfo(id, docString: string(vi.pointee.doc_string)) }
        }
        for (i, t) in messages(gp.initializer, gp.n_initializer).enumerated() {
            let name = string(t.pointee.name)
            let span = topLevel && i < rawData.count ? rawData[i] : nil
            let tensor = try self.tensor(t, rawSpan: span)
            try addInitializer(tensor, named: name, to: &g, where: where_)
        }
        for s in messages(gp.sparse_initializer, gp.n_sparse_initializer) {
            let sparse = try sparseTensor(s)
            let name = string(s.pointee.values?.pointee.name)
            try addInitializer(try densify(sparse, name: name), named: name, to: &g, where: where_)
        }
        try appendNodes(messages(gp.node, gp.n_node), to: &g, depth: depth, rename: [:], call: nil,
                        liftedAttributes: topLevel ? attributeRawData : [:])
        var outputs: [ValueID] = []
        for vi in messages(gp.output, gp.n_output) {
            let name = string(vi.pointee.name)
            let id = g.valueID(named: name) ?? g.addValue(named: name)
            if let t = try type(vi.pointee.type) { g.setType(t, of: id) }
            outputs.append(id)
        }
        g.setOutputs(outputs)
        for vi in messages(gp.value_info, gp.n_value_info) {
            guard let id = g.valueID(named: string(vi.pointee.name)) else { continue }
            if let t = try type(vi.pointee.type) { g.setType(t, of: id) }
            g.markValueInfo(id, docString: string(vi.pointee.doc_string))
        }
        g.quantizationAnnotations = messages(gp.quantization_annotation, gp.n_quantization_annotation).map { a in
            (tensor: string(a.pointee.tensor_name),
             entries: messages(a.pointee.quant_parameter_tensor_names, a.pointee.n_quant_parameter_tensor_names)
                .map { (string($0.pointee.key), string($0.pointee.value)) })
        }
        return g
    }

    func addInitializer(_ tensor: Tensor, named name: String, to g: inout Graph, where where_: String) throws(ONNXError) {
        if let id = g.valueID(named: name) {
            guard g[value: id].isGraphInput, g[value: id].initializer == nil else {
                throw .invalidGraph(file: path, reason: "\(where_): initializer '\(name)' is defined twice")
            }
            g.setInitializer(tensor, of: id)
        } else {
            let id = g.addValue(named: name)
            g.setInitializer(tensor, of: id)
        }
    }

    /// A function call being inlined: the caller's node and attributes.
    struct Call {
        let node: String
        let attributes: [String: Attribute]
        let depth: Int
    }

    /// Appends `nodes` to `g`. Every output is created first, so inputs may name values of
    /// nodes later in the list (the verifier reports the order). `rename` maps names of an
    /// inlined function body to the caller's values; `call` is set inside such a body.
    mutating func appendNodes(_ nodes: [UnsafeMutablePointer<Onnx__NodeProto>], to g: inout Graph, depth: Int,
                              rename: [String: ValueID], call: Call?,
                              liftedAttributes: [Int: [Int: Range<Int>]] = [:]) throws(ONNXError) {
        var local = rename
        let prefix = call.map { $0.node + "/" } ?? ""
        var outputsOf: [[ValueID?]] = []
        outputsOf.reserveCapacity(nodes.count)
        for (k, n) in nodes.enumerated() {
            let nodeName = string(n.pointee.name)
            var outs: [ValueID?] = []
            for o in items(n.pointee.output, n.pointee.n_output) {
                let name = string(o)
                if name.isEmpty { outs.append(nil); continue }
                if call != nil {
                    if let mapped = rename[name] { outs.append(mapped); continue }
                    let id = g.addValue(named: g.uniqueName(prefix + name))
                    local[name] = id
                    outs.append(id)
                    continue
                }
                if let existing = g.valueID(named: name) {
                    let who = displayName(nodeName, n, k)
                    let other = g[value: existing].producer.map { g[node: $0].name }
                    throw .invalidGraph(file: path, reason: "value '\(name)' produced by node '\(who)' is already defined"
                                        + (other.map { " by node '\($0)'" } ?? " as an input or initializer"))
                }
                outs.append(g.addValue(named: name))
            }
            outputsOf.append(outs)
        }
        for (k, n) in nodes.enumerated() {
            let np = n.pointee
            let name = call == nil ? string(np.name) : prefix + string(np.name)
            var ins: [ValueID?] = []
            for i in items(np.input, np.n_input) {
                let inName = string(i)
                if inName.isEmpty { ins.append(nil); continue }
                if let id = local[inName] ?? (call == nil ? g.valueID(named: inName) : nil) {
                    ins.append(id)
                } else if call != nil {
                    throw .invalidNode(file: path, node: name, reason: "input '\(inName)' is not defined in its function body")
                } else {
                    ins.append(g.addValue(named: inName))  // an outer-scope reference (or undefined)
                }
            }
            var attrs: [Attribute] = []
            let lifted = liftedAttributes[k] ?? [:]
            for (ai, a) in messages(np.attribute, np.n_attribute).enumerated() {
                if let call, let ref = a.pointee.ref_attr_name, !string(ref).isEmpty {
                    if var bound = call.attributes[string(ref)] {
                        bound.name = string(a.pointee.name)
                        attrs.append(bound)
                    }
                    continue
                }
                attrs.append(try attribute(a, node: name, depth: depth, rawSpan: lifted[ai]))
            }
            let domain = string(np.domain), opType = string(np.op_type)
            let provenance = call.map { [$0.node] } ?? [displayName(string(np.name), n, k)]
            if let f = functions[Self.functionKey(domain, opType)] {
                try inline(f, name: name, inputs: ins, outputs: outputsOf[k], attributes: attrs,
                           into: &g, depth: depth, callDepth: (call?.depth ?? 0) + 1)
                continue
            }
            g.appendNode(opType, domain: domain, name: name, inputs: ins, outputs: outputsOf[k],
                         attributes: attrs, provenance: provenance, docString: string(np.doc_string))
        }
    }

    func displayName(_ name: String, _ n: UnsafeMutablePointer<Onnx__NodeProto>, _ index: Int) -> String {
        name.isEmpty ? "\(string(n.pointee.op_type))_\(index)" : name
    }

    /// Expands a call of a model-local function in place.
    mutating func inline(_ f: UnsafeMutablePointer<Onnx__FunctionProto>, name: String, inputs: [ValueID?],
                         outputs: [ValueID?], attributes: [Attribute], into g: inout Graph,
                         depth: Int, callDepth: Int) throws(ONNXError) {
        guard callDepth <= options.maxFunctionDepth else {
            throw .invalidNode(file: path, node: name,
                               reason: "function calls nested deeper than \(options.maxFunctionDepth) (a recursive function?)")
        }
        let fp = f.pointee
        var rename: [String: ValueID] = [:]
        for (i, formal) in items(fp.input, fp.n_input).enumerated() where i < inputs.count {
            if let v = inputs[i] { rename[string(formal)] = v }
        }
        for (i, formal) in items(fp.output, fp.n_output).enumerated() where i < outputs.count {
            if let v = outputs[i] { rename[string(formal)] = v }
        }
        for o in messages(fp.opset_import, fp.n_opset_import) {
            let d = string(o.pointee.domain)
            if !extraOpsets.contains(where: { $0.domain == d }) {
                extraOpsets.append(OpsetImport(domain: d, version: o.pointee.version))
            }
        }
        let bound = Dictionary(attributes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        try appendNodes(messages(fp.node, fp.n_node), to: &g, depth: depth, rename: rename,
                        call: Call(node: name, attributes: bound, depth: callDepth))
    }

    // MARK: Attributes

    /// `rawSpan`: the lifted raw_data of the attribute's tensor (`t`), for main-graph nodes.
    mutating func attribute(_ p: UnsafeMutablePointer<Onnx__AttributeProto>, node: String, depth: Int,
                            rawSpan: Range<Int>? = nil) throws(ONNXError) -> Attribute {
        let a = p.pointee
        let name = string(a.name)
        var kind = a.has_type != 0 ? Int(a.type.rawValue) : 0
        if kind == 0 {  // IR < 2 models leave the type out: infer it from the field set
            if a.has_f != 0 { kind = 1 } else if a.has_i != 0 { kind = 2 } else if a.has_s != 0 { kind = 3 }
            else if a.t != nil { kind = 4 } else if a.g != nil { kind = 5 } else if a.n_floats > 0 { kind = 6 }
            else if a.n_ints > 0 { kind = 7 } else if a.n_strings > 0 { kind = 8 } else if a.n_tensors > 0 { kind = 9 }
            else if a.n_graphs > 0 { kind = 10 }
        }
        let value: AttributeValue
        switch kind {
        case 1: value = .float(a.f)
        case 2: value = .int(a.i)
        case 3: value = .string(bytes(a.s))
        case 4:
            guard let t = a.t else { throw .invalidNode(file: path, node: node, reason: "attribute '\(name)' has no tensor") }
            value = .tensor(try tensor(t, rawSpan: rawSpan))
        case 5:
            guard let sub = a.g else { throw .invalidNode(file: path, node: node, reason: "attribute '\(name)' has no graph") }
            value = .graph(try subgraph(sub, node: node, depth: depth))
        case 11:
            guard let s = a.sparse_tensor else { throw .invalidNode(file: path, node: node, reason: "attribute '\(name)' has no sparse tensor") }
            value = .sparseTensor(try sparseTensor(s))
        case 13:
            guard let t = try type(a.tp) else { throw .invalidNode(file: path, node: node, reason: "attribute '\(name)' has no type") }
            value = .type(t)
        case 6: value = .floats(Array(items(a.floats, a.n_floats)))
        case 7: value = .ints(Array(items(a.ints, a.n_ints)))
        case 8: value = .strings(items(a.strings, a.n_strings).map(bytes))
        case 9:
            var ts: [Tensor] = []
            for t in messages(a.tensors, a.n_tensors) { ts.append(try tensor(t, rawSpan: nil)) }
            value = .tensors(ts)
        case 10:
            var gs: [Graph] = []
            for sub in messages(a.graphs, a.n_graphs) { gs.append(try subgraph(sub, node: node, depth: depth)) }
            value = .graphs(gs)
        case 12:
            var ss: [SparseTensor] = []
            for s in messages(a.sparse_tensors, a.n_sparse_tensors) { ss.append(try sparseTensor(s)) }
            value = .sparseTensors(ss)
        case 14:
            var ts: [ValueType] = []
            for t in messages(a.type_protos, a.n_type_protos) { if let vt = try type(t) { ts.append(vt) } }
            value = .types(ts)
        default:
            throw .invalidNode(file: path, node: node, reason: "attribute '\(name)' has unknown type \(kind)")
        }
        return Attribute(name, value, docString: string(a.doc_string))
    }

    mutating func subgraph(_ p: UnsafeMutablePointer<Onnx__GraphProto>, node: String, depth: Int) throws(ONNXError) -> Graph {
        guard depth + 1 <= options.maxSubgraphDepth else {
            throw .nestingTooDeep(file: path, node: node, limit: options.maxSubgraphDepth)
        }
        return try graph(p, depth: depth + 1, topLevel: false)
    }

    func type(_ p: UnsafeMutablePointer<Onnx__TypeProto>?) throws(ONNXError) -> ValueType? {
        try ProtoTypes(path: path).type(p)
    }

    func dtype(_ raw: Int32, what: String, tensor: String = "") throws(ONNXError) -> DType {
        try ProtoTypes(path: path).dtype(raw, what: what, tensor: tensor)
    }

    // MARK: Tensors

    /// Converts a TensorProto. `rawSpan` is the lifted raw_data of a main-graph initializer.
    mutating func tensor(_ p: UnsafeMutablePointer<Onnx__TensorProto>, rawSpan: Range<Int>?) throws(ONNXError) -> Tensor {
        let t = p.pointee
        let name = string(t.name)
        let dtype = try self.dtype(t.has_data_type != 0 ? t.data_type : 0, what: "tensor", tensor: name)
        var dims: [Int] = []
        for d in items(t.dims, t.n_dims) {
            guard d >= 0 else { throw .invalidTensor(file: path, tensor: name, reason: "negative dimension \(d)") }
            dims.append(Int(d))
        }
        guard let count = Shape.elementCount(of: dims) else {
            throw .invalidTensor(file: path, tensor: name, reason: "the element count of dims \(dims) overflows a 64-bit integer")
        }
        if t.segment != nil {
            throw .invalidTensor(file: path, tensor: name, reason: "segmented tensors are not supported")
        }
        let storage: TensorStorage
        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            storage = try external(t, name: name, dtype: dtype, count: count)
        } else if let rawSpan {
            storage = .mapped(file, offset: rawSpan.lowerBound, count: rawSpan.count)
        } else if t.has_raw_data != 0 {
            storage = .owned(bytes(t.raw_data))
        } else {
            storage = try typedData(t, name: name, dtype: dtype, count: count)
        }
        do {
            return try Tensor(dtype: dtype, dims: dims, storage: storage, name: name, docString: string(t.doc_string))
        } catch {
            throw .invalidTensor(file: path, tensor: name, reason: error.reason)
        }
    }

    /// Decodes the typed `*_data` fields into raw little-endian bytes.
    func typedData(_ t: Onnx__TensorProto, name: String, dtype: DType, count: Int) throws(ONNXError) -> TensorStorage {
        func check(_ found: Int, _ field: String, expected: Int) throws(ONNXError) {
            guard found == expected else {
                throw .invalidTensor(file: path, tensor: name,
                                     reason: "dims need \(expected) values in \(field), found \(found)")
            }
        }
        func raw<T>(_ values: UnsafeBufferPointer<T>, as _: T.Type) -> [UInt8] {
            Array(UnsafeRawBufferPointer(values))
        }
        switch dtype {
        case .float32, .complex64:
            let v = items(t.float_data, t.n_float_data)
            try check(v.count, "float_data", expected: dtype == .complex64 ? count * 2 : count)
            return .owned(raw(v, as: Float.self))
        case .float64, .complex128:
            let v = items(t.double_data, t.n_double_data)
            try check(v.count, "double_data", expected: dtype == .complex128 ? count * 2 : count)
            return .owned(raw(v, as: Double.self))
        case .int64:
            let v = items(t.int64_data, t.n_int64_data)
            try check(v.count, "int64_data", expected: count)
            return .owned(raw(v, as: Int64.self))
        case .uint64:
            let v = items(t.uint64_data, t.n_uint64_data)
            try check(v.count, "uint64_data", expected: count)
            return .owned(raw(v, as: UInt64.self))
        case .uint32:
            let v = items(t.uint64_data, t.n_uint64_data)
            try check(v.count, "uint64_data", expected: count)
            let narrowed = v.map { UInt32(truncatingIfNeeded: $0) }
            return .owned(narrowed.withUnsafeBytes { Array($0) })
        case .int32:
            let v = items(t.int32_data, t.n_int32_data)
            try check(v.count, "int32_data", expected: count)
            return .owned(raw(v, as: Int32.self))
        case .int16, .uint16, .float16, .bfloat16:
            let v = items(t.int32_data, t.n_int32_data)
            try check(v.count, "int32_data", expected: count)
            var out = [UInt8](); out.reserveCapacity(count * 2)
            for x in v { let u = UInt16(truncatingIfNeeded: x); out.append(UInt8(u & 0xff)); out.append(UInt8(u >> 8)) }
            return .owned(out)
        case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            let v = items(t.int32_data, t.n_int32_data)
            try check(v.count, "int32_data", expected: count)
            return .owned(v.map { UInt8(truncatingIfNeeded: $0) })
        case .int4, .uint4, .float4e2m1, .int2, .uint2:
            // Packed: each int32_data entry holds one byte of 2 (4-bit) or 4 (2-bit) elements.
            let perByte = dtype == .int2 || dtype == .uint2 ? 4 : 2
            let v = items(t.int32_data, t.n_int32_data)
            try check(v.count, "int32_data", expected: (count + perByte - 1) / perByte)
            return .owned(v.map { UInt8(truncatingIfNeeded: $0) })
        case .string:
            let v = items(t.string_data, t.n_string_data)
            try check(v.count, "string_data", expected: count)
            return .strings(v.map(bytes))
        case .undefined:
            throw .invalidTensor(file: path, tensor: name, reason: "data type is undefined (0)")
        }
    }

    /// Maps external data after checking that it stays inside the model's folder.
    mutating func external(_ t: Onnx__TensorProto, name: String, dtype: DType, count: Int) throws(ONNXError) -> TensorStorage {
        var location = "", offset = 0, length: Int? = nil
        for e in messages(t.external_data, t.n_external_data) {
            let key = string(e.pointee.key), value = string(e.pointee.value)
            switch key {
            case "location": location = value
            case "offset", "length":
                guard let n = Int(value), n >= 0 else {
                    throw .externalData(file: path, tensor: name, location: location, reason: "\(key) '\(value)' is not a non-negative integer")
                }
                if key == "offset" { offset = n } else { length = n }
            default: break  // "checksum" and future keys
            }
        }
        func fail(_ reason: String) -> ONNXError { .externalData(file: path, tensor: name, location: location, reason: reason) }
        guard !location.isEmpty else { throw fail("no location given") }
        guard !location.hasPrefix("/"), !location.contains("\\"), !location.contains("\u{0}"),
              !(location.count >= 2 && location.dropFirst().first == ":") else {
            throw fail("the location must be a relative path inside the model's folder")
        }
        guard !location.split(separator: "/", omittingEmptySubsequences: false).contains("..") else {
            throw fail("the location must not contain '..'")
        }
        let full = folder + "/" + location
        guard let resolved = Self.realPath(full) else { throw fail("the file does not exist") }
        guard resolved.hasPrefix(folder == "/" ? "/" : folder + "/") else {
            throw fail("the file resolves outside the model's folder (through a symbolic link)")
        }
        let mapped: MappedFile
        if let cached = externalFiles[resolved] {
            mapped = cached
        } else {
            do { mapped = try MappedFile(path: resolved) } catch { throw fail(error.reason) }
            externalFiles[resolved] = mapped
        }
        let size = mapped.bytes.count
        guard offset <= size else { throw fail("offset \(offset) is past the end of the \(size)-byte file") }
        let available = size - offset
        let n = length ?? available
        guard n <= available else {
            throw fail("offset \(offset) + length \(n) is past the end of the \(size)-byte file")
        }
        if dtype == .string { throw fail("string tensors cannot be stored externally") }
        if let expected = dtype.byteCount(elements: count), expected != n {
            throw fail("dims need \(expected) bytes, the external data holds \(n)")
        }
        return .mapped(mapped, offset: offset, count: n)
    }

    mutating func sparseTensor(_ p: UnsafeMutablePointer<Onnx__SparseTensorProto>) throws(ONNXError) -> SparseTensor {
        let s = p.pointee
        let name = string(s.values?.pointee.name)
        guard let v = s.values, let i = s.indices else {
            throw .invalidTensor(file: path, tensor: name, reason: "sparse tensor without values or indices")
        }
        let values = try tensor(v, rawSpan: nil)
        let indices = try tensor(i, rawSpan: nil)
        var dims: [Int] = []
        for d in items(s.dims, s.n_dims) {
            guard d >= 0 else { throw .invalidTensor(file: path, tensor: name, reason: "negative dimension \(d)") }
            dims.append(Int(d))
        }
        return SparseTensor(values: values, indices: indices, dims: dims)
    }

    /// The dense form of a COO sparse tensor (indices linearized [NNZ] or [NNZ, rank]).
    func densify(_ s: SparseTensor, name: String) throws(ONNXError) -> Tensor {
        func fail(_ r: String) -> ONNXError { .invalidTensor(file: path, tensor: name, reason: r) }
        guard let total = Shape.elementCount(of: s.dims), let width = s.values.dtype.bitWidth, width % 8 == 0 else {
            throw fail("cannot densify a sparse \(s.values.dtype) tensor of dims \(s.dims)")
        }
        let size = width / 8
        guard let totalBytes = s.values.dtype.byteCount(elements: total), totalBytes <= (1 << 34) else {
            throw fail("dense size of dims \(s.dims) is too large")
        }
        guard s.indices.dtype == .int64 else { throw fail("sparse indices must be int64") }
        let nnz = s.values.elementCount ?? 0
        let linear = s.indices.dims.count == 1
        guard (linear && s.indices.dims == [nnz]) || s.indices.dims == [nnz, s.dims.count] else {
            throw fail("sparse indices of dims \(s.indices.dims) do not match \(nnz) values of rank \(s.dims.count)")
        }
        var out = [UInt8](repeating: 0, count: totalBytes)
        var strides = [Int](repeating: 1, count: s.dims.count)
        for k in stride(from: s.dims.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * s.dims[k + 1] }
        let bad: String? = s.indices.withUnsafeBytes { ib in
            s.values.withUnsafeBytes { vb in
                let idx = ib.bindMemory(to: Int64.self)
                for k in 0..<nnz {
                    var flat = 0
                    if linear { flat = Int(idx[k]) } else {
                        for d in 0..<s.dims.count {
                            let i = Int(idx[k * s.dims.count + d])
                            guard i >= 0 && i < s.dims[d] else { return "index \(i) out of range in dimension \(d)" }
                            flat += i * strides[d]
                        }
                    }
                    guard flat >= 0 && flat < total else { return "index \(flat) out of range" }
                    for b in 0..<size { out[flat * size + b] = vb[k * size + b] }
                }
                return nil
            }
        }
        if let bad { throw fail(bad) }
        return Tensor(unchecked: s.values.dtype, dims: s.dims, storage: .owned(out), name: name)
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}

/// Reads TypeProto messages (shared by the importer and shape inference).
struct ProtoTypes {
    let path: String

    func type(_ p: UnsafeMutablePointer<Onnx__TypeProto>?) throws(ONNXError) -> ValueType? {
        guard let p else { return nil }
        let t = p.pointee
        switch t.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let tt = t.tensor_type else { return nil }
            return .tensor(try dtype(tt.pointee.elem_type, what: "type"), shape(tt.pointee.shape))
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            guard let tt = t.sparse_tensor_type else { return nil }
            return .sparseTensor(try dtype(tt.pointee.elem_type, what: "type"), shape(tt.pointee.shape))
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            return .sequence(try type(t.sequence_type?.pointee.elem_type))
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            return .optional(try type(t.optional_type?.pointee.elem_type))
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            guard let mt = t.map_type else { return nil }
            return .map(key: try dtype(mt.pointee.key_type, what: "map key"), value: try type(mt.pointee.value_type))
        default:
            return nil
        }
    }

    func shape(_ p: UnsafeMutablePointer<Onnx__TensorShapeProto>?) -> Shape? {
        guard let p else { return nil }
        return Shape(messages(p.pointee.dim, p.pointee.n_dim).map { d -> Dim in
            switch d.pointee.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                // Kept as written, -1 included (PaddlePaddle's dynamic dim), so the file
                // round-trips; `Dim.value` treats a negative dim as unknown.
                return .known(Int(d.pointee.dim_value))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                let s = string(d.pointee.dim_param)
                return s.isEmpty ? .unknown : .symbolic(s)
            default: return .unknown
            }
        })
    }

    func dtype(_ raw: Int32, what: String, tensor: String = "") throws(ONNXError) -> DType {
        guard let d = DType(rawValue: raw) else {
            if tensor.isEmpty { throw .malformed(file: path, reason: "unknown element type \(raw) in a \(what)") }
            throw .invalidTensor(file: path, tensor: tensor, reason: "unknown data type \(raw)")
        }
        return d
    }

}
