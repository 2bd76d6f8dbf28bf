import ModelIR

enum SoftmaxOps {
    static let schemas: [OpSchema] = []
}
