import ModelIR

enum NormalizationOps {
    static let schemas: [OpSchema] = []
}
