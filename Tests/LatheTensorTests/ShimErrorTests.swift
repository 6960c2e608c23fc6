import Testing
@testable import LatheTensor

@Suite("Engine errors surface as Swift errors")
struct ShimErrorTests {
    @Test func shapeMismatchThrowsInsteadOfCrashing() throws {
        let a = try Tensor.ones([2, 3])
        let b = try Tensor.ones([4, 5])
        let error = #expect(throws: TensorError.self) { try a.matmul(b) }
        #expect(error?.operation.hasPrefix("matmul") == true)
        #expect(error?.message.contains("cannot be multiplied") == true)
        // The message is libtorch's, without the C++ backtrace.
        #expect(error?.message.contains("frame #") == false)
    }

    @Test func convolutionWithWrongChannelsThrows() throws {
        let x = try Tensor.zeros([1, 3, 8, 8])
        let w = try Tensor.zeros([4, 2, 3, 3])
        #expect(throws: TensorError.self) { try x.conv2d(weight: w) }
        // The process is still usable after the error.
        let ok = try x.conv2d(weight: Tensor.zeros([4, 3, 3, 3]))
        #expect(ok.shape == [1, 4, 6, 6])
    }

    @Test func valueCountMismatchIsRejectedBeforeTheEngine() {
        #expect(throws: TensorError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
    }

    @Test func itemOfManyElementsThrows() throws {
        #expect(throws: TensorError.self) { try Tensor.ones([3]).item() }
    }
}
