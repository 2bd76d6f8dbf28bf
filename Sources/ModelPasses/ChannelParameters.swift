import ModelIR
import ModelOps

/// Helpers for rewrites that fold a per-channel constant into a convolution.
enum ChannelParameters {
    /// The values of a float32 constant that applies one number per output channel of a
    /// rank-`rank` NCHW tensor with `channels` channels: shape [M], [M,1,1], [1,M,1,1]...
    /// (a single value is broadcast to every channel). nil when it broadcasts otherwise.
    static func perChannel(_ t: Tensor?, channels m: Int, rank: Int) -> [Float]? {
        guard let t, t.dtype == .float32, let count = t.elementCount else { return nil }
        if count == 1 { return [Float](repeating: t.elements(Float.self)[0], count: m) }
        guard count == m, t.dims.count <= rank else { return nil }
        // The channel axis is 1 of the conv output; trailing dims must be 1.
        let aligned = [Int](repeating: 1, count: rank - t.dims.count) + t.dims
        guard aligned.count >= 2, aligned[1] == m else { return nil }
        for (k, d) in aligned.enumerated() where k != 1 && d != 1 { return nil }
        return t.elements(Float.self)
    }

    /// The Conv's bias as floats (zeros when absent); nil when it is not a float32 constant.
    static func bias(of conv: Node, in g: Graph, channels m: Int) -> [Float]? {
        guard conv.inputs.count > 2, let b = conv.inputs[2] else { return [Float](repeating: 0, count: m) }
        guard let t = g.constant(b), t.dtype == .float32, t.elementCount == m else { return nil }
        return t.elements(Float.self)
    }
}
