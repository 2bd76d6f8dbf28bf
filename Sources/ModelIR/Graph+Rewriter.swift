/// The rewriter: the only API that changes a graph's structure. Each method keeps
/// producers, use-lists, the name index and the node order consistent, so passes never
/// edit use-lists by hand.
extension Graph {
    // MARK: Values

    /// Adds a value with no producer yet. `name` must not be in use in this graph
    /// (see `uniqueName(_:)`).
    @discardableResult
    public mutating func addValue(named name: String, type: ValueType? = nil) -> ValueID {
        precondition(valueIDsByName[name] == nil, "value name '\(name)' already in use")
        let id = ValueID(values.count)
        values.append(Value(name: name, type: type, producer: nil, uses: [], initializer: nil,
                            isGraphInput: false, hasValueInfo: false, docString: ""))
        if !name.isEmpty { valueIDsByName[name] = id }
        return id
    }

    /// A name not yet used in this graph: `base`, or `base_1`, `base_2`...
    public func uniqueName(_ base: String) -> String {
        if valueIDsByName[base] == nil { return base }
        var i = 1
        while valueIDsByName["\(base)_\(i)"] != nil { i += 1 }
        return "\(base)_\(i)"
    }

    /// Renames a value; `name` must be unused.
    public mutating func renameValue(_ id: ValueID, to name: String) {
        precondition(valueIDsByName[name] == nil, "value name '\(name)' already in use")
        let old = values[Int(id.index)].name
        if valueIDsByName[old] == id { valueIDsByName[old] = nil }
        values[Int(id.index)].name = name
        if !name.isEmpty { valueIDsByName[name] = id }
        if var t = values[Int(id.index)].initializer {
            t.name = name
            values[Int(id.index)].initializer = t
        }
    }

    /// Makes every use of `old` read `new` and erases `old`'s producer when nothing else
    /// needs it. When `old` is a graph output, the output keeps its name: `new` takes it
    /// over if it can (a node output that is not itself an interface value); otherwise
    /// nothing changes and the call returns false.
    @discardableResult
    public mutating func bypass(_ old: ValueID, with new: ValueID) -> Bool {
        if outputs.contains(old) {
            let n = values[Int(new.index)]
            guard n.producer != nil, !outputs.contains(new), !n.isGraphInput else { return false }
            let name = values[Int(old.index)].name
            let type = values[Int(old.index)].type
            replaceAllUses(of: old, with: new)
            // Free the output's name, then give it to the surviving value.
            renameValue(old, to: uniqueName(name + "__bypassed"))
            renameValue(new, to: name)
            if type != nil { values[Int(new.index)].type = type }
        } else {
            replaceAllUses(of: old, with: new)
        }
        if let p = values[Int(old.index)].producer {
            let node = self[node: p]
            if node.outputs.allSatisfy({ $0 == nil || values[Int($0!.index)].uses.isEmpty && !outputs.contains($0!) }) {
                eraseNode(p)
            }
        }
        return true
    }

    /// Sets a value's type annotation.
    public mutating func setType(_ type: ValueType?, of id: ValueID) {
        values[Int(id.index)].type = type
    }

    /// Records that the source declared `id` in `value_info`, with its doc string.
    public mutating func markValueInfo(_ id: ValueID, docString: String = "") {
        values[Int(id.index)].hasValueInfo = true
        values[Int(id.index)].docString = docString
    }

    /// Appends `id` to the graph inputs.
    public mutating func appendInput(_ id: ValueID) {
        values[Int(id.index)].isGraphInput = true
        inputs.append(id)
    }

    /// Makes `id` an initializer holding `tensor` (appended to the initializer order).
    public mutating func setInitializer(_ tensor: Tensor, of id: ValueID) {
        if values[Int(id.index)].initializer == nil { initializers.append(id) }
        values[Int(id.index)].initializer = tensor
        if values[Int(id.index)].type == nil {
            values[Int(id.index)].type = .tensor(tensor.dtype, Shape(tensor.dims))
        }
    }

    /// Removes the initializer of `id` (the value stays, with no contents).
    public mutating func removeInitializer(of id: ValueID) {
        values[Int(id.index)].initializer = nil
        initializers.removeAll { $0 == id }
    }

    /// Replaces the graph outputs.
    public mutating func setOutputs(_ ids: [ValueID]) { outputs = ids }

    /// Replaces the graph inputs.
    public mutating func setInputs(_ ids: [ValueID]) {
        for id in inputs { values[Int(id.index)].isGraphInput = false }
        inputs = ids
        for id in ids { values[Int(id.index)].isGraphInput = true }
    }

    // MARK: Nodes

    /// Appends a node at the end of the order. Every output must be a value with no
    /// producer yet (made with `addValue`).
    @discardableResult
    public mutating func appendNode(_ opType: String, domain: String = "", name: String,
                                    inputs: [ValueID?], outputs: [ValueID?],
                                    attributes: [Attribute] = [], provenance: [String]? = nil,
                                    docString: String = "") -> NodeID {
        let id = addNodeSlot(opType, domain: domain, name: name, inputs: inputs, outputs: outputs,
                             attributes: attributes, provenance: provenance, docString: docString)
        order.append(id)
        return id
    }

