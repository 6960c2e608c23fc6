import Testing
@testable import LatheTensor

/// Autograd through the engine checked against central finite differences, in float64.
@Suite("Autograd")
struct AutogradTests {
    /// A tiny conv → relu → linear → cross-entropy model as a function of its parameters.
    private func loss(_ x: Tensor, _ labels: Tensor, _ w1: Tensor, _ w2: Tensor, _ b2: Tensor) throws -> Tensor {
        let h = try x.conv2d(weight: w1, padding: (1, 1)).tanh().flattened(from: 1)
        return try h.linear(weight: w2, bias: b2).crossEntropy(labels: labels)
    }

    @Test func gradientsMatchCentralFiniteDifferences() throws {
        let g = try RandomGenerator(seed: 3)
        let x = try Tensor.randn([2, 1, 4, 4], generator: g).converted(to: .float64)
        let labels = try Tensor([1, 2] as [Int64])
        let w1 = try Tensor.randn([2, 1, 3, 3], generator: g).converted(to: .float64).requiringGrad()
        let w2 = try (Tensor.randn([3, 32], generator: g) * 0.3).converted(to: .float64).requiringGrad()
        let b2 = try Tensor.zeros([3], dtype: .float64).requiringGrad()
        try loss(x, labels, w1, w2, b2).backward()

        let h = 1e-6
        for parameter in [w1, w2, b2] {
            let analytic = try #require(parameter.grad).scalars(as: Double.self)
            for index in stride(from: 0, to: parameter.count, by: Swift.max(1, parameter.count / 7)) {
                let flat = try parameter.reshaped([-1])
                func evaluate(_ delta: Double) throws -> Double {
                    try withNoGrad {
                        let original = try flat.narrowed(0, start: index, length: 1).item()
                        try flat.narrowed(0, start: index, length: 1).fill_(original + delta)
                        defer { try? flat.narrowed(0, start: index, length: 1).fill_(original) }
                        return try loss(x, labels, w1, w2, b2).item()
                    }
                }
                let numeric = (try evaluate(h) - evaluate(-h)) / (2 * h)
                #expect(abs(numeric - analytic[index]) < 1e-6 * Swift.max(1, abs(numeric)),
                        "parameter \(parameter.shape) element \(index): numeric \(numeric) vs autograd \(analytic[index])")
            }
        }
    }

    @Test func noGradScopeRecordsNothing() throws {
        let w = try Tensor.ones([3]).requiringGrad()
        let y = try withNoGrad { try (w * 2).sum() }
        #expect(!y.requiresGrad)
        #expect(Engine.isGradEnabled)
        #expect(throws: TensorError.self) { try y.backward() }
    }

    @Test func gradientsAccumulateUntilZeroed() throws {
        let w = try Tensor([1, 2] as [Float]).requiringGrad()
        try (w * w).sum().backward()
        try (w * w).sum().backward()
        #expect(try #require(w.grad).scalars(as: Float.self) == [4, 8])
        try w.zeroGrad()
        #expect(w.grad == nil)
    }
}
