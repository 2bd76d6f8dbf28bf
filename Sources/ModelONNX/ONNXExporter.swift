import ModelIR
import ONNXProtoC
import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

/// Options for writing ONNX models.
public struct ONNXExportOptions: Sendable {
    /// When initializers go to an external-data file beside the model.
    public enum ExternalData: Sendable {
        /// Only when the model would not fit protobuf's 2 GiB message limit.
        case automatic
        /// Always (tensors of at least `sizeThreshold` bytes).
        case always
        /// Never: a model over 2 GiB then fails to write.
        case never
    }
    public var externalData: ExternalData = .automatic
    /// Initializers smaller than this stay inside the model file (onnx's default: 1024).
    public var sizeThreshold = 1024
    /// The external-data file name, relative to the model; default `<model file name>.data`.
    public var location: String? = nil

    public init() {}
}

/// Writes the IR as ONNX with libprotobuf-c.
///
/// The output is deterministic: nodes in the graph's order (made topological, keeping the
/// existing order where dependencies allow), values and initializers in ID order, fields in
/// field-number order. Tensor bytes are streamed from their storage (mapped weights are
/// never copied into memory). Files are written to a temporary name in the destination
/// folder and renamed into place only when complete.
public enum ONNXExporter {
    /// protobuf's hard limit for one message; models past it need external data.
    public static let protobufLimit = Int(Int32.max)

    /// Writes `model` to `path` (and, with external data, `<location>` beside it).
    public static func write(_ model: Model, to path: String, options: ONNXExportOptions = ONNXExportOptions()) throws(ONNXError) {
        var graph = model.graph
        let cycle = graph.sortTopologically()
        if !cycle.isEmpty {
            throw .invalidGraph(file: path, reason: "node '\(graph[node: cycle[0]].name)' is on a cycle")
        }
        var model = model
        model.graph = graph
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let location = options.location ?? fileName + ".data"

        let large = graph.initializers.filter { id in
            guard let t = graph[value: id].initializer, t.dtype != .string else { return false }
            return t.byteCount >= options.sizeThreshold
        }
        let totalBytes = graph.initializers.reduce(0) { $0 + (graph[value: $1].initializer?.byteCount ?? 0) }
        let external: Bool
        switch options.externalData {
        case .always: external = true
        case .never: external = false
        case .automatic: external = totalBytes > protobufLimit - (64 << 20)
        }

        var temps: [String] = []
        var renames: [(String, String)] = []
        func cleanup() { for t in temps { unlink(t) } }

        var placement: [ValueID: (offset: Int, length: Int)] = [:]
        if external && !large.isEmpty {
            let dataPath = dir + "/" + location
            let (tmp, fd) = try makeTemp(near: dataPath)
            temps.append(tmp)
            let sink = FileSink(fd: fd)
            sink.releasing = mappedFiles(graph)
            for id in large {
                let t = graph[value: id].initializer!
                // Page-align big tensors so consumers can map them; 64 bytes otherwise.
                let align = t.byteCount >= (1 << 20) ? 4096 : 64
                let padding = (align - sink.written % align) % align
                sink.pad(padding)
                placement[id] = (sink.written, t.byteCount)
                t.withUnsafeBytes { sink.write($0) }
            }
            sink.flush()
            close(fd)
            if let f = sink.failure { cleanup(); throw .writeFailed(file: dataPath, reason: f) }
            renames.append((tmp, dataPath))
        }

        let arena = CArena()
        var builder = ProtoBuilder(arena: arena, external: placement, location: location)
        let proto = builder.model(model)
        let size = withExtendedLifetime(model) { onnx__model_proto__get_packed_size(proto) }
        if size > protobufLimit {
            cleanup()
            throw .writeFailed(file: path, reason: "the model is \(size) bytes, over protobuf's 2 GiB limit; write it with external data")
        }
        let (tmp, fd): (String, Int32)
        do { (tmp, fd) = try makeTemp(near: path) } catch { cleanup(); throw error }
        temps.append(tmp)
        let sink = FileSink(fd: fd)
        sink.releasing = mappedFiles(graph)
        withExtendedLifetime(model) { pack(proto, into: sink) }
        sink.flush()
        let closed = close(fd)
        if let f = sink.failure ?? (closed != 0 ? String(cString: strerror(errno)) : nil) {
            cleanup()
            throw .writeFailed(file: path, reason: f)
        }
        renames.append((tmp, path))
        for (from, to) in renames {
            guard rename(from, to) == 0 else {
                let reason = String(cString: strerror(errno))
                cleanup()
                throw .writeFailed(file: to, reason: reason)
            }
        }
    }

