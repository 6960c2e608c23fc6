import Testing
import LatheModels
@testable import LatheTrain

/// Training or evaluating on no samples is an error, not a checkpoint or an accuracy of 0.
@Suite("Empty data sets in training and evaluation")
struct EmptyDataSetTests {
    @Test func trainingOnNoSamplesIsRefused() throws {
        var recipe = Recipe()
        recipe.epochs = 1
        let error = #expect(throws: TrainingError.self) {
            try Trainer(recipe: recipe).train(try Zoo.make("mlp"), on: Fixtures.fashion.train.prefix(0))
        }
        #expect(error?.description == "the training set has no samples")
    }

    @Test func evaluatingOnNoSamplesIsRefused() throws {
        let error = #expect(throws: TrainingError.self) {
            try Evaluation.evaluate(try Zoo.make("mlp"), on: Fixtures.fashion.test.prefix(0))
        }
        #expect(error?.description == "the evaluation set has no samples")
    }
}
