import Foundation
import Testing
import LatheData
import LatheModels
import LatheTensor
@testable import LatheTrain

@Suite("Training", .serialized)
struct TrainerTests {
    private func recipe(epochs: Int, seed: UInt64 = 0) -> Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = 64
        r.seed = seed
        return r
    }

    @Test func trainingLearnsOnRealData() throws {
        Engine.threads = 1
        let (train, test) = Fixtures.fashion
        let model = try Zoo.make("mlp", seed: 0)
        let before = try Evaluation.evaluate(model, on: test).accuracy
        let summary = try Trainer(recipe: recipe(epochs: 3)).train(model, on: train)
        let after = try Evaluation.evaluate(model, on: test).accuracy
        #expect(summary.epochs.count == 3)
        #expect(summary.epochs[2].trainLoss < summary.epochs[0].trainLoss)
        #expect(before < 0.3)
        #expect(after > 0.7, "accuracy after 3 epochs on 2000 images: \(after)")
        let step = try #require(summary.medianStepSeconds)
        #expect(step > 0 && step < summary.trainingSeconds)
    }

    /// The steady-state step time only counts full batches: none here.
    @Test func noFullBatchNoMedianStep() throws {
        Engine.threads = 1
        let summary = try Trainer(recipe: recipe(epochs: 1)).train(try Zoo.make("mlp"), on: Fixtures.fashion.train.prefix(40))
        #expect(summary.medianStepSeconds == nil)
        #expect(summary.imagesPerSecond > 0)
    }

    /// Same seed and thread count → bit-identical weights and losses.
    @Test func sameSeedSameThreadsSameNumbers() throws {
        Engine.threads = 1
        let train = Fixtures.fashion.train.prefix(600)
        func run(seed: UInt64) throws -> ([Double], [[Float]]) {
            let model = try Zoo.make("lenet5", seed: seed)
            let summary = try Trainer(recipe: recipe(epochs: 2, seed: seed)).train(model, on: train)
            return (summary.epochs.map(\.trainLoss), try model.parameters.map { try $0.scalars(as: Float.self) })
        }
        let a = try run(seed: 4), b = try run(seed: 4), c = try run(seed: 5)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(a.0 != c.0)
    }

    /// Fine-tuning a trained model (QAT, after pruning) keeps the recipe but not its warm-up: with
    /// it, one epoch of fine-tuning under a one-epoch warm-up ended at the peak rate.
    @Test func fineTuningDropsTheWarmUpAndDecays() {
        var base = Recipe()
        (base.epochs, base.warmupEpochs, base.schedule, base.learningRate, base.seed) = (4, 1, .cosine, 2e-3, 7)
        let tune = base.fineTuning(epochs: 1, learningRate: 5e-4)
        #expect(tune.epochs == 1 && tune.warmupEpochs == 0 && tune.learningRate == 5e-4 && tune.seed == 7)
        #expect(base.fineTuning(epochs: 2).learningRate == 2e-3)
        // The epoch's last step runs well below the peak (cosine), not at it (warm-up).
        let steps = 16
        let last = tune.lrSchedule.rate(base: tune.learningRate, step: steps - 1, totalSteps: steps, stepsPerEpoch: steps)
        var inherited = base
        inherited.epochs = 1
        let before = inherited.lrSchedule.rate(base: 5e-4, step: steps - 1, totalSteps: steps, stepsPerEpoch: steps)
        #expect(last < 0.05 * 5e-4 && before > 0.9 * 5e-4, "fine-tuning ends at \(last), the inherited warm-up at \(before)")
    }

    @Test func badRecipeIsRejectedNamingTheField() throws {
        var r = recipe(epochs: 1)
        r.momentum = 1.5
        #expect(throws: TrainingError.invalidRecipe(field: "momentum", value: "1.5", expected: "a number in [0, 1)")) {
            try Trainer(recipe: r).train(try Zoo.make("mlp"), on: Fixtures.fashion.train.prefix(10))
        }
    }

    @Test func dataModelMismatchIsRejected() throws {
        let model = try Zoo.make("lenet5", options: ModelOptions(inputChannels: 3, imageSize: 32))
        #expect(throws: TrainingError.self) { try Trainer(recipe: recipe(epochs: 1)).train(model, on: Fixtures.fashion.train.prefix(10)) }
    }
}
