import ModelIR

enum UnaryOps {
    static let schemas: [OpSchema] = []
}
