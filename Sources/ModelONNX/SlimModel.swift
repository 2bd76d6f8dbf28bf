/// A ModelProto with the main graph's initializer `raw_data` lifted out: protobuf-c decodes
/// `bytes` (metadata, nodes, small tensors) while each initializer borrows its raw bytes
/// from the mapped file through `rawData`. Building it copies only the non-weight fields.
///
/// The same walk bounds subgraph nesting before protobuf-c, which recurses without a
/// limit, ever sees the bytes.
struct SlimModel {
    /// The ModelProto without the lifted `raw_data` fields.
    var bytes: [UInt8]
    /// For the main graph's initializer number i (in file order), the span of its
    /// `raw_data` in the mapped file, or nil when it had none.
    var rawData: [Range<Int>?]
    /// For the main graph's node number i, the lifted `raw_data` spans of its tensor
    /// attributes (Constant nodes' `value`), by attribute number; absent when none.
    var attributeRawData: [Int: [Int: Range<Int>]]

    /// Tensor attributes smaller than this keep their raw_data in the slim copy.
    static let liftThreshold = 64

    // Field numbers of onnx.proto used by the walk.
    private enum F {
        static let modelGraph: UInt64 = 7, modelFunctions: UInt64 = 25, modelTraining: UInt64 = 20
        static let graphNode: UInt64 = 1, graphInitializer: UInt64 = 5
        static let nodeName: UInt64 = 3, nodeAttribute: UInt64 = 5
        static let attrG: UInt64 = 6, attrGraphs: UInt64 = 11
        static let tensorRawData: UInt64 = 9
        static let attrT: UInt64 = 5
        static let functionNode: UInt64 = 7
        static let trainingInit: UInt64 = 1, trainingAlgorithm: UInt64 = 2
    }

    enum Failure: Error {
        case wire(WireReader.Failure)
        case tooDeep(node: String)
    }

    init(_ file: UnsafeRawBufferPointer, maxDepth: Int) throws(Failure) {
        var out = WireWriter()
        out.bytes.reserveCapacity(min(file.count, 1 << 20))
        var rawData: [Range<Int>?] = []
        var attributeRawData: [Int: [Int: Range<Int>]] = [:]
        var reader = WireReader(file, range: 0..<file.count)
        do {
            while !reader.isAtEnd {
                let field = try reader.next()
                switch (field.number, field.wireType) {
                case (F.modelGraph, 2):
                    let graph = try Self.slimGraph(file, field.payload, rawData: &rawData,
                                                   attributeRawData: &attributeRawData, maxDepth: maxDepth)
                    out.message(F.modelGraph, graph)
                case (F.modelFunctions, 2):
                    try Self.checkNodes(file, field.payload, nodeField: F.functionNode, depth: 1, maxDepth: maxDepth)
                    out.append(file, field.whole)
                case (F.modelTraining, 2):
                    var r = WireReader(file, range: field.payload)
                    while !r.isAtEnd {
                        let f = try r.next()
                        if (f.number == F.trainingInit || f.number == F.trainingAlgorithm) && f.wireType == 2 {
                            try Self.checkNodes(file, f.payload, nodeField: F.graphNode, depth: 1, maxDepth: maxDepth)
                        }
                    }
                    out.append(file, field.whole)
                default:
                    out.append(file, field.whole)
                }
            }
        } catch let e as WireReader.Failure {
            throw .wire(e)
        } catch let e as Failure {
            throw e
        } catch {
            fatalError("unreachable: \(error)")
        }
        self.bytes = out.bytes
        self.rawData = rawData
        self.attributeRawData = attributeRawData
    }

    /// The main graph with each initializer's raw_data removed (spans recorded).
    private static func slimGraph(_ file: UnsafeRawBufferPointer, _ range: Range<Int>,
                                  rawData: inout [Range<Int>?], attributeRawData: inout [Int: [Int: Range<Int>]],
                                  maxDepth: Int) throws -> [UInt8] {
        var out = WireWriter()
        var nodeIndex = 0
        var r = WireReader(file, range: range)
        while !r.isAtEnd {
            let field = try r.next()
            switch (field.number, field.wireType) {
            case (F.graphInitializer, 2):
                let (tensor, raw) = try liftRawData(file, field.payload, threshold: 0)
                rawData.append(raw)
                out.message(F.graphInitializer, tensor)
            case (F.graphNode, 2):
                try checkNode(file, field.payload, depth: 1, maxDepth: maxDepth)
                if let (node, spans) = try liftAttributeTensors(file, field.payload) {
                    attributeRawData[nodeIndex] = spans
                    out.message(F.graphNode, node)
                } else {
                    out.append(file, field.whole)
                }
                nodeIndex += 1
            default:
                out.append(file, field.whole)
            }
        }
        return out.bytes
    }

