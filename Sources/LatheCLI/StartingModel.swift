import ArgumentParser
import LatheData
import LatheModels
import LatheTrain

/// The model a post-training command (`solve`, `factorize`) starts from: `--checkpoint`, or
/// the zoo model trained first with the recipe flags (same seed).
enum StartingModel {
    static func obtain(checkpoint: String?, model: String?, width: Double, depth: Int?, recipeOptions: RecipeOptions,
                       threads: Int, train: ImageDataset, progress: ProgressReporter) throws -> (model: Model, training: TrainingSummary?) {
        if let checkpoint {
            let network = try Checkpoint.load(checkpoint).model
            if let model, model != network.architecture {
                throw ValidationError("--model \(model) differs from the checkpoint's architecture '\(network.architecture)'")
            }
            progress.note("model: \(checkpoint) (\(network.architecture), \(network.parameterCount) parameters)")
            return (network, nil)
        }
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount, width: width, depth: depth)
        let network = try Zoo.make(model ?? "mlp", options: options, seed: recipeOptions.seed)
        progress.note("training \(network.architecture) (\(network.parameterCount) parameters) on \(train.count) images, \(threads) thread(s)")
        let training = try Trainer(recipe: recipeOptions.recipe(for: network.architecture), progress: progress).train(network, on: train)
        return (network, training)
    }
}
