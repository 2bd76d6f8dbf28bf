import ModelIR

/// What a kernel sees of one execution of one node: its attributes, the opset version of
/// its domain, its inputs, and a way to run its subgraphs.
public struct KernelContext {
    public let node: Node
    /// The model's opset version for the node's domain.
    public let opset: Int
    /// One entry per node input; nil where the optional input is absent.
    public let inputs: [RuntimeValue?]
    /// Threads the kernel may use (1: run on the calling thread only).
    public let threads: Int
    /// Runs the subgraph held by attribute `name` (index `index` for a `graphs` attribute)
    /// with `inputs` bound to its graph inputs; the body reads outer values by name.
    public let runSubgraph: (_ name: String, _ index: Int, _ inputs: [RuntimeValue]) throws -> [RuntimeValue]

    public init(node: Node, opset: Int, inputs: [RuntimeValue?], threads: Int = 1,
                runSubgraph: @escaping (String, Int, [RuntimeValue]) throws -> [RuntimeValue] = { name, _, _ in
                    throw OpError.unsupported("subgraph '\(name)' cannot run here")
                }) {
        self.node = node
        self.opset = opset
        self.inputs = inputs
        self.threads = threads
        self.runSubgraph = runSubgraph
    }

    // MARK: Inputs

    public var inputCount: Int { inputs.count }
    /// How many outputs the node has (absent optional outputs included).
    public var outputCount: Int { node.outputs.count }
    /// Whether output `i` is wanted (present in the node).
    public func wantsOutput(_ i: Int) -> Bool { i < node.outputs.count && node.outputs[i] != nil }

    /// Required tensor input `i`.
    public func tensor(_ i: Int) throws -> Tensor {
        guard i < inputs.count, let v = inputs[i] else {
            throw OpError.invalid("input \(i) is required but absent")
        }
        guard let t = v.tensor else { throw OpError.invalid("input \(i) is \(v.typeDescription), expected a tensor") }
        return t
    }

    /// Optional tensor input `i` (nil when absent or an empty optional).
    public func optionalTensor(_ i: Int) -> Tensor? {
        guard i < inputs.count, let v = inputs[i] else { return nil }
        return v.tensor
    }

    // MARK: Attributes

    public func attribute(_ name: String) -> AttributeValue? { node.attributes[named: name] }

    public func int(_ name: String) -> Int? {
        if case .int(let v)? = attribute(name) { return Int(v) }
        return nil
    }
    public func int(_ name: String, default value: Int) -> Int { int(name) ?? value }

    public func ints(_ name: String) -> [Int]? {
        if case .ints(let v)? = attribute(name) { return v.map { Int($0) } }
        return nil
    }

    public func float(_ name: String) -> Float? {
        if case .float(let v)? = attribute(name) { return v }
        return nil
    }
    public func float(_ name: String, default value: Float) -> Float { float(name) ?? value }

    public func floats(_ name: String) -> [Float]? {
        if case .floats(let v)? = attribute(name) { return v }
        return nil
    }

    public func string(_ name: String) -> String? {
        if case .string(let v)? = attribute(name) { return String(decoding: v, as: UTF8.self) }
        return nil
    }
    public func string(_ name: String, default value: String) -> String { string(name) ?? value }

    public func strings(_ name: String) -> [String]? {
        if case .strings(let v)? = attribute(name) { return v.map { String(decoding: $0, as: UTF8.self) } }
        return nil
    }

    public func tensorAttribute(_ name: String) -> Tensor? {
        if case .tensor(let t)? = attribute(name) { return t }
        return nil
    }
}
