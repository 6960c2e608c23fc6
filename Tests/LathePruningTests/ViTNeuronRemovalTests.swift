import LatheModels
import LathePlugins
import LatheTensor
import Testing
@testable import LathePruning

/// A ViT's MLP hidden neurons (fc1 rows with fc2 columns, the zoo's channel groups) removed
/// through the pruning path: masks, then physical removal, against the masked model.
@Suite("ViT MLP-neuron removal")
struct ViTNeuronRemovalTests {
    @Test func removingNeuronsEqualsTheMaskedModel() throws {
        Engine.threads = 1
        let model = try Zoo.make("vit-tiny", seed: 8)
        // Non-zero biases and LayerNorm parameters, as after training (they start at 0 and 1).
        let generator = try RandomGenerator(seed: 9)
        try withNoGrad {
            for (name, tensor) in model.namedParameters where name.hasSuffix(".bias") || name.contains("norm") {
                try tensor.add_(Tensor.uniform(tensor.shape, low: -0.3, high: 0.3, generator: generator))
            }
        }
        let config = PruningConfig()
        let targets = try PruningStage.prunableLayers(config, model: model, granularity: .outputChannel)
        #expect(targets == (0..<4).map { "blocks.\($0).mlp.fc1" })
        let masks = try PruningMasks(model: model, layers: targets, granularity: .outputChannel)
        for (b, name) in targets.enumerated() {
            // Block b keeps every (b+2)-th neuron and a few more: different counts per block.
            try masks.setKeep(name, (0..<128).map { $0 % (b + 2) == 0 || $0 < 5 })
        }
        try masks.apply(to: model)
        let x = try Fixtures.input(batch: 3)
        let masked = try model.predict(x)
        let maskedTokens = try withNoGrad { () -> Tensor in
            let context = ForwardContext(training: false, taps: ["blocks.3"])
            _ = try model.forward(x, context)
            return try #require(context.tapped["blocks.3"])
        }

        let removed = try ChannelRemoval.apply(masks, to: model)
        #expect(removed.map(\.channelsAfter) == targets.indices.map { b in (0..<128).filter { $0 % (b + 2) == 0 || $0 < 5 }.count })
        for (b, group) in removed.enumerated() {
            let fc1 = try #require(model.layer(named: "blocks.\(b).mlp.fc1") as? Linear)
            let fc2 = try #require(model.layer(named: "blocks.\(b).mlp.fc2") as? Linear)
            #expect(fc1.weight.shape == [group.channelsAfter, 64])
            #expect(fc1.bias?.shape == [group.channelsAfter])
            #expect(fc2.weight.shape == [64, group.channelsAfter])
            #expect((model.layer(named: "blocks.\(b).norm2") as? LayerNorm)?.features == 64)
        }
        #expect(try Fixtures.maxDifference(model.predict(x), masked) < 1e-5)
        let tokens = try withNoGrad { () -> Tensor in
            let context = ForwardContext(training: false, taps: ["blocks.3"])
            _ = try model.forward(x, context)
            return try #require(context.tapped["blocks.3"])
        }
        #expect(try Fixtures.maxDifference(tokens, maskedTokens) < 1e-5)
        // The copy (skeleton + shape-changing load) of the smaller model runs the same.
        #expect(try Fixtures.maxDifference(model.copy().predict(x), masked) < 1e-5)
    }
}
