import Testing
@testable import LatheTensor

/// `Tensor.custom`: values computed outside autograd, with gradients from a Swift closure.
@Suite("Custom autograd functions")
struct CustomFunctionTests {
    /// y = s·x² computed outside the graph; the closure returns dy/dx = 2sx·g and dy/ds = Σ x²·g.
    private func square(_ x: Tensor, _ s: Tensor) throws -> Tensor {
        let value = try withNoGrad { try x * x * s }
        return try Tensor.custom(value: value, inputs: [x, s]) { g in
            try withNoGrad { [try g * x * s * 2, try (g * x * x).sum().reshaped(s.shape)] }
        }
    }

    @Test func gradientsFlowToEveryInputThroughTheRestOfTheGraph() throws {
        let x = try Tensor([1, -2, 3] as [Float], shape: [3]).requiringGrad()
        let s = try Tensor([0.5] as [Float], shape: [1]).requiringGrad()
        let y = try square(x, s)
        #expect(try y.scalars(as: Float.self) == [0.5, 2, 4.5])
        try (y * 3).sum().backward()
        #expect(try #require(x.grad).scalars(as: Float.self) == [3, -6, 9])  // 3 · 2 · 0.5 · x
        #expect(try #require(s.grad).scalars(as: Float.self) == [42])        // 3 · Σx² = 3 · 14
    }

    @Test func anErrorInTheBackwardFailsTheBackwardPassWithItsMessage() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "plugin x/y: backward returned NaN" } }
        let x = try Tensor([1, 2] as [Float], shape: [2]).requiringGrad()
        let y = try Tensor.custom(value: try x.detached(), inputs: [x]) { _ in throw Refused() }
        #expect { try y.sum().backward() } throws: { String(describing: $0).contains("plugin x/y: backward returned NaN") }
    }

    @Test func aGradientOfAnotherShapeIsRefused() throws {
        let x = try Tensor([1, 2] as [Float], shape: [2]).requiringGrad()
        let y = try Tensor.custom(value: try x.detached(), inputs: [x]) { _ in [try Tensor.zeros([3])] }
        #expect { try y.sum().backward() } throws: { String(describing: $0).contains("of shape [3] for an input of shape [2]") }
    }

    @Test func withoutGradientsTheResultHasNoHistoryAndTheClosureIsReleased() throws {
        final class Marker {}
        weak var probe: Marker?
        try {
            let marker = Marker()
            probe = marker
            let x = try Tensor([1, 2] as [Float], shape: [2])
            let y = try Tensor.custom(value: try x * 2, inputs: [x]) { g in _ = marker; return [g] }
            #expect(!y.requiresGrad)
        }()
        #expect(probe == nil)
    }

    @Test func theClosureIsReleasedWhenTheGraphIs() throws {
        final class Marker {}
        weak var probe: Marker?
        let x = try Tensor([1, 2] as [Float], shape: [2]).requiringGrad()
        try {
            let marker = Marker()
            probe = marker
            let y = try Tensor.custom(value: try x.detached(), inputs: [x]) { g in _ = marker; return [g] }
            #expect(y.requiresGrad)
            try y.sum().backward()
        }()
        #expect(probe == nil)
        #expect(try #require(x.grad).scalars(as: Float.self) == [1, 1])
    }
}
