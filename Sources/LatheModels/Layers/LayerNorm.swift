import LatheTensor

/// Layer normalisation over the last dimension (Ba et al. 2016, "Layer Normalization"), with
/// learnable scale γ (`weight`) and shift β (`bias`): each token is normalised on its own, so
/// the layer keeps no running statistics.
public final class LayerNorm: Layer {
    public let name: String
    /// γ, `[features]`
    public private(set) var weight: Tensor
    /// β, `[features]`
    public private(set) var bias: Tensor
    /// Added to the variance (PyTorch's default, 1e-5).
    public let eps: Double

    /// γ = 1, β = 0 (`torch.nn.LayerNorm`), or placeholders.
    init(_ name: String, _ features: Int, eps: Double = 1e-5, initialization: Initialization) throws {
        self.name = name
        self.eps = eps
        weight = try initialization.constant([features], 1)
        bias = try initialization.constant([features], 0)
    }

    public var features: Int { weight.shape[0] }

    /// Normalises `[…, features]`; profiled with zero MACs (a handful of element-wise operations
    /// per feature, like batch norm).
    public func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let y = try x.layerNorm(weight: context.weight(name, weight), bias: bias, eps: eps)
        return try context.emit(self, kind: "layernorm", input: x, output: y)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

    public func replace(_ shortName: String, with tensor: Tensor) throws {
        switch shortName {
        case "weight": weight = tensor
        case "bias": bias = tensor
        default: throw ModelError.unknownTensor("\(name).\(shortName)")
        }
    }
}
