/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, with
/// PyTorch's update rule (`torch.optim.SGD`):
///
///     g ← ∇θ + λθ;  b ← μb + g (b = g on the first step);  d ← nesterov ? g + μb : b;  θ ← θ - η d
public final class SGD: Optimizer {
    public var learningRate: Double
    public let parameters: [Tensor]
    /// μ
    public let momentum: Double
    /// λ (L2 penalty added to the gradient).
    public let weightDecay: Double
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    private var buffers: [Tensor?]

    /// An optimizer over `parameters`.
    public init(parameters: [Tensor], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() throws {
        try withNoGrad {
            for (i, p) in parameters.enumerated() {
                guard let grad = p.grad else { continue }
                var d = grad
                if weightDecay != 0 {
                    d = try grad + (p * weightDecay)
                }
                if momentum != 0 {
                    let buffer: Tensor
                    if let existing = buffers[i] {
                        try existing.mul_(momentum)
                        try existing.add_(d)
                        buffer = existing
                    } else {
                        buffer = try d.clone()
                        buffers[i] = buffer
                    }
                    d = nesterov ? try d + (buffer * momentum) : buffer
                }
                try p.add_(d, alpha: -learningRate)
            }
        }
    }
}
