import ModelIR

enum BinaryOps {
    static let schemas: [OpSchema] = []
}
