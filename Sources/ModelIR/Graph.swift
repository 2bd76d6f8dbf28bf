/// Index of a value in its graph's `values` array.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int32
    public init(_ index: Int) { self.index = Int32(index) }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }
    public var description: String { "v\(index)" }
}

/// Index of a node in its graph's `nodes` array. IDs are never reused: an erased node
/// leaves a hole.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int32
    public init(_ index: Int) { self.index = Int32(index) }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.index < b.index }
    public var description: String { "n\(index)" }
}

/// One use of a value: input `input` of node `node`.
public struct Use: Hashable, Sendable {
    public let node: NodeID
    public let input: Int
    public init(node: NodeID, input: Int) {
        self.node = node
        self.input = input
    }
}

/// An SSA value: produced by exactly one node, or a graph input, an initializer, or a
/// reference to a value of an enclosing graph (inside If/Loop/Scan bodies).
public struct Value: Sendable {
    public var name: String
    /// Type and shape when known (from the model's declarations or shape inference).
    public var type: ValueType?
    /// The producing node; nil for inputs, initializers and outer references.
    public internal(set) var producer: NodeID?
    /// Every node input that reads this value, in no particular order.
    public internal(set) var uses: [Use]
    /// The constant contents when this value is an initializer.
    public var initializer: Tensor?
    /// Whether the value is listed in the graph's inputs (an input with an initializer
    /// is an input whose default the initializer gives, as IR version < 4 allowed).
    public internal(set) var isGraphInput: Bool
    /// Whether the source model declared this value's type in `value_info`.
    public var hasValueInfo: Bool
    /// The `doc_string` of the value's declaration.
    public var docString: String

    /// True when nothing in this graph defines the value: it must come from an enclosing
    /// graph's scope (or, at the top level, it is undefined: the verifier says so).
    public var isOuterReference: Bool { producer == nil && initializer == nil && !isGraphInput }
}

/// An operator application. Inputs and outputs may be absent (`nil`), as ONNX's empty
/// names mark omitted optional inputs and outputs.
public struct Node: Sendable {
    public var opType: String
    /// The operator set domain; "" is the default ONNX domain (`ai.onnx`).
    public var domain: String
    /// The node's name (unique names are not required by ONNX; the importer makes them so).
    public var name: String
    public var attributes: [Attribute]
    public internal(set) var inputs: [ValueID?]
    public internal(set) var outputs: [ValueID?]
    /// The names of the source-model nodes this node came from. A node as imported carries
    /// its own name; rewrites that fuse or lower nodes carry the union of theirs.
    public var provenance: [String]
    public var docString: String
    /// Notes for backends that are not ONNX attributes (`fused_activation=Relu` on a Conv).
    /// The printer shows them; the ONNX exporter never writes them. Change them with
    /// `Graph.setAnnotation(_:_:of:)`.
    public var annotations: [String: String] = [:]

    /// The name to show a person: `name`, or for an unnamed node its first provenance
    /// entry (the importer's `OpType_index`).
    public var displayName: String { name.isEmpty ? (provenance.first ?? opType) : name }

    /// Swaps inputs 0 and 1 of this copy (for pattern matching on commutative ops; does not
    /// touch any graph).
    public mutating func swapFirstTwoInputs() {
        guard inputs.count >= 2 else { return }
        inputs.swapAt(0, 1)
    }

    /// Sets input `index` of this copy, appending absent inputs up to it (for execution
    /// plans that run a node with an extra operand; does not touch any graph).
    public mutating func setDetachedInput(_ index: Int, to value: ValueID?) {
        while inputs.count <= index { inputs.append(nil) }
        inputs[index] = value
    }

    /// The inputs that are present.
    public var presentInputs: [ValueID] { inputs.compactMap { $0 } }
    /// The subgraphs held by this node's attributes, in attribute order.
    public var subgraphs: [Graph] { attributes.flatMap(\.subgraphs) }
}

/// A computation graph: values and nodes in arrays addressed by typed IDs.
///
/// `Graph` is a value type; `let before = graph` is a cheap snapshot (copy-on-write).
/// All structural mutation goes through the rewriter methods in `Graph+Rewriter.swift`,
/// which keep producers and use-lists consistent.
public struct Graph: Sendable {
    public var name: String
    public var docString: String
    public internal(set) var values: [Value] = []
    /// Node slots; erased nodes are nil.
    public internal(set) var nodes: [Node?] = []
    /// The live nodes in execution order (the source order, then rewrites' insertions).
    public internal(set) var order: [NodeID] = []
    public internal(set) var inputs: [ValueID] = []
    public internal(set) var outputs: [ValueID] = []
    /// Initializers in their source order (values whose `initializer` is set).
    public internal(set) var initializers: [ValueID] = []
    /// ONNX `quantization_annotation`, carried through: tensor name and key/value pairs.
    public var quantizationAnnotations: [(tensor: String, entries: [(String, String)])] = []
    var valueIDsByName: [String: ValueID] = [:]

    public init(name: String = "", docString: String = "") {
        self.name = name
        self.docString = docString
    }

    public subscript(value id: ValueID) -> Value { values[Int(id.index)] }
    public subscript(node id: NodeID) -> Node { nodes[Int(id.index)]! }

    /// The value named `name`, if this graph defines or references it.
    public func valueID(named name: String) -> ValueID? { valueIDsByName[name] }

    /// Names this graph (and the subgraphs inside it) reads from enclosing scopes: values
    /// nothing here defines.
    public var outerReferenceNames: Set<String> {
        var names = Set(values.filter(\.isOuterReference).map(\.name))
        for (_, node) in liveNodes {
            for sub in node.subgraphs {
                for n in sub.outerReferenceNames where valueID(named: n).map({ self[value: $0].isOuterReference }) ?? true {
                    names.insert(n)
                }
            }
        }
        return names
    }

    /// The live nodes in `order`.
    public var liveNodes: [(id: NodeID, node: Node)] { order.map { ($0, self[node: $0]) } }

    /// The number of live nodes.
    public var nodeCount: Int { order.count }

    /// Live nodes of this graph and, recursively, of every subgraph.
    public var totalNodeCount: Int {
        order.reduce(0) { n, id in n + 1 + self[node: id].subgraphs.reduce(0) { $0 + $1.totalNodeCount } }
    }
}
