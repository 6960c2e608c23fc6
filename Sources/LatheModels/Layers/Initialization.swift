import Foundation
import LatheTensor

/// PyTorch's default initialisation for conv and linear layers (Kaiming-uniform with
/// a = √5, i.e. U(±1/√fan_in) for weights and biases), drawn from an explicit generator so that
/// the same seed gives the same model whatever else ran before.
enum Initialization {
    static func uniform(_ shape: [Int], fanIn: Int, generator: RandomGenerator) throws -> Tensor {
        let bound = 1 / Foundation.sqrt(Double(Swift.max(1, fanIn)))
        return try Tensor.uniform(shape, low: -bound, high: bound, generator: generator).requiringGrad()
    }
}
