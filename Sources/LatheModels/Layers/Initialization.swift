import Foundation
import LatheTensor

/// How a new layer's tensors are filled.
enum Initialization {
    /// PyTorch's default initialisation (Kaiming-uniform with a = √5, i.e. U(±1/√fan_in) for
    /// weights and biases), drawn from an explicit generator so that the same seed gives the
    /// same model whatever else ran before.
    case uniform(RandomGenerator)
    /// The vision-transformer initialisation of timm (`init_weights_vit_timm`): weights from a
    /// normal of standard deviation `std` truncated to ±2·std, biases zero.
    case truncatedNormal(RandomGenerator, std: Double)
    /// Broadcast views of a single zero: the right shape and type without storage, for a model
    /// whose every tensor `Model.load` replaces before use.
    case placeholder

    /// The truncated-normal scheme of transformers with the same generator (placeholders stay
    /// placeholders).
    func transformer(std: Double = 0.02) -> Initialization {
        switch self {
        case let .uniform(generator), let .truncatedNormal(generator, _): .truncatedNormal(generator, std: std)
        case .placeholder: .placeholder
        }
    }

    /// A trainable weight of `shape` for a layer with `fanIn` inputs per output.
    func tensor(_ shape: [Int], fanIn: Int) throws -> Tensor {
        switch self {
        case let .uniform(generator):
            let bound = 1 / Foundation.sqrt(Double(Swift.max(1, fanIn)))
            return try Tensor.uniform(shape, low: -bound, high: bound, generator: generator).requiringGrad()
        case let .truncatedNormal(generator, std):
            let t = try Tensor.zeros(shape)
            try t.truncatedNormal_(std: std, low: -2 * std, high: 2 * std, generator: generator)
            return try t.requiringGrad()
        case .placeholder:
            return try Tensor.zeros([]).expanded(shape).requiringGrad()
        }
    }

    /// A trainable bias of `shape` for a layer with `fanIn` inputs per output.
    func bias(_ shape: [Int], fanIn: Int) throws -> Tensor {
        switch self {
        case .uniform, .placeholder: try tensor(shape, fanIn: fanIn)
        case .truncatedNormal: try constant(shape, 0)
        }
    }

    /// A trainable tensor of `shape` filled with `value` (layer-norm scales and shifts).
    func constant(_ shape: [Int], _ value: Double) throws -> Tensor {
        switch self {
        case .uniform, .truncatedNormal: try Tensor.full(shape, value).requiringGrad()
        case .placeholder: try tensor(shape, fanIn: 1)
        }
    }
}
