import ModelIR

enum ResizeOps {
    static let schemas: [OpSchema] = []
}
