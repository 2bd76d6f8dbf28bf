import ModelIR

enum PoolOps {
    static let schemas: [OpSchema] = []
}
