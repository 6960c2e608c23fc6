import Foundation
import LatheTestSupport
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// Shared inputs: the checkout's registry (first-party plugins built by scripts/build-plugins.sh)
/// and small real slices of Fashion-MNIST.
enum Fixtures {
    static let root = SourceTree.root

    static func registry() throws -> Registry {
        try Registry(directory: root.appendingPathComponent("registry").path)
    }

    static let fashion: (train: ImageDataset, test: ImageDataset) = {
        do {
            return try DataSource.fashionMNIST.load(directory: nil, limitTrain: 2000, limitTest: 500)
        } catch {
            fatalError("Fashion-MNIST is required for these tests (scripts/bootstrap.sh installs it): \(error)")
        }
    }()

    /// A short recipe for fine-tuning in tests.
    static func recipe(epochs: Int = 1, seed: UInt64 = 0) -> Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = 64
        r.seed = seed
        return r
    }

    /// A zoo model whose batch norms have non-trivial affine parameters and running statistics,
    /// so that masking and removal are tested on more than the identity.
    static func model(_ name: String, width: Double = 1, seed: UInt64 = 1) throws -> Model {
        let model = try Zoo.make(name, options: ModelOptions(width: width), seed: seed)
        let generator = try RandomGenerator(seed: seed &+ 100)
        try withNoGrad {
            for case let bn as BatchNorm2d in model.layers {
                try bn.weight.copy_(Tensor.uniform([bn.channels], low: 0.5, high: 1.5, generator: generator))
                try bn.bias.copy_(Tensor.uniform([bn.channels], low: -0.5, high: 0.5, generator: generator))
                try bn.runningMean.copy_(Tensor.uniform([bn.channels], low: -0.2, high: 0.2, generator: generator))
                try bn.runningVar.copy_(Tensor.uniform([bn.channels], low: 0.5, high: 2, generator: generator))
            }
        }
        return model
    }

    /// A fixed batch of random NCHW inputs for the zoo's default options.
    static func input(batch: Int = 4, seed: UInt64 = 7) throws -> Tensor {
        try Tensor.randn([batch, 1, 28, 28], generator: RandomGenerator(seed: seed))
    }

    /// Largest absolute difference between two tensors.
    static func maxDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
        try (a - b).abs().max().item()
    }
}

import Testing

/// Expects `body` to throw an error whose description mentions every word.
func expectError(mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning \(words)", sourceLocation: sourceLocation)
    } catch {
        for word in words {
            #expect("\(error)".contains(word), "error lacks '\(word)': \(error)", sourceLocation: sourceLocation)
        }
    }
}
