import ModelIR
import ModelOps

/// Tensor elements read as Double for comparison.
enum TensorValues {
    /// The elements of `t` in C order as Double (bool: 0 or 1). Nil for dtypes without a
    /// numeric reading here (string, bfloat16, float8, 4-bit, complex).
    static func doubles(_ t: Tensor) -> [Double]? {
        if t.dtype == .bool { return t.elements(Bool.self).map { $0 ? 1 : 0 } }
        if t.dtype == .float32 {  // the common case, without generic dispatch
            return t.withElements(Float.self) { b in
                [Double](unsafeUninitializedCapacity: b.count) { out, n in
                    for i in 0..<b.count { out[i] = Double(b[i]) }
                    n = b.count
                }
            }
        }
        struct Reader: NumericVisitor {
            let t: Tensor
            func visit<T: NumericElement>(_: T.Type) throws -> [Double] {
                t.withElements(T.self) { buf in buf.map(\.asDouble) }
            }
        }
        return (try? t.dtype.visitNumeric(Reader(t: t))) ?? nil
    }

    /// Whether values of `dtype` can be compared.
    static func isComparable(_ dtype: DType) -> Bool {
        dtype == .bool || (try? dtype.visitNumeric(Probe())) != nil
    }

    private struct Probe: NumericVisitor {
        func visit<T: NumericElement>(_: T.Type) throws -> Bool { true }
    }
}
