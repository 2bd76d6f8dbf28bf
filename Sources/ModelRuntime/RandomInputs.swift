import ModelIR
import ModelOps

/// Seeded inputs from a model's declared input types.
///
/// Floats are uniform in [0, 1); signed integers uniform in [0, 10); unsigned in [0, 10);
/// bools fair coin flips. The generator is SplitMix64 seeded per input (seed XOR the
/// input's position), so the same seed gives the same inputs on every machine.
public enum RandomInputs {
    public enum Failure: Error, CustomStringConvertible {
        case dynamicDim(input: String, dim: String)
        case unsupportedType(input: String, type: String)
        case unknownInput(String)
        case rankMismatch(input: String, declared: Int, given: Int)

        public var description: String {
            switch self {
            case .dynamicDim(let i, let d):
                return "input '\(i)' has dynamic dim '\(d)': give its shape with --input-shape \(i)=1x3x224x224"
            case .unsupportedType(let i, let t): return "input '\(i)' of type \(t) cannot be generated"
            case .unknownInput(let n): return "--input-shape names '\(n)', which is not an input of the model"
            case .rankMismatch(let i, let d, let g):
                return "--input-shape for '\(i)' has \(g) dims, the model declares \(d)"
            }
        }
    }

    /// Inputs for every graph input without an initializer. `shapes` overrides or completes
    /// declared shapes by input name.
    public static func make(for model: Model, shapes: [String: [Int]] = [:], seed: UInt64) throws(Failure) -> [String: RuntimeValue] {
        let g = model.graph
        let feeds = g.inputs.filter { g[value: $0].initializer == nil }
        for name in shapes.keys where !feeds.contains(where: { g[value: $0].name == name }) {
            throw .unknownInput(name)
        }
        var out: [String: RuntimeValue] = [:]
        for (k, id) in feeds.enumerated() {
            let v = g[value: id]
            guard case .tensor(let dtype, let shape)? = v.type else {
                throw .unsupportedType(input: v.name, type: v.type?.description ?? "unknown")
            }
            var dims: [Int] = []
            if let given = shapes[v.name] {
                if let shape, shape.rank != given.count { throw .rankMismatch(input: v.name, declared: shape.rank, given: given.count) }
                dims = given
            } else {
                guard let shape else { throw .dynamicDim(input: v.name, dim: "rank") }
                for d in shape.dims {
                    guard let n = d.value else { throw .dynamicDim(input: v.name, dim: d.description) }
                    dims.append(n)
                }
            }
            var rng = SplitMix64(seed: seed ^ UInt64(k))
            out[v.name] = .tensor(try tensor(dtype, dims, name: v.name, rng: &rng))
        }
        return out
    }

    static func tensor(_ dtype: DType, _ dims: [Int], name: String, rng: inout SplitMix64) throws(Failure) -> Tensor {
        func unit() -> Double { Double(rng.next() >> 11) * 0x1.0p-53 }
        func small() -> Int { Int(rng.next() % 10) }
        switch dtype {
        case .float32: return Tensor.make(Float.self, dims: dims) { for i in $0.indices { $0[i] = Float(unit()) } }
        case .float64: return Tensor.make(Double.self, dims: dims) { for i in $0.indices { $0[i] = unit() } }
        case .float16: return Tensor.make(Float16.self, dims: dims) { for i in $0.indices { $0[i] = Float16(unit()) } }
        case .int64: return Tensor.make(Int64.self, dims: dims) { for i in $0.indices { $0[i] = Int64(small()) } }
        case .int32: return Tensor.make(Int32.self, dims: dims) { for i in $0.indices { $0[i] = Int32(small()) } }
        case .int8: return Tensor.make(Int8.self, dims: dims) { for i in $0.indices { $0[i] = Int8(small()) } }
        case .uint8: return Tensor.make(UInt8.self, dims: dims) { for i in $0.indices { $0[i] = UInt8(small()) } }
        case .bool: return Tensor.make(Bool.self, dims: dims) { for i in $0.indices { $0[i] = rng.next() & 1 == 1 } }
        default: throw .unsupportedType(input: name, type: dtype.description)
        }
    }
}
