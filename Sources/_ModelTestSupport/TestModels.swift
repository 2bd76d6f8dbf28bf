import ModelIR

/// Small models built through the IR's own API, for tests of the importer, exporter and
/// verifier. Their numbers are seeded and their expected behaviour is stated by each test.
public enum TestModels {
    /// A float32 tensor of `dims` with seeded values in [-1, 1).
    public static func randomFloats(_ dims: [Int], seed: UInt64, name: String = "") -> Tensor {
        var rng = SplitMix64(seed: seed)
        let count = dims.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = Float.random(in: -1..<1, using: &rng) }
        let bytes = values.withUnsafeBytes { Array($0) }
        return Tensor(unchecked: .float32, dims: dims, storage: .owned(bytes), name: name)
    }

    /// An int64 tensor holding `values`.
    public static func int64s(_ values: [Int64], dims: [Int]? = nil, name: String = "") -> Tensor {
        Tensor(unchecked: .int64, dims: dims ?? [values.count], storage: .owned(values.withUnsafeBytes { Array($0) }), name: name)
    }

    /// x[1,3,8,8] -> Conv(4 filters, 3x3, pad 1) -> Relu -> Reshape -> y[1,256], opset 17.
    public static func convRelu(weightSeed: UInt64 = 1) -> Model {
        var g = Graph(name: "conv_relu")
        let x = g.addValue(named: "x", type: .tensor(.float32, Shape([1, 3, 8, 8])))
        g.appendInput(x)
        let w = g.addValue(named: "w")
        g.setInitializer(randomFloats([4, 3, 3, 3], seed: weightSeed, name: "w"), of: w)
        let b = g.addValue(named: "b")
        g.setInitializer(randomFloats([4], seed: weightSeed + 1, name: "b"), of: b)
        let shape = g.addValue(named: "shape")
        g.setInitializer(int64s([1, 256], name: "shape"), of: shape)
        let c = g.addValue(named: "c")
        g.appendNode("Conv", name: "conv1", inputs: [x, w, b], outputs: [c],
                     attributes: [Attribute("kernel_shape", .ints([3, 3])), Attribute("pads", .ints([1, 1, 1, 1]))])
        let r = g.addValue(named: "r")
        g.appendNode("Relu", name: "relu1", inputs: [c], outputs: [r])
        let y = g.addValue(named: "y", type: .tensor(.float32, Shape([1, 256])))
        g.appendNode("Reshape", name: "flatten", inputs: [r, shape], outputs: [y])
        g.setOutputs([y])
        return Model(graph: g, irVersion: 8, opsetImports: [OpsetImport(domain: "", version: 17)],
                     producerName: "modelconv-tests")
    }
}
