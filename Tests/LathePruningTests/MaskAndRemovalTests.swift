import Foundation
import LatheCalibration
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain
import Testing
@testable import LathePruning

/// Masks computed by a real criterion plugin on zoo models.
enum MaskFixture {
    /// Masks for `criterion` at `sparsity` (local, one step) over the prunable layers of `model`.
    static func masks(_ model: Model, criterion: String, sparsity: Double, scope: PruningConfig.Scope = .local) throws -> PruningMasks {
        let registry = try Fixtures.registry()
        var config = PruningConfig()
        config.criterion = criterion
        config.sparsity = sparsity
        config.scope = scope
        let (descriptor, _) = try config.validate(against: registry)
        let method = try registry.method(criterion)
        let targets = try PruningStage.prunableLayers(config, model: model, granularity: descriptor.granularity)
        let masks = try PruningMasks(model: model, layers: targets, granularity: descriptor.granularity)
        let scoring = Scoring(method: method, params: try method.bind([:]), calibration: CalibrationPlan(batches: 2, batchSize: 32, seed: 0))
        let scores = try scoring.scores(model: model, masks: masks, data: Fixtures.fashion.train.prefix(64))
        try PruningStage.select(config, step: 1, scores: scores, targets: targets, masks: masks, granularity: descriptor.granularity)
        return masks
    }
}

@Suite("Masks during training", .serialized)
struct MaskTrainingTests {
    @Test func elementMasksKeepWeightsAndGradientsAtZero() throws {
        Engine.threads = 1
        let model = try Zoo.make("mlp", seed: 2)
        let masks = try MaskFixture.masks(model, criterion: "prune/magnitude", sparsity: 0.8)
        try masks.apply(to: model)
        let fc1 = try #require(model.layer(named: "fc1") as? Linear)
        let before = try fc1.weight.detached().clone()
        var trainer = Trainer(recipe: Fixtures.recipe(epochs: 1))
        try masks.install(into: &trainer, model: model)
        _ = try trainer.train(model, on: Fixtures.fashion.train.prefix(256))

        for name in ["fc1", "fc2", "fc3"] {
            let layer = try #require(model.layer(named: name) as? Linear)
            let keep = try masks.keep(name)
            #expect(abs(keep.filter { !$0 }.count - Int(0.8 * Double(keep.count))) <= 1)
            let w = try layer.weight.scalars(as: Float.self)
            #expect(zip(w, keep).allSatisfy { $1 || $0 == 0 }, "\(name): a masked weight moved")
        }
        #expect(try Fixtures.maxDifference(fc1.weight, before) > 0, "the kept weights trained")

        // One more backward pass through the masks: masked weights get no gradient.
        let (x, y) = try Fixtures.fashion.train.batch(Array(0..<32)[...])
        let context = ForwardContext(training: true)
        try masks.configure(context, model: model)
        for p in model.parameters { try p.zeroGrad() }
        try model.forward(x, context).crossEntropy(labels: y).backward()
        let grad = try #require(fc1.weight.grad).scalars(as: Float.self)
        let keep = try masks.keep("fc1")
        #expect(zip(grad, keep).allSatisfy { $1 || $0 == 0 })
        #expect(zip(grad, keep).contains { $1 && $0 != 0 })
    }

    @Test func channelMasksZeroRowsBiasesBatchNormAndDepthwiseFilters() throws {
        Engine.threads = 1
        let model = try Fixtures.model("mobilenet")
        let masks = try MaskFixture.masks(model, criterion: "prune/l2-filter", sparsity: 0.5)
        try masks.apply(to: model)
        var trainer = Trainer(recipe: Fixtures.recipe(epochs: 1))
        try masks.install(into: &trainer, model: model)
        _ = try trainer.train(model, on: Fixtures.fashion.train.prefix(128))

        for group in model.channelGroups {
            let keep = try masks.keep(group.producer)
            #expect(keep.filter { !$0 }.count == keep.count / 2)
            for name in [group.producer] + group.coupled {
                let layer = try #require(model.layer(named: name))
                for (short, tensor) in layer.ownParameters {
                    let rows = try tensor.reshaped([tensor.shape[0], -1]).abs().sum([1]).scalars(as: Float.self)
                    #expect(zip(rows, keep).allSatisfy { $1 || $0 == 0 }, "\(name).\(short) has a masked channel that is not zero")
                    #expect(zip(rows, keep).contains { $1 && $0 != 0 })
                }
            }
        }
    }
}

@Suite("Physical channel removal", .serialized)
struct ChannelRemovalTests {
    /// Masks half the output channels with L1-filter scores, then removes them: the smaller
    /// model computes what the masked one did, and reloads from its checkpoint with its new shapes.
    @Test(arguments: ["lenet5", "convnet", "mobilenet", "resnet8", "mlp"])
    func removalEqualsMaskingAndReloads(_ name: String) throws {
        Engine.threads = 1
        let model = try Fixtures.model(name)
        let x = try Fixtures.input()
        let dense = try model.predict(x)
        let masks = try MaskFixture.masks(model, criterion: "prune/l1-filter", sparsity: 0.5)
        try masks.apply(to: model)
        let masked = try model.predict(x)
        #expect(try Fixtures.maxDifference(dense, masked) > 1e-3, "masking half the channels changed nothing")
        let parametersBefore = model.parameterCount
        let macsBefore = try ModelCost.of(model).macs

        let removed = try ChannelRemoval.apply(masks, to: model)
        #expect(removed.count == model.channelGroups.count)
        for r in removed { #expect(r.channelsAfter == r.channelsBefore - Int((0.5 * Double(r.channelsBefore)).rounded())) }
        let physical = try model.predict(x)
        #expect(physical.shape == masked.shape)
        let scale = Swift.max(1, try masked.abs().max().item())
        #expect(try Fixtures.maxDifference(masked, physical) <= 1e-5 * scale, "\(name): removed ≠ masked")
        #expect(model.parameterCount < parametersBefore)
        #expect(try ModelCost.of(model).macs < macsBefore)
        for group in model.channelGroups {
            let kept = try #require(removed.first { $0.producer == group.producer }).channelsAfter
            #expect(try PruningMasks.weight(of: model, group.producer).shape[0] == kept)
        }

        // Reload with the new shapes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-prune-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        try Checkpoint.save(model, to: path, shapesChanged: true)
        let reloaded = try Checkpoint.load(path).model
        #expect(reloaded.parameterCount == model.parameterCount)
        #expect(reloaded.state.map(\.1.shape) == model.state.map(\.1.shape))
        #expect(try Fixtures.maxDifference(try reloaded.predict(x), physical) == 0)
    }

    @Test func elementMasksCannotBeRemoved() throws {
        let model = try Zoo.make("mlp")
        let masks = try MaskFixture.masks(model, criterion: "prune/magnitude", sparsity: 0.5)
        expectError(mentioning: ["output-channel"]) { _ = try ChannelRemoval.apply(masks, to: model) }
    }
}
