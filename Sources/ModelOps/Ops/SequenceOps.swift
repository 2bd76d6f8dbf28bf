import ModelIR

enum SequenceOps {
    static let schemas: [OpSchema] = []
}
