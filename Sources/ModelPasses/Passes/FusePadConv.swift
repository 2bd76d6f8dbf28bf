import ModelIR
import ModelOps

/// `fuse-pad-conv`: `Conv(Pad(x, p)) -> Conv(x) {pads += p}` for a constant zero Pad of the
/// spatial axes; likewise into `AveragePool` (which then counts the padding, as the Pad's
/// zeros were counted) and into `MaxPool` when the Pad value is -inf.
///
/// ```
/// before:  %p = Pad(%x, %pads) <- pad                 (%pads = [0,0,1,2, 0,0,1,2])
///          %y = Conv(%p, %w) {kernel_shape=[3,3]} <- conv
/// after:   %y = Conv(%x, %w) {kernel_shape=[3,3], pads=[1,2,1,2]} <- conv,pad
/// ```
/// Conditions (each checked; a note says which failed):
/// - Pad mode `constant` with constant, non-negative pads that leave N and C alone;
/// - pad value 0 for Conv and AveragePool; -inf for MaxPool (a zero Pad before MaxPool is
///   not the same as MaxPool's own padding, which is ignored, unless x >= 0: never fused);
/// - the consumer's `auto_pad` is NOTSET;
/// - AveragePool: `count_include_pad` 1, or 0 with no pads of its own (then set to 1),
///   `ceil_mode` 0, opset >= 7;
/// - MaxPool: `ceil_mode` 0, dilations 1, no Indices output, and every fused pad smaller than
///   the kernel (so no window lies wholly in the padding, where Pad gives -inf);
/// - the Pad output is not a graph output. Other readers keep the Pad; it is erased when the
///   fused consumer was its last reader.
public struct FusePadConv: GraphPass {
    public let name = "fuse-pad-conv"
    public let summary = "Conv/AveragePool/MaxPool(Pad(x, p)) -> op(x) {pads += p}"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try PatternPass(name: name, summary: summary, patterns: [Pattern()]).run(&model, &context)
    }

    struct Pattern: RewritePattern {
        func rewrite(_ id: NodeID, in g: inout Graph, model: Model, _ context: inout PassContext) throws -> Bool {
            let op = g[node: id]
            guard op.isOp("Conv") || op.isOp("AveragePool") || op.isOp("MaxPool"),
                  let p = op.inputs.first ?? nil, let (padID, pad) = g.producer(of: p), pad.isOp("Pad"),
                  let x = pad.inputs.first ?? nil else { return false }
            func why(_ s: String) -> Bool {
                context.note("fuse-pad-conv: \(op.displayName): \(s)")
                return false
            }
            let opset = Int(model.opsetVersion("") ?? 1)
            guard !g.isGraphOutput(p), context.isReplaceable(p, in: g) else {
                return why("the Pad output '\(g[value: p].name)' is a graph output or read by a subgraph")
            }
            // The Pad: mode, pads (per axis, begin and end) and value.
            if case .string(let mode)? = pad.attributes[named: "mode"], String(decoding: mode, as: UTF8.self) != "constant" {
                return why("the Pad mode is \(String(decoding: mode, as: UTF8.self)), not constant")
            }
            guard let (begin, end) = padAmounts(pad, g, opset: opset) else {
                return why("the Pad pads are not constant (or their axes are unknown)")
            }
            guard begin.allSatisfy({ $0 >= 0 }), end.allSatisfy({ $0 >= 0 }) else {
                return why("the Pad crops (negative pads)")
            }
            let rank = begin.count
            guard rank >= 3, begin[0] == 0, end[0] == 0, begin[1] == 0, end[1] == 0 else {
                return why("the Pad pads the N or C axis")
            }
            guard let value = padValue(pad, g, opset: opset) else {
                return why("the Pad value is not a constant scalar")
            }
            let spatial = rank - 2
            // The consumer's own pads.
            if case .string(let a)? = op.attributes[named: "auto_pad"], String(decoding: a, as: UTF8.self) != "NOTSET" {
                return why("auto_pad is \(String(decoding: a, as: UTF8.self)), not NOTSET")
            }
            var pads = [Int](repeating: 0, count: 2 * spatial)
            if case .ints(let own)? = op.attributes[named: "pads"] {
                guard own.count == 2 * spatial else { return why("its pads \(own) do not match the rank \(rank)") }
                pads = own.map { Int($0) }
            }
            var attrs = op.attributes
            if op.isOp("Conv") {
                guard value == 0 else { return why("the Pad value is \(value), not 0") }
            } else if op.isOp("AveragePool") {
                guard value == 0 else { return why("the Pad value is \(value), not 0") }
                guard opset >= 7 else { return why("opset \(opset) has no count_include_pad") }
                if case .int(let c)? = op.attributes[named: "ceil_mode"], c != 0 { return why("ceil_mode is set") }
                var include: Int64 = 0
                if case .int(let c)? = op.attributes[named: "count_include_pad"] { include = c }
                if include == 0 {
                    // The Pad's zeros are counted in each window; the pool must count them too,
                    // which is only the same when it has no padding of its own.
                    guard pads.allSatisfy({ $0 == 0 }) else {
                        return why("count_include_pad is 0 and the pool has pads of its own")
                    }
                    attrs.removeAll { $0.name == "count_include_pad" }
                    attrs.append(Attribute("count_include_pad", .int(1)))
                }
            } else {
                guard value == -.infinity else {
                    return why("a MaxPool after a Pad of \(value) (not -inf) differs from MaxPool's own padding")
                }
                if op.outputs.count > 1, op.outputs[1] != nil { return why("the Indices output is used") }
                if case .int(let c)? = op.attributes[named: "ceil_mode"], c != 0 { return why("ceil_mode is set") }
                if case .ints(let d)? = op.attributes[named: "dilations"], d.contains(where: { $0 != 1 }) {
                    return why("dilations are not 1")
                }
                guard case .ints(let k)? = op.attributes[named: "kernel_shape"], k.count == spatial else {
                    return why("kernel_shape is missing")
                }
                for i in 0..<spatial where pads[i] + begin[2 + i] >= Int(k[i]) || pads[spatial + i] + end[2 + i] >= Int(k[i]) {
                    return why("a fused pad would reach the kernel size \(k[i]) (windows wholly in the padding)")
                }
            }
            for i in 0..<spatial {
                pads[i] += begin[2 + i]
                pads[spatial + i] += end[2 + i]
            }
            attrs.removeAll { $0.name == "pads" || $0.name == "auto_pad" }
            attrs.append(Attribute("pads", .ints(pads.map { Int64($0) })))
            g.setAttributes(attrs, of: id)
            g.setInput(0, of: id, to: x)
            g.mergeProvenance(pad.provenance, into: id)
            if g[value: p].uses.isEmpty { g.eraseNode(padID) }
            return true
        }

        /// Begin and end pads per axis of the Pad's input, or nil when not constant.
        func padAmounts(_ pad: Node, _ g: Graph, opset: Int) -> (begin: [Int], end: [Int])? {
            var pads: [Int]
            var axes: [Int]? = nil
            if opset < 11 {
                guard case .ints(let p)? = pad.attributes[named: opset < 2 ? "paddings" : "pads"] else { return nil }
                pads = p.map { Int($0) }
            } else {
                guard pad.inputs.count > 1, let p = g.constant(pad.inputs[1])?.integers() else { return nil }
                pads = p
                if opset >= 18, pad.inputs.count > 3, let a = pad.inputs[3] {
                    guard let list = g.constant(a)?.integers() else { return nil }
                    axes = list
                }
            }
            guard let axes else {
                guard pads.count % 2 == 0 else { return nil }
                let r = pads.count / 2
                return (Array(pads[..<r]), Array(pads[r...]))
            }
            // Explicit axes: the rank must be known to place them.
            guard let x = pad.inputs[0], let rank = g[value: x].type?.tensorShape?.rank,
                  pads.count == 2 * axes.count else { return nil }
            var begin = [Int](repeating: 0, count: rank), end = begin
            for (i, a0) in axes.enumerated() {
                let a = a0 < 0 ? a0 + rank : a0
                guard a >= 0, a < rank else { return nil }
                begin[a] = pads[i]
                end[a] = pads[axes.count + i]
            }
            return (begin, end)
        }

        /// The Pad's constant value as a Double (0 when absent), or nil when not a constant scalar.
        func padValue(_ pad: Node, _ g: Graph, opset: Int) -> Double? {
            if opset < 11 {
                if case .float(let v)? = pad.attributes[named: "value"] { return Double(v) }
                return 0
            }
            guard pad.inputs.count > 2, let c = pad.inputs[2] else { return 0 }
            guard let t = g.constant(c) else { return nil }
            if t.elementCount == 0 { return 0 }
            guard t.elementCount == 1 else { return nil }
            switch t.dtype {
            case .float32: return Double(t.elements(Float.self)[0])
            case .float64: return t.elements(Double.self)[0]
            case .float16: return Double(t.elements(Float16.self)[0])
            default: return t.integers().map { Double($0[0]) }
            }
        }
    }
}
