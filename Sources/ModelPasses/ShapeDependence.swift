import ModelIR

/// Which values' shapes a dry run on placeholder inputs gets right for every input of the
/// declared (static) shapes.
///
/// A dry run feeds zeros, so a value whose *contents* depend on the graph inputs' contents
/// holds placeholder numbers. Its *shape* is still exact unless some op derived a shape from
/// such numbers: `NonZero(x)`, `Reshape(x, s)` with `s` computed from x's values, a `Range` or
/// `ConstantOfShape` over computed numbers. Shape-derived numbers (`Shape`, `Size` of a value
/// whose shape is exact) do not depend on the contents.
///
/// The rules, walking the graph in topological order:
/// - graph inputs: exact shape (the declared static one), contents from the caller;
///   initializers: exact, contents fixed (an initializer that is also a graph input may be
///   overridden: contents from the caller);
/// - `Shape`/`Size`: contents fixed when their input's shape is exact;
/// - any other node: contents from the caller when any input's (or, for nodes with
///   subgraphs, any outer value a body reads) are;
/// - a node's output shapes are exact when every input's shape is, and
///   - for ops whose output shapes follow from their inputs' shapes alone (elementwise ops,
///     MatMul, Conv, Concat, Gather...): always;
///   - for ops that shape their output by the numbers of their first input, or that have
///     subgraphs, or whose output size depends on the data (`NonZero`, `Unique`,
///     `NonMaxSuppression`): when no input's contents come from the caller;
///   - for any other op (Reshape, Slice, Expand, Tile, Pad, Resize, TopK, Squeeze... read
///     shape-like numbers from their later inputs): when no input after the first has contents
///     from the caller.
enum ShapeDependence {
    /// Ops whose output shapes depend only on their inputs' shapes and their attributes,
    /// whatever the numbers in any input.
    static let shapedByShapes: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "And", "Or", "Xor", "Not",
        "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Equal", "Greater", "GreaterOrEqual", "Less",
        "LessOrEqual", "Where", "Max", "Min", "Mean", "Sum", "PRelu", "Clip", "MatMul",
        "MatMulInteger", "Gemm", "Conv", "ConvInteger", "ConvTranspose", "DeformConv",
        "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
        "RMSNormalization", "Concat", "Gather", "GatherElements", "GatherND", "ScatterND",
        "ScatterElements", "Scatter", "QuantizeLinear", "DequantizeLinear", "QLinearConv",
        "QLinearMatMul", "Einsum", "Dropout", "CumSum", "Trilu", "ReverseSequence", "CastLike",
        "RNN", "GRU", "LSTM", "RoiAlign", "MaxRoiPool", "GridSample",
    ]

    /// Ops whose output shapes come from the numbers of their first input, or from data in a
    /// way no shape rule captures.
    static let shapedByData: Set<String> = [
        "NonZero", "Unique", "NonMaxSuppression", "ConstantOfShape", "Range", "HannWindow",
        "HammingWindow", "BlackmanWindow", "MelWeightMatrix", "StringSplit", "StringNormalizer",
        "SplitToSequence", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SequenceAt",
        "ConcatFromSequence", "SequenceMap", "Optional", "OptionalGetElement",
    ]

    /// For each value (by `ValueID` index), whether a dry run's shape for it holds for every
    /// input of the declared shapes.
    static func exactShapes(_ graph: Graph) -> [Bool] {
        var g = graph
        g.sortTopologically()
        var exact = [Bool](repeating: false, count: g.values.count)
        var fromCaller = [Bool](repeating: true, count: g.values.count)
        for (i, v) in g.values.enumerated() where v.producer == nil {
            if v.initializer != nil {
                exact[i] = true
                fromCaller[i] = v.isGraphInput
            } else if v.isGraphInput {
                exact[i] = true
            }
        }
        for (_, node) in g.liveNodes {
            let inputs = node.inputs.compactMap { $0 }
            let shapesExact = inputs.allSatisfy { exact[Int($0.index)] }
            var callerData: Bool
            var outputExact: Bool
            if node.isOp("Shape") || node.isOp("Size") {
                callerData = !shapesExact
                outputExact = shapesExact
            } else {
                callerData = inputs.contains { fromCaller[Int($0.index)] }
                if !node.subgraphs.isEmpty {
                    let outer = node.subgraphs.reduce(into: Set<String>()) { $0.formUnion($1.outerReferenceNames) }
                    callerData = callerData || outer.contains { name in
                        g.valueID(named: name).map { fromCaller[Int($0.index)] } ?? true
                    }
                    outputExact = shapesExact && !callerData
                } else if !(node.domain.isEmpty || node.domain == "ai.onnx") || shapedByData.contains(node.opType) {
                    outputExact = shapesExact && !callerData
                } else if shapedByShapes.contains(node.opType) {
                    outputExact = shapesExact
                } else {
                    outputExact = shapesExact && !node.inputs.dropFirst().contains { $0.map { fromCaller[Int($0.index)] } ?? false }
                }
            }
            for case let out? in node.outputs {
                exact[Int(out.index)] = outputExact
                fromCaller[Int(out.index)] = callerData
            }
        }
        return exact
    }
}
