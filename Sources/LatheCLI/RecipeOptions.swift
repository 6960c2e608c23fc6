import ArgumentParser
import LatheTrain

/// Training-recipe flags shared by every command that trains (train, quantize, prune, distill).
struct RecipeOptions: ParsableArguments {
    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Mini-batch size.") var batchSize: Int = 128
    @Option(help: "Base learning rate.") var lr: Double = 0.05
    @Option(help: "Optimizer: sgd, adam.") var optimizer: Recipe.OptimizerKind = .sgd
    @Option(help: "SGD momentum.") var momentum: Double = 0.9
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(help: "L2 weight decay.") var weightDecay: Double = 5e-4
    @Option(help: "Learning-rate schedule: constant, step, cosine.") var lrSchedule: Recipe.ScheduleKind = .cosine
    @Option(help: "Step schedule: epochs between decays.") var stepEpochs: Int = 3
    @Option(help: "Step schedule: decay factor.") var gamma: Double = 0.1
    @Option(help: "Seed for initialisation and batch order.") var seed: UInt64 = 0

    var recipe: Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = batchSize
        r.learningRate = lr
        r.optimizer = optimizer
        r.momentum = momentum
        r.nesterov = nesterov
        r.weightDecay = weightDecay
        r.schedule = lrSchedule
        r.stepEpochs = stepEpochs
        r.gamma = gamma
        r.seed = seed
        return r
    }

    func validate() throws {
        do { try recipe.validate() } catch let error as TrainingError { throw ValidationError(error.description) }
    }
}
