import CTorch

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

    /// One step over every parameter that has a gradient, in a single call into the engine.
    public func step() throws {
        var handles = parameters.map { Optional($0.handle) }
        var state = buffers.map { $0?.handle }
        let status = handles.withUnsafeMutableBufferPointer { p in
            state.withUnsafeMutableBufferPointer { b in
                ct_sgd_step(p.baseAddress, b.baseAddress, Int64(p.count), learningRate, momentum, weightDecay, nesterov)
            }
        }
        // Adopt the buffers created on this step (also when the step failed part-way).
        for i in buffers.indices where buffers[i] == nil {
            if let created = state[i] { buffers[i] = Tensor(handle: created) }
        }
        try checkStatus(status, "sgd_step")
    }

    /// The momentum buffers (`momentum.<index>`); SGD counts no steps.
    public func state() throws -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (i, buffer) in buffers.enumerated() {
            if let buffer { tensors["momentum.\(i)"] = try buffer.detached().clone() }
        }
        return OptimizerState(steps: 0, tensors: tensors)
    }

    public func restore(_ state: OptimizerState) throws {
        buffers = try state.buffers(["momentum"], for: parameters, optimizer: "SGD")[0]
    }
}
