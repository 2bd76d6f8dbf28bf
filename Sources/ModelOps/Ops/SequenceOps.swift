import ModelIR

/// Tensor sequences and optionals (opset 11 / 15 / 17): SequenceEmpty, SequenceConstruct,
/// SequenceInsert, SequenceAt, SequenceErase, SequenceLength, SplitToSequence,
/// ConcatFromSequence, SequenceMap, Optional, OptionalHasElement, OptionalGetElement.
///
/// A sequence is `RuntimeValue.sequence([Tensor])`; an empty optional is `.none` and an
/// optional holding a value is the value itself. Positions follow ONNX: negative positions
/// count from the back, out-of-range positions throw.
///
/// The axis helpers at the bottom (`concatenate`, `slice`, `stack`, `zeros`) copy whole
/// blocks of bytes for every fixed-width dtype and elements for strings; Loop and Scan use
/// them too.
enum SequenceOps {
    static let schemas: [OpSchema] = [
        OpSchema("SequenceEmpty", versions: [11]) { _ in [.sequence([])] },
        OpSchema("SequenceConstruct", versions: [11]) { ctx in
            var items: [Tensor] = []
            for i in 0..<ctx.inputCount { items.append(try ctx.tensor(i)) }
            try checkSameDType(items, op: "SequenceConstruct")
            return [.sequence(items)]
        },
        OpSchema("SequenceInsert", versions: [11]) { ctx in
            var seq = try sequence(ctx, 0)
            let t = try ctx.tensor(1)
            if let first = seq.first, first.dtype != t.dtype {
                throw OpError.invalid("tensor is \(t.dtype), the sequence holds \(first.dtype)")
            }
            var at = seq.count
            if let p = ctx.optionalTensor(2) { at = try position(p, count: seq.count, allowEnd: true) }
            seq.insert(t, at: at)
            return [.sequence(seq)]
        },
        OpSchema("SequenceAt", versions: [11]) { ctx in
            let seq = try sequence(ctx, 0)
            let at = try position(try ctx.tensor(1), count: seq.count, allowEnd: false)
            return [.tensor(seq[at])]
        },
        OpSchema("SequenceErase", versions: [11]) { ctx in
            var seq = try sequence(ctx, 0)
            guard !seq.isEmpty else { throw OpError.invalid("cannot erase from an empty sequence") }
            var at = seq.count - 1
            if let p = ctx.optionalTensor(1) { at = try position(p, count: seq.count, allowEnd: false) }
            seq.remove(at: at)
            return [.sequence(seq)]
        },
        OpSchema("SequenceLength", versions: [11]) { ctx in
            [.tensor(.scalar(Int64(try sequence(ctx, 0).count)))]
        },
        OpSchema("SplitToSequence", versions: [11, 24]) { ctx in
            let input = try ctx.tensor(0)
            let rank = input.dims.count
            let axis = try normalizedAxis(ctx.int("axis", default: 0), rank: rank, name: "axis")
            let dim = input.dims[axis]
            var lengths: [Int]
            var squeeze = false
            if let split = ctx.optionalTensor(1) {
                guard let values = split.integers() else { throw OpError.invalid("split must be int32 or int64, got \(split.dtype)") }
                if split.dims.isEmpty {
                    guard let n = values.first, n > 0 else { throw OpError.invalid("scalar split must be positive, got \(values)") }
                    lengths = Array(repeating: n, count: dim / n)
                    if dim % n != 0 { lengths.append(dim % n) }
                } else {
                    guard split.dims.count == 1, values.allSatisfy({ $0 >= 0 }), values.reduce(0, +) == dim else {
                        throw OpError.invalid("split \(values) must be non-negative and sum to dimension \(axis) of \(input.dims)")
                    }
                    lengths = values
                }
            } else {
                lengths = Array(repeating: 1, count: dim)
                squeeze = ctx.int("keepdims", default: 1) == 0
            }
            var parts: [Tensor] = []
            var start = 0
            for n in lengths {
                var part = try slice(input, axis: axis, start: start, length: n)
                if squeeze { part.dims.remove(at: axis) }
                parts.append(part)
                start += n
            }
            return [.sequence(parts)]
        },
        OpSchema("ConcatFromSequence", versions: [11]) { ctx in
            let seq = try sequence(ctx, 0)
            guard let first = seq.first else { throw OpError.invalid("ConcatFromSequence of an empty sequence") }
            guard let axisAttr = ctx.int("axis") else { throw OpError.invalid("attribute 'axis' is required") }
            if ctx.int("new_axis", default: 0) == 1 {
                let axis = try normalizedAxis(axisAttr, rank: first.dims.count + 1, name: "axis")
                return [.tensor(try stack(seq, axis: axis))]
            }
            let axis = try normalizedAxis(axisAttr, rank: first.dims.count, name: "axis")
            return [.tensor(try concatenate(seq, axis: axis))]
        },
        OpSchema("SequenceMap", versions: [17]) { ctx in
            // Runs `body` once per element of input 0; sequence inputs contribute their i-th
            // element, tensor inputs themselves. Output k collects the body's output k.
            let first = try sequence(ctx, 0)
            var extra: [RuntimeValue] = []
            for i in 1..<max(1, ctx.inputCount) {
                guard let v = ctx.inputs[i] else { throw OpError.invalid("input \(i) is absent") }
                if case .sequence(let s) = v, s.count != first.count {
                    throw OpError.invalid("sequence input \(i) has \(s.count) elements, input 0 has \(first.count)")
                }
                extra.append(v)
            }
            var outputs: [[Tensor]] = Array(repeating: [], count: ctx.outputCount)
            for (i, item) in first.enumerated() {
                let feeds: [RuntimeValue] = [.tensor(item)] + extra.map { v in
                    if case .sequence(let s) = v { return .tensor(s[i]) }
                    return v
                }
                let outs = try ctx.runSubgraph("body", 0, feeds)
                guard outs.count >= outputs.count else { throw OpError.invalid("body returned \(outs.count) outputs, expected \(outputs.count)") }
                for k in 0..<outputs.count {
                    guard let t = outs[k].tensor else { throw OpError.invalid("body output \(k) is \(outs[k].typeDescription), expected a tensor") }
                    outputs[k].append(t)
                }
            }
            return outputs.map { .sequence($0) }
        },
        OpSchema("Optional", versions: [15]) { ctx in
            if ctx.inputCount > 0, let v = ctx.inputs[0] { return [v] }
            return [.none]
        },
        OpSchema("OptionalHasElement", versions: [15, 18]) { ctx in
            var has = false
            if ctx.inputCount > 0, let v = ctx.inputs[0] {
                if case .none = v { has = false } else { has = true }
            }
            return [.tensor(.scalar(has))]
        },
        OpSchema("OptionalGetElement", versions: [15, 18]) { ctx in
            guard ctx.inputCount > 0, let v = ctx.inputs[0] else { throw OpError.invalid("input 0 is required but absent") }
            if case .none = v { throw OpError.invalid("the optional input has no value") }
            return [v]
        },
    ]

