import Testing
import ModelIR

@Suite("Tensors, dtypes and shapes")
struct TensorTests {
    @Test(arguments: [
        (DType.float32, 3, 12), (.float16, 3, 6), (.bfloat16, 1, 2), (.float64, 2, 16), (.int4, 3, 2),
        (.uint4, 4, 2), (.bool, 5, 5), (.complex64, 2, 16), (.int64, 0, 0), (.float8e5m2, 7, 7),
    ])
    func byteCountsFollowONNXRawLayout(dtype: DType, count: Int, bytes: Int) {
        #expect(dtype.byteCount(elements: count) == bytes)
    }

    @Test func stringHasNoFixedWidth() {
        #expect(DType.string.byteCount(elements: 3) == nil)
    }

    @Test func elementCountOverflowIsDetected() {
        #expect(Shape.elementCount(of: [1 << 62, 8]) == nil)
        #expect(Shape.elementCount(of: [2, -1]) == nil)
        #expect(Shape.elementCount(of: []) == 1)
        #expect(Shape.elementCount(of: [3, 0, 5]) == 0)
    }

    @Test func validationNamesTheTensor() {
        #expect(throws: Tensor.Invalid.self) {
            try Tensor(dtype: .float32, dims: [2, 2], storage: .owned([0, 0, 0, 0]), name: "w")
        }
        do {
            _ = try Tensor(dtype: .float32, dims: [2, 2], storage: .owned([0, 0, 0, 0]), name: "w")
        } catch {
            #expect(error.description == "tensor 'w': dims [2, 2] of float32 need 16 bytes, found 4")
        }
        do {
            _ = try Tensor(dtype: .float32, dims: [1 << 62, 8], storage: .owned([]), name: "huge")
        } catch {
            #expect(error.description.contains("overflows"))
        }
    }

    @Test func stringTensorsCountElements() throws {
        let t = try Tensor(dtype: .string, dims: [2], storage: .strings([Array("a".utf8), []]), name: "s")
        #expect(t.byteCount == 1)
        #expect(throws: Tensor.Invalid.self) {
            try Tensor(dtype: .string, dims: [3], storage: .strings([[]]), name: "s")
        }
    }
}
