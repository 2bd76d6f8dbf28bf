import ModelIR

enum ConstantOps {
    static let schemas: [OpSchema] = []
}
