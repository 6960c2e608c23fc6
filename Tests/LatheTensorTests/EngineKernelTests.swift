import Testing
@testable import LatheTensor

/// The shim's own choices of kernel and threading: what it does differently from a plain
/// libtorch call must give the same function.
@Suite("Engine kernels and threads")
struct EngineKernelTests {
    /// A 1×1 conv (stride 1, no padding, one group) runs as a batched matrix product in the shim;
    /// the same conv with dilation 2 (which a 1×1 kernel ignores) still takes libtorch's conv.
    @Test(arguments: [true, false]) func pointwiseConvMatchesLibtorchConv(bias: Bool) throws {
        let generator = try RandomGenerator(seed: 7)
        let x = try Tensor.randn([3, 5, 4, 6], generator: generator).requiringGrad()
        let w = try Tensor.randn([7, 5, 1, 1], generator: generator).requiringGrad()
        let b = bias ? try Tensor.randn([7], generator: generator).requiringGrad() : nil
        let fast = try x.conv2d(weight: w, bias: b)
        let reference = try x.conv2d(weight: w, bias: b, dilation: (2, 2))
        #expect(fast.shape == [3, 7, 4, 6])
        #expect(try (fast - reference).abs().max().item() < 1e-5)
        // Gradients through both paths agree (a weighted sum, so that every output matters).
        let weights = try Tensor.randn([3, 7, 4, 6], generator: generator)
        try (fast * weights).sum().backward()
        let (gx, gw, gb) = (try #require(x.grad).clone(), try #require(w.grad).clone(), try b.map { try #require($0.grad).clone() })
        for t in [x, w] + (b.map { [$0] } ?? []) { try t.zeroGrad() }
        try (reference * weights).sum().backward()
        #expect(try (gx - #require(x.grad)).abs().max().item() < 1e-4)
        #expect(try (gw - #require(w.grad)).abs().max().item() < 1e-4)
        if let gb, let b { #expect(try (gb - #require(b.grad)).abs().max().item() < 1e-4) }
    }

    /// A non-contiguous input (a channels-last view) and an input whose channels disagree with
    /// the weight: the first computes the same, the second is libtorch's error, not a crash.
    @Test func pointwiseConvOnViewsAndMismatches() throws {
        let generator = try RandomGenerator(seed: 8)
        let nhwc = try Tensor.randn([2, 4, 3, 5], generator: generator)
        let x = try nhwc.permuted([0, 3, 1, 2])
        let w = try Tensor.randn([6, 5, 1, 1], generator: generator)
        let fast = try x.conv2d(weight: w)
        let reference = try x.contiguous().conv2d(weight: w, dilation: (2, 2))
        #expect(try (fast - reference).abs().max().item() < 1e-5)
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 4, 3, 3]).conv2d(weight: w) }
    }

    /// `Engine.threads` reaches OpenBLAS (Debian's libtorch multiplies through it), so that a
    /// 1-thread run is one thread in its GEMMs too.
    @Test func threadCountReachesTheBLAS() throws {
        Engine.threads = 1
        #expect(Engine.blasThreads == 1)
    }
}
