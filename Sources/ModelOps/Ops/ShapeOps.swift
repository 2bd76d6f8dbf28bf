import ModelIR

enum ShapeOps {
    static let schemas: [OpSchema] = []
}
