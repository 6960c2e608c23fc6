import LatheTensor

/// Batch normalisation over the channels of an NCHW tensor (Ioffe & Szegedy 2015), with
/// learnable scale γ (`weight`) and shift β (`bias`) and running statistics for evaluation.
public final class BatchNorm2d: Layer {
    public let name: String
    /// γ, `[channels]`
    public private(set) var weight: Tensor
    /// β, `[channels]`
    public private(set) var bias: Tensor
    /// Running mean, `[channels]`
    public private(set) var runningMean: Tensor
    /// Running (biased) variance, `[channels]`
    public private(set) var runningVar: Tensor
    public let momentum: Double
    public let eps: Double
    /// Always use (and never update) the running statistics, even in training passes: for
    /// batch norm folded into its convolution before quantization-aware training.
    public var frozen = false

    /// γ = 1, β = 0, mean 0, variance 1.
    public init(_ name: String, _ channels: Int, momentum: Double = 0.1, eps: Double = 1e-5) throws {
        self.name = name
        self.momentum = momentum
        self.eps = eps
        weight = try Tensor.ones([channels]).requiringGrad()
        bias = try Tensor.zeros([channels]).requiringGrad()
        runningMean = try Tensor.zeros([channels])
        runningVar = try Tensor.ones([channels])
    }

    public var channels: Int { weight.shape[0] }

    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y = try x.batchNorm(
            weight: context.weight(name, weight), bias: bias, runningMean: runningMean, runningVar: runningVar,
            training: context.training && !frozen, momentum: momentum, eps: eps)
        return try context.emit(self, kind: "batchnorm2d", input: x, output: y)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        switch shortName {
        case "weight": weight = tensor
        case "bias": bias = tensor
        case "running_mean": runningMean = tensor
        case "running_var": runningVar = tensor
        default: throw ModelError.unknownTensor("\(name).\(shortName)")
        }
    }
}
