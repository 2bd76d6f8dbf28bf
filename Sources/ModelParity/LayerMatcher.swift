import ModelIR

/// A candidate value paired with the reference value it should reproduce.
public struct LayerMatch: Sendable, Equatable {
    public var referenceValue: String
    /// The reference node's display name, and its op.
    public var referenceNode: String
    public var referenceOp: String
    public var candidateValue: String
    public var candidateNode: String
    public var candidateOp: String
    /// `name` (same value name) or `provenance` (the candidate node's provenance names the
    /// reference node).
    public var matchedBy: String

    public init(referenceValue: String, referenceNode: String, referenceOp: String, candidateValue: String,
                candidateNode: String, candidateOp: String, matchedBy: String) {
        self.referenceValue = referenceValue
        self.referenceNode = referenceNode
        self.referenceOp = referenceOp
        self.candidateValue = candidateValue
        self.candidateNode = candidateNode
        self.candidateOp = candidateOp
        self.matchedBy = matchedBy
    }

    var json: JSON {
        .object([
            "reference_value": .string(referenceValue), "reference_node": .string(referenceNode),
            "reference_op": .string(referenceOp), "candidate_value": .string(candidateValue),
            "candidate_node": .string(candidateNode), "candidate_op": .string(candidateOp),
            "matched_by": .string(matchedBy),
        ])
    }

    init?(json: JSON) {
        guard let rv = json["reference_value"]?.stringValue, let rn = json["reference_node"]?.stringValue,
              let ro = json["reference_op"]?.stringValue, let cv = json["candidate_value"]?.stringValue,
              let cn = json["candidate_node"]?.stringValue, let co = json["candidate_op"]?.stringValue,
              let by = json["matched_by"]?.stringValue else { return nil }
        self.init(referenceValue: rv, referenceNode: rn, referenceOp: ro, candidateValue: cv, candidateNode: cn,
                  candidateOp: co, matchedBy: by)
    }
}

/// Pairs the values computed by a candidate graph with those of its reference, for
/// per-layer parity. Only the main graphs' node outputs take part (not graph inputs,
/// initializers or subgraph values).
///
/// A candidate value produced as output k of node N matches:
/// 1. by name: the reference value of the same name, when a reference node produces it;
/// 2. by provenance: output k of the reference node that comes last in the reference's
///    execution order among those whose name or provenance is in N's provenance (a fused
///    node's output is its last source node's output). This applies when there is no name
///    match, and also overrides one whose producer comes before that last source node: a
///    pass that folds BatchNormalization into Conv may keep the Conv's output name for a
///    value that is now the BatchNormalization's.
///
/// Each reference value keeps one candidate: a name match over a provenance match, else the
/// candidate value that comes later in the candidate's order (the end of a lowered chain).
/// The result is in the reference's execution order (its stable topological order, the
/// order the interpreter runs).
public enum LayerMatcher {
    public static func match(reference: Graph, candidate: Graph) -> [LayerMatch] {
        var ref = reference
        ref.sortTopologically()
        var cand = candidate
        cand.sortTopologically()

        // Reference produced values by name, and reference nodes by the source names they carry.
        var refByName: [String: (position: Int, output: Int)] = [:]
        var refBySource: [String: [Int]] = [:]
        let refNodes = ref.liveNodes
        for (position, (_, node)) in refNodes.enumerated() {
            for (k, out) in node.outputs.enumerated() {
                guard let out else { continue }
                refByName[ref[value: out].name] = (position, k)
            }
            for source in Set(node.provenance + [node.name]) where !source.isEmpty {
                refBySource[source, default: []].append(position)
            }
        }

        struct Pick { var match: LayerMatch; var byName: Bool; var candidatePosition: Int; var refKey: (Int, Int) }
        var picks: [String: Pick] = [:]
        for (candidatePosition, (_, node)) in cand.liveNodes.enumerated() {
            for (k, out) in node.outputs.enumerated() {
                guard let out else { continue }
                let name = cand[value: out].name
                var found: (position: Int, output: Int, byName: Bool)? = nil
                if let r = refByName[name] { found = (r.position, r.output, true) }
                let positions = node.provenance.flatMap { refBySource[$0] ?? [] }
                if let last = positions.max(), last > (found?.position ?? -1),
                   k < refNodes[last].node.outputs.count, refNodes[last].node.outputs[k] != nil {
                    // No name match, or the node also computes source nodes that come after
                    // the same-named value (a fused Conv+BN keeping the Conv's output name).
                    found = (last, k, false)
                }
                guard let found else { continue }
                let refNode = refNodes[found.position].node
                let refValue = ref[value: refNode.outputs[found.output]!].name
                let m = LayerMatch(referenceValue: refValue, referenceNode: refNode.displayName, referenceOp: refNode.opType,
                                   candidateValue: name, candidateNode: node.displayName, candidateOp: node.opType,
                                   matchedBy: found.byName ? "name" : "provenance")
                let pick = Pick(match: m, byName: found.byName, candidatePosition: candidatePosition,
                                refKey: (found.position, found.output))
                if let old = picks[refValue] {
                    if old.byName && !found.byName { continue }
                    if old.byName == found.byName && old.candidatePosition > candidatePosition { continue }
                }
                picks[refValue] = pick
            }
        }
        return picks.values.sorted { $0.refKey < $1.refKey }.map(\.match)
    }
}
