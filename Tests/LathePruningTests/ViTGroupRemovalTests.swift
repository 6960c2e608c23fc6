import LatheModels
import LathePlugins
import LatheTensor
import Testing
@testable import LathePruning

/// A ViT's attention heads and MLP hidden neurons (the zoo's channel groups) removed
/// through the pruning path: masks, then physical removal, against the masked model.
@Suite("ViT head and MLP-neuron removal")
struct ViTGroupRemovalTests {
    /// A `vit-tiny` with non-zero biases and LayerNorm parameters, as after training (they
    /// start at 0 and 1).
    static func trainedLikeViT(seed: UInt64) throws -> Model {
        Engine.threads = 1
        let model = try Zoo.make("vit-tiny", seed: seed)
        let generator = try RandomGenerator(seed: seed + 1)
        try withNoGrad {
            for (name, tensor) in model.namedParameters where name.hasSuffix(".bias") || name.contains("norm") {
                try tensor.add_(Tensor.uniform(tensor.shape, low: -0.3, high: 0.3, generator: generator))
            }
        }
        return model
    }

    @Test func removingNeuronsEqualsTheMaskedModel() throws {
        let model = try Self.trainedLikeViT(seed: 8)
        var config = PruningConfig()
        #expect(try PruningStage.prunableLayers(config, model: model, granularity: .outputChannel)
                == (0..<4).flatMap { ["blocks.\($0).attn.qkv", "blocks.\($0).mlp.fc1"] })
        config.groups = [.neuron]
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

    /// Attention heads (a head's Q, K and V rows of `qkv` with its `head_dim` columns of `proj`)
    /// removed through the same path: the attention then runs with fewer heads.
    @Test func removingHeadsEqualsTheMaskedModel() throws {
        let model = try Self.trainedLikeViT(seed: 11)
        var config = PruningConfig()
        config.groups = [.head]
        let targets = try PruningStage.prunableLayers(config, model: model, granularity: .outputChannel)
        #expect(targets == (0..<4).map { "blocks.\($0).attn.qkv" })
        let masks = try PruningMasks(model: model, layers: targets, granularity: .outputChannel)
        // Block b keeps heads {b % 4} and those above 2: 1 to 2 of 4 heads.
        let keeps: [[Bool]] = (0..<4).map { b in (0..<4).map { $0 == b % 4 || $0 > 2 } }
        for (name, keep) in zip(targets, keeps) { try masks.setKeep(name, keep) }
        try masks.apply(to: model)
        let x = try Fixtures.input(batch: 3)
        let masked = try model.predict(x)
        let removed = try ChannelRemoval.apply(masks, to: model)
        #expect(removed.map(\.channelsBefore) == [4, 4, 4, 4])
        #expect(removed.map(\.channelsAfter) == keeps.map { $0.filter { $0 }.count })
        for (b, group) in removed.enumerated() {
            let qkv = try #require(model.layer(named: "blocks.\(b).attn.qkv") as? Linear)
            let proj = try #require(model.layer(named: "blocks.\(b).attn.proj") as? Linear)
            #expect(qkv.weight.shape == [3 * 16 * group.channelsAfter, 64])
            #expect(proj.weight.shape == [64, 16 * group.channelsAfter])
        }
        #expect(try Fixtures.maxDifference(model.predict(x), masked) < 1e-5)
        #expect(try Fixtures.maxDifference(model.copy().predict(x), masked) < 1e-5)
        // A pruned head's rows are zero in the masked model: its attention output is the
        // uniform average of zero values, nothing reaches proj.
    }
}
