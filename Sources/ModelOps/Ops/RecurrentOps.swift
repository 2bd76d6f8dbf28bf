import ModelIR

enum RecurrentOps {
    static let schemas: [OpSchema] = []
}
