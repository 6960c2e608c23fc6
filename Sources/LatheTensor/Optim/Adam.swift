import Foundation

/// Adam (Kingma & Ba 2015) with bias correction and optional L2 weight decay added to the
/// gradient, as `torch.optim.Adam`:
///
///     m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  θ ← θ - η (m / (1-β₁ᵗ)) / (√(v / (1-β₂ᵗ)) + ε)
public final class Adam: Optimizer {
    public var learningRate: Double
    public let parameters: [Tensor]
    /// β₁, β₂
    public let betas: (Double, Double)
    /// ε
    public let epsilon: Double
    /// L2 penalty added to the gradient.
    public let weightDecay: Double
    private var moments: [(m: Tensor, v: Tensor)?]
    private var t = 0

    /// An optimizer over `parameters`.
    public init(parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.moments = Array(repeating: nil, count: parameters.count)
    }

    public func step() throws {
        t += 1
        let c1 = 1 - Foundation.pow(betas.0, Double(t))
        let c2 = 1 - Foundation.pow(betas.1, Double(t))
        try withNoGrad {
            for (i, p) in parameters.enumerated() {
                guard var g = p.grad else { continue }
                if weightDecay != 0 { g = try g + (p * weightDecay) }
                let state = try moments[i] ?? (try p.zerosLike(), try p.zerosLike())
                moments[i] = state
                try state.m.lerp_(g, weight: 1 - betas.0)
                try state.v.mul_(betas.1)
                try state.v.addcmul_(g, g, value: 1 - betas.1)
                let denominator = try (state.v / c2).sqrt() + epsilon
                try p.addcdiv_(state.m, denominator, value: -learningRate / c1)
            }
        }
    }

    public func state() throws -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (i, moment) in moments.enumerated() {
            guard let moment else { continue }
            tensors["m.\(i)"] = try moment.m.detached().clone()
            tensors["v.\(i)"] = try moment.v.detached().clone()
        }
        return OptimizerState(steps: t, tensors: tensors)
    }

    public func restore(_ state: OptimizerState) throws {
        guard state.steps >= 0 else { throw TensorError("Adam state", "step count \(state.steps); expected ≥ 0") }
        let buffers = try state.buffers(["m", "v"], for: parameters, optimizer: "Adam")
        var restored: [(m: Tensor, v: Tensor)?] = []
        for i in parameters.indices {
            switch (buffers[0][i], buffers[1][i]) {
            case let (m?, v?): restored.append((m, v))
            case (nil, nil): restored.append(nil)
            default: throw TensorError("Adam state", "parameter \(i) has only one of its moments 'm.\(i)' and 'v.\(i)'")
            }
        }
        moments = restored
        t = state.steps
    }
}
