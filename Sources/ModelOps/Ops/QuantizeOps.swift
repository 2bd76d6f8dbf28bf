import ModelIR

enum QuantizeOps {
    static let schemas: [OpSchema] = []
}
