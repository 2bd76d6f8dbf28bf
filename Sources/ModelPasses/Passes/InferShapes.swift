import ModelIR
import ModelONNX

/// `infer-shapes`: annotates every value with its type and shape, after making the inputs
/// named in `PassOptions.inputShapes` static.
///
/// ```
/// before:  %y = Relu(%x)            (%x: float32[N,3,224,224], --input-shape x=1x3x224x224)
/// after:   %y = Relu(%x)            (%x: float32[1,3,224,224], %y: float32[1,3,224,224])
/// ```
/// Uses libonnx's shape inference (the reference implementation). Models importing an
/// opset newer than libonnx knows keep the shapes they declare; the note says so.
public struct InferShapes: GraphPass {
    public let name = "infer-shapes"
    public let summary = "values -> annotated with inferred types and shapes"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try Self.applyInputShapes(context.options.inputShapes, to: &model)
        let before = Self.typedValues(model.graph)
        let outcome = ONNXChecker.inferShapes(&model)
        if outcome != .passed { context.note("infer-shapes: \(outcome)") }
        return Self.typedValues(model.graph) - before
    }

    /// Replaces the declared shapes of the named graph inputs.
    public static func applyInputShapes(_ shapes: [String: [Int]], to model: inout Model) throws(PassError) {
        for (name, dims) in shapes.sorted(by: { $0.key < $1.key }) {
            guard let id = model.graph.valueID(named: name), model.graph[value: id].isGraphInput else {
                throw .failed(pass: "infer-shapes", reason: "--input-shape names '\(name)', which is not an input of the model")
            }
            let declared = model.graph[value: id].type
            if let rank = declared?.tensorShape?.rank, rank != dims.count {
                throw .failed(pass: "infer-shapes", reason: "--input-shape \(name): \(dims.count) dims given, the model declares \(rank)")
            }
            model.graph.setType(.tensor(declared?.tensorDType ?? .float32, Shape(dims)), of: id)
        }
    }

    /// How many values carry a fully static tensor shape.
    static func typedValues(_ g: Graph) -> Int {
        g.values.reduce(0) { $0 + ($1.type?.tensorShape?.staticDims != nil ? 1 : 0) }
    }
}
