import ModelIR

/// `merge-duplicate-initializers`: initializers with the same dtype, dims and bytes become
/// one (the first in file order); every reader reads it.
///
/// ```
/// before:  %zero_a = initializer float32[64]   (all 0)
///          %zero_b = initializer float32[64]   (all 0)
///          %y = Add(%x, %zero_b) <- add
/// after:   %y = Add(%x, %zero_a) <- add
/// ```
/// Graph inputs with defaults and values subgraphs read by name are left alone.
public struct MergeDuplicateInitializers: GraphPass {
    public let name = "merge-duplicate-initializers"
    public let summary = "identical initializers -> one"

    public init() {}

    public func run(_ model: inout Model, _ context: inout PassContext) throws -> Int {
        var g = model.graph
        var firstByKey: [Key: [ValueID]] = [:]
        var merged = 0
        for id in g.initializers {
            let v = g[value: id]
            guard let t = v.initializer, !v.isGraphInput, !g.isGraphOutput(id), context.isReplaceable(id, in: g) else { continue }
            let key = Key(t)
            let same = firstByKey[key]?.first(where: { g[value: $0].initializer!.isBitwiseEqual(to: t) })
            t.releaseResidentPages()  // read once; the exporter reads it again from the file
            if let same {
                g[value: same].initializer!.releaseResidentPages()  // compared whole
                g.replaceAllUses(of: id, with: same)
                g.removeInitializer(of: id)
                merged += 1
            } else {
                firstByKey[key, default: []].append(id)
            }
        }
        model.graph = g
        return merged
    }

    /// A cheap bucket key: dtype, dims and a hash of the first and last 4 KiB of the bytes.
    /// Equal keys are confirmed byte by byte (`isBitwiseEqual`), so only tensors that may be
    /// duplicates are read whole: distinct weights of one shape differ in their first bytes,
    /// and a 100 MB model's weights are not read (nor paged in) just to be hashed.
    struct Key: Hashable {
        static let sample = 4096
        let dtype: DType
        let dims: [Int]
        let hash: Int
        init(_ t: Tensor) {
            dtype = t.dtype
            dims = t.dims
            var h = Hasher()
            if case .strings(let s) = t.storage {
                h.combine(s)
            } else {
                t.withUnsafeBytes { b in
                    h.combine(b.count)
                    if b.count <= 2 * Key.sample {
                        h.combine(bytes: b)
                    } else {
                        h.combine(bytes: UnsafeRawBufferPointer(rebasing: b[..<Key.sample]))
                        h.combine(bytes: UnsafeRawBufferPointer(rebasing: b[(b.count - Key.sample)...]))
                    }
                }
            }
            hash = h.finalize()
        }
    }
}
