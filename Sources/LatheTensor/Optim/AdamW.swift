/// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), as
/// `torch.optim.AdamW`: the weights shrink by the decay directly, apart from the gradient and
/// so from Adam's moment estimates, then take Adam's step:
///
///     θ ← θ (1 - η λ);  θ ← θ - η m̂ / (√v̂ + ε)
public final class AdamW: Optimizer {
    /// λ, decoupled from the gradient.
    public let weightDecay: Double
    /// Adam without an L2 term: the moment estimates and the step.
    private let adam: Adam

    /// An optimizer over `parameters`.
    public init(parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), epsilon: Double = 1e-8,
                weightDecay: Double = 0.01) {
        self.weightDecay = weightDecay
        adam = Adam(parameters: parameters, learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: 0)
    }

    public var learningRate: Double {
        get { adam.learningRate }
        set { adam.learningRate = newValue }
    }

    public var parameters: [Tensor] { adam.parameters }

    public func step() throws {
        if weightDecay != 0 {
            let shrink = 1 - learningRate * weightDecay
            try withNoGrad {
                // Like PyTorch, only parameters that take a step this time decay.
                for p in parameters where p.grad != nil { try p.mul_(shrink) }
            }
        }
        try adam.step()
    }

    public func state() throws -> OptimizerState { try adam.state() }
    public func restore(_ state: OptimizerState) throws { try adam.restore(state) }
}
