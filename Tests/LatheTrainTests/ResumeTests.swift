import Foundation
import Testing
import LatheData
import LatheModels
import LatheTensor
@testable import LatheTrain

/// A run interrupted after an epoch and resumed from its training state ends with the weights and
/// records of the uninterrupted run, for each optimizer family (their moments and momentum
/// buffers are in the state), on real Fashion-MNIST images.
@Suite("Resuming an interrupted training run", .serialized)
struct ResumeTests {
    struct Interrupted: Error {}

    private func recipe(_ optimizer: Recipe.OptimizerKind) -> Recipe {
        var r = Recipe()
        r.epochs = 3
        r.batchSize = 50
        r.optimizer = optimizer
        r.learningRate = optimizer == .sgd ? 0.05 : 0.002
        r.momentum = 0.9
        r.seed = 3
        return r
    }

    @Test(arguments: [Recipe.OptimizerKind.sgd, .adam, .adamw])
    func aResumedRunEndsWhereTheUninterruptedOneDoes(_ optimizer: Recipe.OptimizerKind) throws {
        Engine.threads = 1
        let train = Fixtures.fashion.train.prefix(300)
        let whole = try Zoo.make("lenet5", seed: 1)
        let expected = try Trainer(recipe: recipe(optimizer)).train(whole, on: train)

        let directory = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.safetensors").path
        // Killed in the middle of the second epoch: the state holds the first.
        var first = Trainer(recipe: recipe(optimizer))
        first.statePath = state
        var steps = 0
        first.afterStep = {
            steps += 1
            if steps == 9 { throw Interrupted() }
        }
        #expect(throws: Interrupted.self) { try first.train(try Zoo.make("lenet5", seed: 1), on: train) }
        #expect(FileManager.default.fileExists(atPath: state))

        var second = Trainer(recipe: recipe(optimizer))
        second.statePath = state
        // A different initialization: every weight must come from the state.
        let resumed = try Zoo.make("lenet5", seed: 2)
        let summary = try second.train(resumed, on: train)
        #expect(summary.epochs.map(\.trainLoss) == expected.epochs.map(\.trainLoss))
        #expect(summary.epochs.count == 3)
        for ((name, a), (_, b)) in zip(whole.state, resumed.state) {
            #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self), "\(optimizer): \(name)")
        }
    }

    @Test func aStateOfAnotherRunIsRefusedNamingTheFileAndTheDifference() throws {
        Engine.threads = 1
        let train = Fixtures.fashion.train.prefix(100)
        let directory = try Fixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state.safetensors").path
        var r = recipe(.adamw)
        r.epochs = 1
        var trainer = Trainer(recipe: r)
        trainer.statePath = state
        _ = try trainer.train(try Zoo.make("mlp", seed: 0), on: train)
        func error(_ body: () throws -> Void) -> String {
            do { try body() } catch { return String(describing: error) }
            return "no error"
        }
        var other = r
        other.epochs = 2
        other.learningRate = 0.01
        var changed = Trainer(recipe: other)
        changed.statePath = state
        let recipeError = error { _ = try changed.train(try Zoo.make("mlp", seed: 0), on: train) }
        #expect(recipeError.contains(state) && recipeError.contains("its recipe differs from this run's"), "\(recipeError)")
        let modelError = error { _ = try trainer.train(try Zoo.make("lenet5", seed: 0), on: train) }
        #expect(modelError.contains("it is the state of a 'mlp' run; this run trains 'lenet5'"), "\(modelError)")
        let dataError = error { _ = try trainer.train(try Zoo.make("mlp", seed: 0), on: train.prefix(50)) }
        #expect(dataError.contains("it is the state of a run on 100 training images; this run has 50"), "\(dataError)")
    }
}
