import ModelIR

enum PadOps {
    static let schemas: [OpSchema] = []
}
