import ModelIR

enum SliceOps {
    static let schemas: [OpSchema] = []
}
