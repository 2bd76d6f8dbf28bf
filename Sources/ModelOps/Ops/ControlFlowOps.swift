import ModelIR

enum ControlFlowOps {
    static let schemas: [OpSchema] = []
}
