import ModelIR

enum ReduceOps {
    static let schemas: [OpSchema] = []
}
