import ModelIR

enum GemmOps {
    static let schemas: [OpSchema] = []
}
