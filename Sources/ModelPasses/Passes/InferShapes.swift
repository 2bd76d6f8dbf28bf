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
/// Two engines:
/// - libonnx's shape inference (the reference implementation), for dynamic inputs and graphs
///   that do not compute shapes;
/// - a dry run of the interpreter on zero inputs (`RunOptions.recordTypes`: each tensor is
///   freed after its last use, only its dtype and dims are kept), when every input is static.
///   Each value whose shape cannot depend on the input numbers (`ShapeDependence`) takes the
///   type the run computed: exact for those input shapes, through the same kernels constant
///   folding uses.
/// When the inputs are static and the graph computes shapes (`Shape`/`Size` of a computed
/// tensor, as exporters write for transformers), the dry run goes first: libonnx resolves one
/// more level of `Shape -> Gather -> Concat -> Reshape` per fold-constants round, while one
/// run gives every shape. libonnx then runs only if some value is still without a static
/// shape. A model importing an opset newer than libonnx knows gets the dry run alone.
/// Otherwise the declared shapes stay and the note says why.
public struct InferShapes: GraphPass {
    public let name = "infer-shapes"
    public let summary = "values -> annotated with inferred types and shapes"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        try Self.applyInputShapes(context.options.inputShapes, to: &model)
        let before = Self.typedValues(model.graph)
        var ranDry = false
        if Self.computesShapes(model.graph), Self.hasStaticInputs(model.graph) {
            if let failure = Self.inferByRunning(&model) {
                context.note("infer-shapes: interpreter: \(failure); using libonnx")
            } else {
                ranDry = true
            }
        }
        if !ranDry || !Self.allShapesStatic(model.graph) {
            let outcome = ONNXChecker.inferShapes(&model)
            if case .notChecked(let reason) = outcome {
                if !ranDry, let failure = Self.inferByRunning(&model) {
                    context.note("infer-shapes: libonnx: \(reason); interpreter: \(failure)")
                }
            } else if outcome != .passed {
                context.note("infer-shapes: \(outcome)")
            }
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

    /// Whether the graph reads the shape of a tensor it computes (a `Shape` or `Size` node).
    static func computesShapes(_ g: Graph) -> Bool {
        g.liveNodes.contains { ($0.node.isOp("Shape") || $0.node.isOp("Size")) && g.constant($0.node.inputs.first ?? nil) == nil }
    }

    /// Whether every graph input without an initializer is a tensor of static shape.
    static func hasStaticInputs(_ g: Graph) -> Bool {
        g.inputs.allSatisfy { g[value: $0].initializer != nil || g[value: $0].type?.tensorShape?.staticDims != nil }
    }

    /// Whether every tensor output of every node has a fully static shape: shape inference
    /// has nothing left to add.
    static func allShapesStatic(_ g: Graph) -> Bool {
        g.liveNodes.allSatisfy { $0.node.outputs.allSatisfy { $0.map { g[value: $0].type?.tensorShape?.staticDims != nil } ?? true } }
    }

    /// Runs the model once on zeros (recording types only, see `RunOptions.recordTypes`) and
    /// gives each value whose shape does not depend on the input numbers
    /// (`ShapeDependence.exactShapes`) the type computed; returns why it could not (a dynamic
    /// input, an unsupported op, a kernel failure) or nil on success.
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
            options.recordTypes = true
            let result = try Interpreter(model: model).run(feeds, options: options)
            let exact = ShapeDependence.exactShapes(model.graph)
            for computed in result.types {
                guard let id = model.graph.valueID(named: computed.name), exact[Int(id.index)] else { continue }
                model.graph.setType(.tensor(computed.dtype, Shape(computed.dims)), of: id)
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