    /// Inserts a node just before `anchor` in the order (see `appendNode` for the rules).
    @discardableResult
    public mutating func insertNode(_ opType: String, domain: String = "", name: String,
                                    inputs: [ValueID?], outputs: [ValueID?],
                                    attributes: [Attribute] = [], provenance: [String]? = nil,
                                    before anchor: NodeID) -> NodeID {
        let id = addNodeSlot(opType, domain: domain, name: name, inputs: inputs, outputs: outputs,
                             attributes: attributes, provenance: provenance, docString: "")
        let at = order.firstIndex(of: anchor) ?? order.count
        order.insert(id, at: at)
        return id
    }

    private mutating func addNodeSlot(_ opType: String, domain: String, name: String,
                                      inputs: [ValueID?], outputs: [ValueID?],
                                      attributes: [Attribute], provenance: [String]?,
                                      docString: String) -> NodeID {
        let id = NodeID(nodes.count)
        for case let out? in outputs {
            precondition(values[Int(out.index)].producer == nil,
                         "value '\(values[Int(out.index)].name)' already has a producer")
            values[Int(out.index)].producer = id
        }
        for (i, input) in inputs.enumerated() {
            if let input { values[Int(input.index)].uses.append(Use(node: id, input: i)) }
        }
        nodes.append(Node(opType: opType, domain: domain, name: name, attributes: attributes,
                          inputs: inputs, outputs: outputs, provenance: provenance ?? [name],
                          docString: docString))
        return id
    }

    /// Changes input `index` of `node` to `value` (nil: the optional input is omitted).
    public mutating func setInput(_ index: Int, of node: NodeID, to value: ValueID?) {
        let n = Int(node.index)
        if let old = nodes[n]!.inputs[index] {
            values[Int(old.index)].uses.removeAll { $0 == Use(node: node, input: index) }
        }
        nodes[n]!.inputs[index] = value
        if let value { values[Int(value.index)].uses.append(Use(node: node, input: index)) }
    }

    /// Replaces a node's provenance (the importer restores it from a model's metadata).
    public mutating func setProvenance(_ names: [String], of node: NodeID) {
        nodes[Int(node.index)]!.provenance = names
    }

    /// Adds source names to a node's provenance (a fused node carries every name it absorbed).
    public mutating func mergeProvenance(_ names: [String], into node: NodeID) {
        let n = Int(node.index)
        for name in names where !nodes[n]!.provenance.contains(name) { nodes[n]!.provenance.append(name) }
    }

    /// Feeds input `index` of `node` from a constant `tensor`: the current initializer is
    /// updated in place when this node is its only reader, otherwise a new initializer named
    /// after it with `suffix` is added. Returns the value now read.
    @discardableResult
    public mutating func setConstantInput(_ index: Int, of node: NodeID, to tensor: Tensor, suffix: String) -> ValueID {
        let n = Int(node.index)
        if index < nodes[n]!.inputs.count, let old = nodes[n]!.inputs[index] {
            let v = values[Int(old.index)]
            if v.initializer != nil, !v.isGraphInput, v.uses.count == 1, !outputs.contains(old) {
                var t = tensor
                t.name = v.name
                values[Int(old.index)].initializer = t
                values[Int(old.index)].type = .tensor(t.dtype, Shape(t.dims))
                return old
            }
        }
        let base = index < nodes[n]!.inputs.count ? nodes[n]!.inputs[index].map { values[Int($0.index)].name } : nil
        let id = addValue(named: uniqueName((base ?? nodes[n]!.displayName) + suffix))
        var t = tensor
        t.name = values[Int(id.index)].name
        setInitializer(t, of: id)
        while nodes[n]!.inputs.count <= index { nodes[n]!.inputs.append(nil) }
        setInput(index, of: node, to: id)
        return id
    }

    /// Sets the annotation `key` of a node to `value` (nil removes it). Annotations are notes
    /// for backends that the ONNX exporter does not write.
    public mutating func setAnnotation(_ key: String, _ value: String?, of node: NodeID) {
        nodes[Int(node.index)]!.annotations[key] = value
    }

    /// Replaces the node's attributes.
    public mutating func setAttributes(_ attributes: [Attribute], of node: NodeID) {
        nodes[Int(node.index)]!.attributes = attributes
    }

    /// Makes every use of `old` (node inputs and graph outputs) read `new` instead.
    public mutating func replaceAllUses(of old: ValueID, with new: ValueID) {
        guard old != new else { return }
        let uses = values[Int(old.index)].uses
        values[Int(old.index)].uses = []
        for use in uses {
            nodes[Int(use.node.index)]!.inputs[use.input] = new
            values[Int(new.index)].uses.append(use)
        }
        outputs = outputs.map { $0 == old ? new : $0 }
    }