    /// The distinct mapped files the main graph's initializers borrow from.
    static func mappedFiles(_ g: Graph) -> [MappedFile] {
        var seen = Set<ObjectIdentifier>(), out: [MappedFile] = []
        for id in g.initializers {
            if case .mapped(let file, _, _)? = g[value: id].initializer?.storage, seen.insert(ObjectIdentifier(file)).inserted {
                out.append(file)
            }
        }
        return out
    }

    /// The model serialized in memory (no external data). `inlineLimit`: initializers of
    /// more bytes are written as typed graph inputs without data, which is all that shape
    /// inference needs of weights (nil: write every initializer).
    public static func serialize(_ model: Model, inlineLimit: Int? = nil) -> [UInt8] {
        let arena = CArena()
        var builder = ProtoBuilder(arena: arena, external: [:], location: "")
        builder.inlineLimit = inlineLimit
        var graph = model.graph
        graph.sortTopologically()
        var m = model
        m.graph = graph
        let proto = builder.model(m)
        return withExtendedLifetime(m) {
            let size = onnx__model_proto__get_packed_size(proto)
            var out = [UInt8](repeating: 0, count: size)
            _ = out.withUnsafeMutableBufferPointer { onnx__model_proto__pack(proto, $0.baseAddress) }
            return out
        }
    }

    /// Creates a temporary file beside `path` (same folder, so rename is atomic).
    static func makeTemp(near path: String) throws(ONNXError) -> (String, Int32) {
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let base = path.split(separator: "/").last.map(String.init) ?? path
        var template = ((dir.isEmpty ? "/" : dir + "/") + "." + base + ".tmp-XXXXXX").utf8CString
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .writeFailed(file: path, reason: String(cString: strerror(errno))) }
        fchmod(fd, 0o644)
        let name = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (name, fd)
    }

    /// Streams the packed message into `sink` without building it in memory.
    static func pack(_ proto: UnsafeMutablePointer<Onnx__ModelProto>, into sink: FileSink) {
        let stride = MemoryLayout<ProtobufCBuffer>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stride + MemoryLayout<UnsafeRawPointer>.size,
                                                   alignment: MemoryLayout<ProtobufCBuffer>.alignment)
        defer { raw.deallocate() }
        let buffer = raw.bindMemory(to: ProtobufCBuffer.self, capacity: 1)
        buffer.pointee.append = { buf, len, data in
            let ctx = UnsafeRawPointer(buf!).load(fromByteOffset: MemoryLayout<ProtobufCBuffer>.stride,
                                                  as: UnsafeRawPointer.self)
            Unmanaged<FileSink>.fromOpaque(ctx).takeUnretainedValue().write(data, len)
        }
        raw.storeBytes(of: UnsafeRawPointer(Unmanaged.passUnretained(sink).toOpaque()),
                       toByteOffset: stride, as: UnsafeRawPointer.self)
        withExtendedLifetime(sink) { _ = onnx__model_proto__pack_to_buffer(proto, buffer) }
    }
}

/// Builds protobuf-c messages from the IR inside an arena.
struct ProtoBuilder {
    let arena: CArena
    let external: [ValueID: (offset: Int, length: Int)]
    let location: String
    var inlineLimit: Int? = nil

    mutating func model(_ m: Model) -> UnsafeMutablePointer<Onnx__ModelProto> {
        let p: UnsafeMutablePointer<Onnx__ModelProto> = arena.message(onnx__model_proto__init)
        p.pointee.has_ir_version = 1
        p.pointee.ir_version = m.irVersion
        let opsets = m.opsetImports.map { o -> UnsafeMutablePointer<Onnx__OperatorSetIdProto>? in
            let q: UnsafeMutablePointer<Onnx__OperatorSetIdProto> = arena.message(onnx__operator_set_id_proto__init)
            q.pointee.domain = arena.cString(o.domain, emptyIsNull: false)
            q.pointee.has_version = 1
            q.pointee.version = o.version
            return q
        }
        p.pointee.n_opset_import = opsets.count
        p.pointee.opset_import = arena.array(opsets)
        p.pointee.producer_name = arena.cString(m.producerName)
        p.pointee.producer_version = arena.cString(m.producerVersion)
        p.pointee.domain = arena.cString(m.domain)
        if m.modelVersion != 0 {
            p.pointee.has_model_version = 1
            p.pointee.model_version = m.modelVersion
        }
        p.pointee.doc_string = arena.cString(m.docString)
        var metadata = m.metadata.filter { $0.key != ProvenanceMetadata.key }
        if let provenance = ProvenanceMetadata.encode(m.graph) { metadata.append((ProvenanceMetadata.key, provenance)) }
        let meta = metadata.map { entry($0.key, $0.value) }
        p.pointee.n_metadata_props = meta.count
        p.pointee.metadata_props = arena.array(meta)
        p.pointee.graph = graph(m.graph, topLevel: true)
        return p
    }