    /// A TensorProto without its raw_data field when that holds at least `threshold` bytes,
    /// and the span it had (the last occurrence wins, as in protobuf).
    private static func liftRawData(_ file: UnsafeRawBufferPointer, _ range: Range<Int>,
                                    threshold: Int) throws -> ([UInt8], Range<Int>?) {
        var tensor = WireWriter()
        var raw: Range<Int>? = nil
        var kept: Range<Int>? = nil
        var t = WireReader(file, range: range)
        while !t.isAtEnd {
            let f = try t.next()
            if f.number == F.tensorRawData && f.wireType == 2 {
                raw = f.payload
                kept = f.whole
            } else {
                tensor.append(file, f.whole)
            }
        }
        if let r = raw, r.count < threshold, let k = kept {
            tensor.append(file, k)
            return (tensor.bytes, nil)
        }
        return (tensor.bytes, raw)
    }

    /// A NodeProto whose tensor attributes (`t`) have their large raw_data lifted out, with
    /// the spans by attribute number; nil when nothing was lifted (the node stays as it is).
    private static func liftAttributeTensors(_ file: UnsafeRawBufferPointer,
                                             _ range: Range<Int>) throws -> ([UInt8], [Int: Range<Int>])? {
        var r = WireReader(file, range: range)
        var out = WireWriter()
        var spans: [Int: Range<Int>] = [:]
        var attributeIndex = 0
        while !r.isAtEnd {
            let f = try r.next()
            guard f.number == F.nodeAttribute && f.wireType == 2 else {
                out.append(file, f.whole)
                continue
            }
            var attribute = WireWriter()
            var a = WireReader(file, range: f.payload)
            var lifted = false
            while !a.isAtEnd {
                let af = try a.next()
                if af.number == F.attrT && af.wireType == 2 {
                    let (tensor, raw) = try liftRawData(file, af.payload, threshold: liftThreshold)
                    if let raw {
                        spans[attributeIndex] = raw
                        lifted = true
                    }
                    attribute.message(F.attrT, tensor)
                } else {
                    attribute.append(file, af.whole)
                }
            }
            if lifted { out.message(F.nodeAttribute, attribute.bytes) } else { out.append(file, f.whole) }
            attributeIndex += 1
        }
        return spans.isEmpty ? nil : (out.bytes, spans)
    }

    /// Checks the subgraph nesting below every node field `nodeField` of a message.
    private static func checkNodes(_ file: UnsafeRawBufferPointer, _ range: Range<Int>, nodeField: UInt64,
                                   depth: Int, maxDepth: Int) throws {
        var r = WireReader(file, range: range)
        while !r.isAtEnd {
            let f = try r.next()
            if f.number == nodeField && f.wireType == 2 {
                try checkNode(file, f.payload, depth: depth, maxDepth: maxDepth)
            }
        }
    }

    /// `depth` is the nesting level of the graph holding this node (1: the main graph).
    private static func checkNode(_ file: UnsafeRawBufferPointer, _ range: Range<Int>,
                                  depth: Int, maxDepth: Int) throws {
        var r = WireReader(file, range: range)
        var name = ""
        var attributes: [Range<Int>] = []
        while !r.isAtEnd {
            let f = try r.next()
            if f.wireType == 2 {
                if f.number == F.nodeName { name = r.string(f) }
                if f.number == F.nodeAttribute { attributes.append(f.payload) }
            }
        }
        for a in attributes {
            var ar = WireReader(file, range: a)
            while !ar.isAtEnd {
                let f = try ar.next()
                if (f.number == F.attrG || f.number == F.attrGraphs) && f.wireType == 2 {
                    if depth + 1 > maxDepth { throw Failure.tooDeep(node: name) }
                    try checkNodes(file, f.payload, nodeField: F.graphNode, depth: depth + 1, maxDepth: maxDepth)
                }
            }
        }
    }
}