    /// Removes a node. Its outputs must have no remaining uses; they stay as values
    /// without a producer (unreferenced values are not exported).
    public mutating func eraseNode(_ id: NodeID) {
        let node = self[node: id]
        for case let out? in node.outputs {
            precondition(values[Int(out.index)].uses.isEmpty,
                         "erasing node '\(node.name)' whose output '\(values[Int(out.index)].name)' is still used")
            values[Int(out.index)].producer = nil
        }
        for (i, input) in node.inputs.enumerated() {
            if let input { values[Int(input.index)].uses.removeAll { $0 == Use(node: id, input: i) } }
        }
        nodes[Int(id.index)] = nil
        order.removeAll { $0 == id }
    }

    /// Turns a node output into an initializer holding `tensor`, keeping its name and uses
    /// (graph outputs keep their names). The producing node loses that output; a node left
    /// with no outputs is erased.
    public mutating func makeConstant(_ id: ValueID, _ tensor: Tensor) {
        if let p = values[Int(id.index)].producer {
            let n = Int(p.index)
            if let k = nodes[n]!.outputs.firstIndex(of: id) { nodes[n]!.outputs[k] = nil }
            values[Int(id.index)].producer = nil
            if nodes[n]!.outputs.allSatisfy({ $0 == nil }) { eraseNode(p) }
        }
        var t = tensor
        t.name = values[Int(id.index)].name
        values[Int(id.index)].initializer = nil
        initializers.removeAll { $0 == id }
        setInitializer(t, of: id)
        if case .tensor? = values[Int(id.index)].type {
            values[Int(id.index)].type = .tensor(tensor.dtype, Shape(tensor.dims))
        }
    }

    /// Removes initializers nothing reads (not node inputs, not graph outputs, not graph
    /// inputs' defaults, not read by name from a subgraph). Returns how many.
    @discardableResult
    public mutating func removeUnusedInitializers(keeping names: Set<String> = []) -> Int {
        let outputs = Set(self.outputs)
        let dead = initializers.filter { id in
            let v = values[Int(id.index)]
            return v.uses.isEmpty && !outputs.contains(id) && !v.isGraphInput && !names.contains(v.name)
        }
        for id in dead { removeInitializer(of: id) }
        return dead.count
    }

    /// Replaces the subgraphs of a node attribute (for passes that rewrite bodies).
    public mutating func setSubgraph(_ graph: Graph, attribute name: String, of node: NodeID) {
        let n = Int(node.index)
        guard let i = nodes[n]!.attributes.firstIndex(where: { $0.name == name }) else { return }
        nodes[n]!.attributes[i].value = .graph(graph)
    }

    // MARK: Order

    /// Reorders the live nodes topologically, keeping the current order wherever the
    /// dependencies allow (a stable Kahn sort: deterministic). Returns the nodes left on a
    /// cycle, in order, or an empty array on success (the order is unchanged then only if
    /// it was already topological).
    @discardableResult
    public mutating func sortTopologically() -> [NodeID] {
        // position[node index]: the node's place in the current order (-1: not live).
        var position = [Int](repeating: -1, count: nodes.count)
        for (k, id) in order.enumerated() { position[Int(id.index)] = k }
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[NodeID]](repeating: [], count: nodes.count)
        for id in order {
            for case let input? in self[node: id].inputs {
                if let p = values[Int(input.index)].producer, position[Int(p.index)] >= 0 {
                    pending[Int(id.index)] += 1
                    consumers[Int(p.index)].append(id)
                }
            }
        }
        // The ready nodes as a min-heap of their old positions: the next node is always the
        // earliest ready one, so an order that is already topological stays as it is.
        // O(n log n) even when thousands are ready at once (a transformer's Constant nodes).
        var heap: [Int] = []
        heap.reserveCapacity(order.count)
        func push(_ p: Int) {
            heap.append(p)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard heap[parent] > heap[i] else { break }
                heap.swapAt(parent, i)
                i = parent
            }
        }
        func pop() -> Int {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count, heap[l] < heap[m] { m = l }
                    if r < heap.count, heap[r] < heap[m] { m = r }
                    if m == i { break }
                    heap.swapAt(i, m)
                    i = m
                }
            }
            return top
        }
        for (k, id) in order.enumerated() where pending[Int(id.index)] == 0 { push(k) }
        var sorted: [NodeID] = []
        sorted.reserveCapacity(order.count)
        while !heap.isEmpty {
            let id = order[pop()]
            sorted.append(id)
            for c in consumers[Int(id.index)] {
                pending[Int(c.index)] -= 1
                if pending[Int(c.index)] == 0 { push(position[Int(c.index)]) }
            }
        }
        if sorted.count < order.count {
            let done = Set(sorted)
            return order.filter { !done.contains($0) }
        }
        order = sorted
        return []
    }
}