    func entry(_ key: String, _ value: String) -> UnsafeMutablePointer<Onnx__StringStringEntryProto>? {
        let e: UnsafeMutablePointer<Onnx__StringStringEntryProto> = arena.message(onnx__string_string_entry_proto__init)
        e.pointee.key = arena.cString(key, emptyIsNull: false)
        e.pointee.value = arena.cString(value, emptyIsNull: false)
        return e
    }

    mutating func graph(_ g: Graph, topLevel: Bool) -> UnsafeMutablePointer<Onnx__GraphProto> {
        let p: UnsafeMutablePointer<Onnx__GraphProto> = arena.message(onnx__graph_proto__init)
        p.pointee.name = arena.cString(g.name)
        p.pointee.doc_string = arena.cString(g.docString)
        var nodes: [UnsafeMutablePointer<Onnx__NodeProto>?] = []
        nodes.reserveCapacity(g.order.count)
        for (_, n) in g.liveNodes { nodes.append(node(n, in: g)) }
        p.pointee.n_node = nodes.count
        p.pointee.node = arena.array(nodes)

        var inputs = g.inputs.map { valueInfo(g[value: $0]) }
        var initializers: [UnsafeMutablePointer<Onnx__TensorProto>?] = []
        for id in g.initializers {
            let v = g[value: id]
            guard let t = v.initializer else { continue }
            if topLevel, let limit = inlineLimit, t.byteCount > limit {
                // Shape-inference form: a typed input instead of the data.
                if !v.isGraphInput { inputs.append(valueInfo(v)) }
                continue
            }
            initializers.append(tensor(t, name: v.name, placement: topLevel ? external[id] : nil))
        }
        p.pointee.n_input = inputs.count
        p.pointee.input = arena.array(inputs)
        p.pointee.n_initializer = initializers.count
        p.pointee.initializer = arena.array(initializers)
        let outputs = g.outputs.map { valueInfo(g[value: $0]) }
        p.pointee.n_output = outputs.count
        p.pointee.output = arena.array(outputs)
        let outputSet = Set(g.outputs)
        var infos: [UnsafeMutablePointer<Onnx__ValueInfoProto>?] = []
        for (i, v) in g.values.enumerated() where !outputSet.contains(ValueID(i)) && !v.isGraphInput {
            let declared = v.hasValueInfo && (v.producer != nil || v.isOuterReference || v.initializer != nil)
            if declared || (v.producer != nil && v.type != nil) { infos.append(valueInfo(v)) }
        }
        p.pointee.n_value_info = infos.count
        p.pointee.value_info = arena.array(infos)
        let annotations = g.quantizationAnnotations.map { a -> UnsafeMutablePointer<Onnx__TensorAnnotation>? in
            let q: UnsafeMutablePointer<Onnx__TensorAnnotation> = arena.message(onnx__tensor_annotation__init)
            q.pointee.tensor_name = arena.cString(a.tensor)
            let entries = a.entries.map { entry($0.0, $0.1) }
            q.pointee.n_quant_parameter_tensor_names = entries.count
            q.pointee.quant_parameter_tensor_names = arena.array(entries)
            return q
        }
        p.pointee.n_quantization_annotation = annotations.count
        p.pointee.quantization_annotation = arena.array(annotations)
        return p
    }

