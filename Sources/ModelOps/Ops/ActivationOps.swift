import ModelIR

enum ActivationOps {
    static let schemas: [OpSchema] = []
}