    // MARK: Sequence helpers

    static func sequence(_ ctx: KernelContext, _ i: Int) throws -> [Tensor] {
        guard i < ctx.inputCount, let v = ctx.inputs[i] else { throw OpError.invalid("input \(i) is required but absent") }
        guard case .sequence(let s) = v else { throw OpError.invalid("input \(i) is \(v.typeDescription), expected a sequence") }
        return s
    }

    static func checkSameDType(_ items: [Tensor], op: String) throws {
        guard let first = items.first else { return }
        if let bad = items.first(where: { $0.dtype != first.dtype }) {
            throw OpError.invalid("\(op): elements must share one dtype, found \(first.dtype) and \(bad.dtype)")
        }
    }

    /// A sequence position from a scalar (or 1-element) int32/int64 tensor, negative counting
    /// from the back; `allowEnd` admits `count` (insert at the end).
    static func position(_ t: Tensor, count: Int, allowEnd: Bool) throws -> Int {
        guard t.dtype == .int32 || t.dtype == .int64, let v = t.integers(), v.count == 1 else {
            throw OpError.invalid("position must be a scalar int32/int64, got \(t.dtype)\(Shape(t.dims))")
        }
        let p = v[0] < 0 ? v[0] + count : v[0]
        guard p >= 0, p < count || (allowEnd && p == count) else {
            throw OpError.invalid("position \(v[0]) is out of range for a sequence of \(count)")
        }
        return p
    }

