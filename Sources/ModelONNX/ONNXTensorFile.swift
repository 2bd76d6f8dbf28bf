import ModelIR
import ONNXProtoC
import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

/// Reads and writes one serialized `TensorProto` per file: the ONNX backend test-data format
/// (`test_data_set_0/input_0.pb`).
///
/// Reading maps the file and converts the message with the importer's own tensor code, so
/// a `.pb` tensor obeys exactly the rules of a model initializer (typed `*_data` fields,
/// `raw_data`, external data inside the file's folder, string tensors). A top-level
/// `raw_data` is borrowed from the mapping (`TensorStorage.mapped`), not copied.
///
/// Test-data files may also hold a `SequenceProto`, `OptionalProto` or `MapProto`
/// (onnx-data.proto, which modelconv's generated code does not include). Those are refused
/// with `ONNXError.unreadable` whose reason starts "not a TensorProto".
public enum ONNXTensorFile {
    // TensorProto field numbers used by the wire walk.
    private static let rawDataField: UInt64 = 9
    private static let dimsField: UInt64 = 1

    /// Reads the TensorProto in `path`. The tensor keeps the name in the message (empty
    /// when it has none). Throws `ONNXError`: `.unreadable` when the file cannot be mapped
    /// or is not a TensorProto, `.invalidTensor` when its data disagrees with its dims.
    public static func read(path: String) throws(ONNXError) -> Tensor {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .unreadable(file: path, reason: error.reason)
        }
        // Walk the top level once: lift `raw_data` out (the tensor borrows it from the
        // mapping and protobuf-c does not copy it), and note whether field 1 is
        // length-delimited, which is how the `name` of onnx-data.proto's containers looks
        // (a TensorProto's `dims` is a varint, or packed varints).
        var slim = WireWriter()
        var raw: Range<Int>? = nil
        var fieldOneIsString = false
        var reader = WireReader(file.bytes, range: 0..<file.bytes.count)
        do {
            while !reader.isAtEnd {
                let field = try reader.next()
                if field.number == rawDataField && field.wireType == 2 {
                    raw = field.payload  // the last occurrence wins, as in protobuf
                } else {
                    if field.number == dimsField && field.wireType == 2 && isPrintable(file.bytes, field.payload) {
                        fieldOneIsString = true
                    }
                    slim.append(file.bytes, field.whole)
                }
            }
        } catch {
            throw .unreadable(file: path, reason: "not a TensorProto: " + ONNXImporter.describe(error, size: file.bytes.count))
        }
        let container = "not a TensorProto: it looks like a SequenceProto, OptionalProto or MapProto "
            + "(onnx-data.proto), which modelconv does not read"
        let proto = slim.bytes.withUnsafeBufferPointer { b in
            onnx__tensor_proto__unpack(nil, b.count, b.baseAddress)
        }
        guard let proto else {
            throw .unreadable(file: path, reason: fieldOneIsString ? container
                              : "not a TensorProto: protobuf decoding failed (a field has the wrong type or the data is corrupt)")
        }
        defer { onnx__tensor_proto__free_unpacked(proto, nil) }
        if fieldOneIsString && (proto.pointee.segment != nil || proto.pointee.has_data_type == 0
                                || proto.pointee.data_type == 0) {
            throw .unreadable(file: path, reason: container)
        }
        if proto.pointee.has_data_type == 0 || proto.pointee.data_type == 0 {
            throw .unreadable(file: path, reason: "not a TensorProto: it has no data_type")
        }
        var context = ImportContext(path: path, file: file, rawData: [], options: ONNXImportOptions())
        do {
            return try context.tensor(proto, rawSpan: raw)
        } catch {
            if fieldOneIsString, case .invalidTensor = error { throw .unreadable(file: path, reason: container) }
            throw error
        }
    }

    /// Writes `tensor` as one TensorProto (named `tensor.name`, data in `raw_data`, or
    /// `string_data` for strings) to `path`, through a temporary file in the same folder
    /// renamed into place when complete. Bytes are streamed from the tensor's storage.
    /// Throws `ONNXError.invalidTensor` for a tensor whose storage disagrees with its dims,
    /// `.writeFailed` when the file cannot be written or would pass protobuf's 2 GiB limit.
    public static func write(_ tensor: Tensor, to path: String) throws(ONNXError) {
        do {
            try tensor.validate()
        } catch {
            throw .invalidTensor(file: path, tensor: tensor.name, reason: error.reason)
        }
        let arena = CArena()
        let builder = ProtoBuilder(arena: arena, external: [:], location: "")
        let proto = builder.tensor(tensor, name: tensor.name, placement: nil)
        let size = withExtendedLifetime(tensor) { onnx__tensor_proto__get_packed_size(proto) }
        guard size <= ONNXExporter.protobufLimit else {
            throw .writeFailed(file: path, reason: "the tensor is \(size) bytes, over protobuf's 2 GiB limit")
        }
        let (tmp, fd) = try ONNXExporter.makeTemp(near: path)
        let sink = FileSink(fd: fd)
        withExtendedLifetime(tensor) { pack(proto, into: sink) }
        sink.flush()
        let closed = close(fd)
        if let f = sink.failure ?? (closed != 0 ? String(cString: strerror(errno)) : nil) {
            unlink(tmp)
            throw .writeFailed(file: path, reason: f)
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw .writeFailed(file: path, reason: reason)
        }
    }

    /// Whether `range` of `bytes` is non-empty printable ASCII or UTF-8 text (no control
    /// bytes): a string, not packed varint dims (whose small values are control bytes).
    private static func isPrintable(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return false }
        for i in range where bytes[i] < 0x20 || bytes[i] == 0x7f { return false }
        return true
    }

    /// Streams the packed message into `sink` (protobuf-c's append callback).
    private static func pack(_ proto: UnsafeMutablePointer<Onnx__TensorProto>, into sink: FileSink) {
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
        withExtendedLifetime(sink) { _ = onnx__tensor_proto__pack_to_buffer(proto, buffer) }
    }
}
