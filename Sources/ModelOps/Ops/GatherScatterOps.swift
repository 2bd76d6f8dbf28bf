import ModelIR

enum GatherScatterOps {
    static let schemas: [OpSchema] = []
}
