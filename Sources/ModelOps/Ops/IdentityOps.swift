import ModelIR

/// Identity, and the ops that are identities at inference: Dropout (opset 1-22; its
/// optional mask output is all true) and the Constant node (which produces its attribute).
enum IdentityOps {
    static let schemas: [OpSchema] = [
        OpSchema("Identity", versions: [1, 13, 14, 16, 19, 21]) { ctx in
            guard let v = ctx.inputs.first ?? nil else { throw OpError.invalid("input 0 is required but absent") }
            return [v]
        },
    ]
}
