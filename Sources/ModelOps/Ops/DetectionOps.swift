import ModelIR

enum DetectionOps {
    static let schemas: [OpSchema] = []
}