    /// `axis` in `[-rank, rank)` as a non-negative index.
    static func normalizedAxis(_ axis: Int, rank: Int, name: String) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { throw OpError.invalid("\(name) \(axis) is out of range for rank \(rank)") }
        return a
    }

    // MARK: Axis copies

    /// Bytes per element; throws for sub-byte types and strings (handled separately).
    static func elementSize(_ dtype: DType) throws -> Int {
        guard let bits = dtype.bitWidth, bits % 8 == 0 else {
            throw OpError.unsupported("\(dtype) elements cannot be copied along an axis")
        }
        return bits / 8
    }

    private static func product(_ dims: ArraySlice<Int>) -> Int { dims.reduce(1, *) }

    /// Concatenates `parts` (same dtype, same dims except `axis`) along `axis`.
    static func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw OpError.invalid("nothing to concatenate") }
        let rank = first.dims.count
        guard axis >= 0, axis < rank else { throw OpError.invalid("axis \(axis) is out of range for rank \(rank)") }
        if parts.count == 1 { return first }
        var total = 0
        for p in parts {
            guard p.dtype == first.dtype else { throw OpError.invalid("cannot concatenate \(first.dtype) and \(p.dtype)") }
            guard p.dims.count == rank, (0..<rank).allSatisfy({ $0 == axis || p.dims[$0] == first.dims[$0] }) else {
                throw OpError.invalid("cannot concatenate shapes \(first.dims) and \(p.dims) along axis \(axis)")
            }
            total += p.dims[axis]
        }
        var outDims = first.dims
        outDims[axis] = total
        let outer = product(first.dims[..<axis]), inner = product(first.dims[(axis + 1)...])
        if first.dtype == .string {
            var out: [[UInt8]] = []
            out.reserveCapacity(outer * total * inner)
            let strings = parts.map { p -> [[UInt8]] in if case .strings(let s) = p.storage { return s } else { return [] } }
            for o in 0..<outer {
                for (k, p) in parts.enumerated() {
                    let block = p.dims[axis] * inner
                    out.append(contentsOf: strings[k][(o * block)..<((o + 1) * block)])
                }
            }
            return Tensor(unchecked: .string, dims: outDims, storage: .strings(out))
        }
        let es = try elementSize(first.dtype)
        let outBlock = total * inner * es
        var bytes = [UInt8](repeating: 0, count: outer * outBlock)
        bytes.withUnsafeMutableBytes { dst in
            var offset = 0
            for p in parts {
                let block = p.dims[axis] * inner * es
                if block > 0 {
                    p.withUnsafeBytes { src in
                        for o in 0..<outer {
                            (dst.baseAddress! + o * outBlock + offset).copyMemory(from: src.baseAddress! + o * block, byteCount: block)
                        }
                    }
                }
                offset += block
            }
        }
        return Tensor(unchecked: first.dtype, dims: outDims, storage: .owned(bytes))
    }

    /// Elements `start..<start+length` of `t` along `axis` (a copy; the axis is kept).
    static func slice(_ t: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
        guard axis >= 0, axis < t.dims.count, start >= 0, length >= 0, start + length <= t.dims[axis] else {
            throw OpError.invalid("slice \(start)..<\(start + length) of axis \(axis) is out of range for \(t.dims)")
        }
        var outDims = t.dims
        outDims[axis] = length
        let outer = product(t.dims[..<axis]), inner = product(t.dims[(axis + 1)...])
        let dim = t.dims[axis]
        if t.dtype == .string {
            guard case .strings(let s) = t.storage else { throw OpError.invalid("string tensor without strings") }
            var out: [[UInt8]] = []
            out.reserveCapacity(outer * length * inner)
            for o in 0..<outer {
                let base = (o * dim + start) * inner
                out.append(contentsOf: s[base..<(base + length * inner)])
            }
            return Tensor(unchecked: .string, dims: outDims, storage: .strings(out))
        }
        let es = try elementSize(t.dtype)
        let block = length * inner * es
        var bytes = [UInt8](repeating: 0, count: outer * block)
        if block > 0 {
            bytes.withUnsafeMutableBytes { dst in
                t.withUnsafeBytes { src in
                    for o in 0..<outer {
                        (dst.baseAddress! + o * block).copyMemory(from: src.baseAddress! + ((o * dim + start) * inner) * es, byteCount: block)
                    }
                }
            }
        }
        return Tensor(unchecked: t.dtype, dims: outDims, storage: .owned(bytes))
    }

    /// Stacks equal-shaped `parts` along a new axis `axis` (0...rank).
    static func stack(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw OpError.invalid("nothing to stack") }
        guard axis >= 0, axis <= first.dims.count else { throw OpError.invalid("axis \(axis) is out of range for stacking rank \(first.dims.count)") }
        for p in parts where p.dims != first.dims || p.dtype != first.dtype {
            throw OpError.invalid("cannot stack \(first.dtype)\(Shape(first.dims)) with \(p.dtype)\(Shape(p.dims))")
        }
        let expanded = parts.map { p -> Tensor in
            var d = p.dims
            d.insert(1, at: axis)
            return p.reshaped(d)
        }
        return try concatenate(expanded, axis: axis)
    }

    /// A zero-filled tensor (empty strings for `string`).
    static func zeros(dtype: DType, dims: [Int]) throws -> Tensor {
        let count = Shape.elementCount(of: dims) ?? 0
        if dtype == .string {
            return Tensor(unchecked: .string, dims: dims, storage: .strings(Array(repeating: [], count: count)))
        }
        guard let bytes = dtype.byteCount(elements: count) else { throw OpError.unsupported("zeros of \(dtype)") }
        return Tensor(unchecked: dtype, dims: dims, storage: .owned([UInt8](repeating: 0, count: bytes)))
    }
}
