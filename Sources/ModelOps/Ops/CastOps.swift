import ModelIR

enum CastOps {
    static let schemas: [OpSchema] = []
}
