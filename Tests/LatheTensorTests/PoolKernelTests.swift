import Testing
@testable import LatheTensor

/// Lathe's own max-pool kernel (Sources/CTorch/pool.cpp) must be indistinguishable from ATen's:
/// the same outputs, the same element chosen on ties, the same NaN propagation, hence bitwise
/// equal gradients, in every shape it takes over.
@Suite("Max-pool kernel vs ATen")
struct PoolKernelTests {
    /// Deterministic values: continuous, heavily tied (small integers, many zeros as after a
    /// ReLU), or tied with NaN and ±inf mixed in.
    enum Values: CaseIterable { case continuous, tied, special }

    static func values(_ kind: Values, count: Int, seed: UInt64) -> [Double] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        return (0..<count).map { _ in
            let r = next()
            switch kind {
            case .continuous: return Double(r % 100_000) / 1000 - 50
            case .tied: return r % 3 == 0 ? 0 : Double(r % 4)
            case .special:
                switch r % 10 {
                case 0: return .nan
                case 1: return -.infinity
                case 2: return .infinity
                default: return Double(r % 3)
                }
            }
        }
    }

    /// Bit patterns, so NaN == NaN and -0 != +0.
    static func bits(_ t: Tensor) throws -> [UInt64] {
        try t.scalars(as: Double.self).map(\.bitPattern)
    }

    /// How many elements differ (every element when the counts differ), to keep failures short.
    static func differences(_ a: [UInt64], _ b: [UInt64]) -> Int {
        a.count == b.count ? zip(a, b).filter { $0 != $1 }.count : max(a.count, b.count)
    }

    /// Pools `values` with both kernels and compares outputs and input gradients bit for bit.
    static func compare(shape: [Int], kernel: Int, values: [Double], dtype: DType, transpose: Bool = false) throws {
        var upstream = Self.values(.continuous, count: 10_000, seed: 99)
        for i in stride(from: 0, to: upstream.count, by: 7) { upstream[i] = -0.0 }  // ATen's backward turns -0 into +0
        func run(_ pool: (Tensor) throws -> Tensor) throws -> (output: [UInt64], grad: [UInt64]) {
            var x = try Tensor(values, shape: shape).converted(to: dtype)
            if transpose { x = try x.transposed(shape.count - 2, shape.count - 1) }
            x = try x.requiringGrad()
            let y = try pool(x)
            let g = try Tensor(Array(upstream.prefix(y.count)), shape: y.shape).converted(to: dtype)
            try (y * g).sum().backward()
            guard let grad = x.grad else { throw TensorError("test", "no gradient") }
            return (try bits(y), try bits(grad))
        }
        let lathe = try run { try $0.maxPool2d(kernel: kernel) }
        let aten = try run { try $0.atenMaxPool2d(kernel: kernel) }
        #expect(Self.differences(lathe.output, aten.output) == 0, "outputs: shape \(shape) kernel \(kernel) \(dtype)")
        #expect(Self.differences(lathe.grad, aten.grad) == 0, "gradients: shape \(shape) kernel \(kernel) \(dtype)")
    }

    @Test(arguments: Values.allCases)
    func equalToATenForwardAndBackward(kind: Values) throws {
        // 2x2 on even and odd sizes (the SSE2 path and its scalar tail, floor mode), 3x3 and 5x5
        // (the generic path), a 3-D input, widths that are not a multiple of 8.
        let cases: [([Int], Int)] = [
            ([4, 3, 8, 8], 2), ([2, 5, 7, 19], 2), ([3, 2, 28, 28], 2), ([2, 3, 9, 11], 3), ([3, 6, 6], 3), ([2, 2, 10, 10], 5),
        ]
        for (i, (shape, kernel)) in cases.enumerated() {
            let values = Self.values(kind, count: shape.reduce(1, *), seed: UInt64(i))
            try Self.compare(shape: shape, kernel: kernel, values: values, dtype: .float32)
            try Self.compare(shape: shape, kernel: kernel, values: values, dtype: .float64)
        }
    }

    @Test func nonContiguousInputIsPooledAsATenDoes() throws {
        let shape = [2, 3, 12, 10]
        try Self.compare(shape: shape, kernel: 2, values: Self.values(.tied, count: 720, seed: 7), dtype: .float32, transpose: true)
    }

    @Test func withoutGradientsTheOutputIsTheSame() throws {
        let x = try Tensor(Self.values(.special, count: 2 * 3 * 14 * 14, seed: 3), shape: [2, 3, 14, 14]).converted(to: .float32)
        let (a, b) = try withNoGrad { (try x.maxPool2d(kernel: 2), try x.atenMaxPool2d(kernel: 2)) }
        #expect(a.shape == [2, 3, 7, 7])
        #expect(Self.differences(try Self.bits(a), try Self.bits(b)) == 0)
    }

    /// Double backward (create_graph) takes the differentiable ATen formulation of the
    /// backward pass: the second-order gradient must equal ATen's.
    @Test func doubleBackwardMatchesATen() throws {
        func secondOrder(_ pool: (Tensor) throws -> Tensor) throws -> [UInt64] {
            let x = try Tensor(Self.values(.continuous, count: 2 * 2 * 6 * 6, seed: 11), shape: [2, 2, 6, 6]).converted(to: .float32).requiringGrad()
            let y = try pool(x)
            let g = try Tensor(Self.values(.continuous, count: y.count, seed: 12), shape: y.shape).converted(to: .float32).requiringGrad()
            let gx = try Tensor.gradients(of: [(y * g).sum()], withRespectTo: [x], createGraph: true)[0]
            let h = try Tensor(Self.values(.continuous, count: x.count, seed: 13), shape: x.shape).converted(to: .float32)
            let gg = try Tensor.gradients(of: [(gx * h).sum()], withRespectTo: [g])[0]
            return try Self.bits(gg)
        }
        let lathe = try secondOrder { try $0.maxPool2d(kernel: 2) }
        let aten = try secondOrder { try $0.atenMaxPool2d(kernel: 2) }
        #expect(Self.differences(lathe, aten) == 0)
        #expect(lathe.count == 2 * 2 * 3 * 3)
    }

    @Test func otherShapesStillPool() throws {
        // Overlapping windows and padding are ATen's: the result must still be a max pool.
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        let y = try x.maxPool2d(kernel: 3, stride: 1, padding: 1)
        #expect(y.shape == [1, 1, 4, 4])
        #expect(try y.scalars(as: Float.self) == [5, 6, 7, 7, 9, 10, 11, 11, 13, 14, 15, 15, 13, 14, 15, 15])
    }
}
