import ModelIR
import ModelONNX
import ModelOps
import ModelRuntime

/// `infer-shapes`: annotates every value with its type and shape, after making the inputs
/// named in `PassOptions.inputShapes` static.
///
/// ```
/// before:  %y = Relu(%x)            (%x: float32[N,3,224,224], --input-shape x=1x3x224x224)
/// after:   %y = Relu(%x)            (%x: float32[1,3,224,224], %y: float32[1,3,224,224])
/// ```
/// Uses libonnx's shape inference (the reference implementation). For a model importing an
/// opset newer than libonnx knows, whose inputs are all static, the interpreter runs once on
/// zero inputs and every value takes the type and shape it computed (exact for that shape;
/// the kernels are the same ones constant folding uses). Otherwise the declared shapes stay
/// and the note says why.
public struct InferShapes: GraphPass {
    public let name = "infer-shapes"
    public let summary = "values -> annotated with inferred types and shapes"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try Self.applyInputShapes(context.options.inputShapes, to: &model)
        let before = Self.typedValues(model.graph)
        let outcome = ONNXChecker.inferShapes(&model)
        if case .notChecked(let reason) = outcome {
            if let failure = Self.inferByRunning(&model) {
                context.note("infer-shapes: libonnx: \(reason); interpreter: \(failure)")
            }
        } else if outcome != .passed {
            context.note("infer-shapes: \(outcome)")
        }
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

    /// Runs the model once on zeros and records every computed value's type; returns why
    /// it could not (a dynamic input, an unsupported op) or nil on success.
    static func inferByRunning(_ model: inout Model) -> String? {
        let g = model.graph
        var feeds: [String: RuntimeValue] = [:]
        for id in g.inputs where g[value: id].initializer == nil {
            let v = g[value: id]
            guard case .tensor(let dtype, let shape)? = v.type, let dims = shape?.staticDims,
                  let bytes = dtype.byteCount(elements: Shape.elementCount(of: dims) ?? -1), dtype != .string else {
                return "input '\(v.name)' is not a static tensor (give --input-shape)"
            }
            feeds[v.name] = .tensor(Tensor(unchecked: dtype, dims: dims, storage: .owned([UInt8](repeating: 0, count: bytes))))
        }
        do {
            var options = RunOptions()
            options.keepIntermediates = true
            let result = try Interpreter(model: model).run(feeds, options: options)
            for computed in result.intermediates {
                guard let id = model.graph.valueID(named: computed.name), let t = computed.value.tensor else { continue }
                model.graph.setType(.tensor(t.dtype, Shape(t.dims)), of: id)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// How many values carry a fully static tensor shape.
    static func typedValues(_ g: Graph) -> Int {
        g.values.reduce(0) { $0 + ($1.type?.tensorShape?.staticDims != nil ? 1 : 0) }
    }
}
