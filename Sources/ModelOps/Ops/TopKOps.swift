import ModelIR

enum TopKOps {
    static let schemas: [OpSchema] = []
}
