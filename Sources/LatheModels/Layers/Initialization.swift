import Foundation
import LatheTensor

/// How a new conv or linear layer's tensors are filled.
enum Initialization {
    /// PyTorch's default initialisation (Kaiming-uniform with a = √5, i.e. U(±1/√fan_in) for
    /// weights and biases), drawn from an explicit generator so that the same seed gives the
    /// same model whatever else ran before.
    case uniform(RandomGenerator)
    /// Broadcast views of a single zero: the right shape and type without storage, for a model
    /// whose every tensor `Model.load` replaces before use.
    case placeholder

    /// A trainable tensor of `shape` for a layer with `fanIn` inputs per output.
    func tensor(_ shape: [Int], fanIn: Int) throws -> Tensor {
        switch self {
        case let .uniform(generator):
            let bound = 1 / Foundation.sqrt(Double(Swift.max(1, fanIn)))
            return try Tensor.uniform(shape, low: -bound, high: bound, generator: generator).requiringGrad()
        case .placeholder:
            return try Tensor.zeros([]).expanded(shape).requiringGrad()
        }
    }
}