    mutating func node(_ n: Node, in g: Graph) -> UnsafeMutablePointer<Onnx__NodeProto>? {
        let p: UnsafeMutablePointer<Onnx__NodeProto> = arena.message(onnx__node_proto__init)
        let ins = n.inputs.map { arena.cString($0.map { g[value: $0].name } ?? "", emptyIsNull: false) }
        let outs = n.outputs.map { arena.cString($0.map { g[value: $0].name } ?? "", emptyIsNull: false) }
        p.pointee.n_input = ins.count
        p.pointee.input = arena.array(ins)
        p.pointee.n_output = outs.count
        p.pointee.output = arena.array(outs)
        p.pointee.name = arena.cString(n.name)
        p.pointee.op_type = arena.cString(n.opType, emptyIsNull: false)
        p.pointee.domain = arena.cString(n.domain)
        p.pointee.doc_string = arena.cString(n.docString)
        var attrs: [UnsafeMutablePointer<Onnx__AttributeProto>?] = []
        for a in n.attributes { attrs.append(attribute(a)) }
        p.pointee.n_attribute = attrs.count
        p.pointee.attribute = arena.array(attrs)
        return p
    }

    mutating func attribute(_ a: Attribute) -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p: UnsafeMutablePointer<Onnx__AttributeProto> = arena.message(onnx__attribute_proto__init)
        p.pointee.name = arena.cString(a.name, emptyIsNull: false)
        p.pointee.doc_string = arena.cString(a.docString)
        p.pointee.has_type = 1
        func kind(_ k: UInt32) { p.pointee.type = Onnx__AttributeProto__AttributeType(rawValue: k) }
        switch a.value {
        case .float(let f): kind(1); p.pointee.has_f = 1; p.pointee.f = f
        case .int(let i): kind(2); p.pointee.has_i = 1; p.pointee.i = i
        case .string(let s):
            kind(3); p.pointee.has_s = 1
            let (len, data) = arena.binary(s)
            p.pointee.s = ProtobufCBinaryData(len: len, data: data)
        case .tensor(let t): kind(4); p.pointee.t = tensor(t, name: t.name, placement: nil)
        case .graph(let g): kind(5); p.pointee.g = graph(g, topLevel: false)
        case .sparseTensor(let s): kind(11); p.pointee.sparse_tensor = sparse(s)
        case .type(let t): kind(13); p.pointee.tp = type(t)
        case .floats(let fs): kind(6); p.pointee.n_floats = fs.count; p.pointee.floats = arena.array(fs)
        case .ints(let xs): kind(7); p.pointee.n_ints = xs.count; p.pointee.ints = arena.array(xs)
        case .strings(let ss):
            kind(8)
            let items = ss.map { s -> ProtobufCBinaryData in
                let (len, data) = arena.binary(s)
                return ProtobufCBinaryData(len: len, data: data)
            }
            p.pointee.n_strings = items.count
            p.pointee.strings = arena.array(items)
        case .tensors(let ts):
            kind(9)
            let items = ts.map { Optional(tensor($0, name: $0.name, placement: nil)) }
            p.pointee.n_tensors = items.count
            p.pointee.tensors = arena.array(items)
        case .graphs(let gs):
            kind(10)
            var items: [UnsafeMutablePointer<Onnx__GraphProto>?] = []
            for g in gs { items.append(graph(g, topLevel: false)) }
            p.pointee.n_graphs = items.count
            p.pointee.graphs = arena.array(items)
        case .sparseTensors(let ss):
            kind(12)
            let items = ss.map { Optional(sparse($0)) }
            p.pointee.n_sparse_tensors = items.count
            p.pointee.sparse_tensors = arena.array(items)
        case .types(let ts):
            kind(14)
            let items = ts.map { type($0) }
            p.pointee.n_type_protos = items.count
            p.pointee.type_protos = arena.array(items)
        }
        return p
    }

    func sparse(_ s: SparseTensor) -> UnsafeMutablePointer<Onnx__SparseTensorProto> {
        let p: UnsafeMutablePointer<Onnx__SparseTensorProto> = arena.message(onnx__sparse_tensor_proto__init)
        p.pointee.values = tensor(s.values, name: s.values.name, placement: nil)
        p.pointee.indices = tensor(s.indices, name: s.indices.name, placement: nil)
        p.pointee.n_dims = s.dims.count
        p.pointee.dims = arena.array(s.dims.map(Int64.init))
        return p
    }

    /// A TensorProto whose raw_data points at the tensor's storage (kept alive by the
    /// caller), or that references external data at `placement`.
    func tensor(_ t: Tensor, name: String, placement: (offset: Int, length: Int)?) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p: UnsafeMutablePointer<Onnx__TensorProto> = arena.message(onnx__tensor_proto__init)
        p.pointee.n_dims = t.dims.count
        p.pointee.dims = arena.array(t.dims.map(Int64.init))
        p.pointee.has_data_type = 1
        p.pointee.data_type = t.dtype.rawValue
        p.pointee.name = arena.cString(name)
        p.pointee.doc_string = arena.cString(t.docString)
        if let placement {
            let entries = [entry("location", location), entry("offset", String(placement.offset)),
                           entry("length", String(placement.length))]
            p.pointee.n_external_data = entries.count
            p.pointee.external_data = arena.array(entries)
            p.pointee.has_data_location = 1
            p.pointee.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
            return p
        }
        switch t.storage {
        case .strings(let ss):
            let items = ss.map { s -> ProtobufCBinaryData in
                let (len, data) = arena.binary(s)
                return ProtobufCBinaryData(len: len, data: data)
            }
            p.pointee.n_string_data = items.count
            p.pointee.string_data = arena.array(items)
        case .owned(let bytes):
            p.pointee.has_raw_data = 1
            let (len, data) = arena.borrow(bytes)
            p.pointee.raw_data = ProtobufCBinaryData(len: len, data: data)
        case .mapped(let file, let offset, let count):
            p.pointee.has_raw_data = 1
            let base = file.bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + offset) }
            p.pointee.raw_data = ProtobufCBinaryData(len: count, data: base?.assumingMemoryBound(to: UInt8.self))
        }
        return p
    }

    func valueInfo(_ v: Value) -> UnsafeMutablePointer<Onnx__ValueInfoProto>? {
        let p: UnsafeMutablePointer<Onnx__ValueInfoProto> = arena.message(onnx__value_info_proto__init)
        p.pointee.name = arena.cString(v.name, emptyIsNull: false)
        p.pointee.doc_string = arena.cString(v.docString)
        if let t = v.type { p.pointee.type = type(t) }
        return p
    }

    func type(_ t: ValueType?) -> UnsafeMutablePointer<Onnx__TypeProto>? {
        guard let t else { return nil }
        let p: UnsafeMutablePointer<Onnx__TypeProto> = arena.message(onnx__type_proto__init)
        switch t {
        case .tensor(let d, let s):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Tensor> = arena.message(onnx__type_proto__tensor__init)
            q.pointee.has_elem_type = 1
            q.pointee.elem_type = d.rawValue
            q.pointee.shape = shape(s)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
            p.pointee.tensor_type = q
        case .sparseTensor(let d, let s):
            let q: UnsafeMutablePointer<Onnx__TypeProto__SparseTensor> = arena.message(onnx__type_proto__sparse_tensor__init)
            q.pointee.has_elem_type = 1
            q.pointee.elem_type = d.rawValue
            q.pointee.shape = shape(s)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
            p.pointee.sparse_tensor_type = q
        case .sequence(let e):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Sequence> = arena.message(onnx__type_proto__sequence__init)
            q.pointee.elem_type = type(e)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE
            p.pointee.sequence_type = q
        case .optional(let e):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Optional> = arena.message(onnx__type_proto__optional__init)
            q.pointee.elem_type = type(e)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE
            p.pointee.optional_type = q
        case .map(let k, let v):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Map> = arena.message(onnx__type_proto__map__init)
            q.pointee.has_key_type = 1
            q.pointee.key_type = k.rawValue
            q.pointee.value_type = type(v)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE
            p.pointee.map_type = q
        }
        return p
    }

    func shape(_ s: Shape?) -> UnsafeMutablePointer<Onnx__TensorShapeProto>? {
        guard let s else { return nil }
        let p: UnsafeMutablePointer<Onnx__TensorShapeProto> = arena.message(onnx__tensor_shape_proto__init)
        let dims = s.dims.map { d -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension>? in
            let q: UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> = arena.message(onnx__tensor_shape_proto__dimension__init)
            switch d {
            case .known(let v):
                q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                q.pointee.dim_value = Int64(v)
            case .symbolic(let name):
                q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                q.pointee.dim_param = arena.cString(name, emptyIsNull: false)
            case .unknown:
                break
            }
            return q
        }
        p.pointee.n_dim = dims.count
        p.pointee.dim = arena.array(dims)
        return p
    }
}
