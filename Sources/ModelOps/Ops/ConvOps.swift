import ModelIR

enum ConvOps {
    static let schemas: [OpSchema] = []
}
