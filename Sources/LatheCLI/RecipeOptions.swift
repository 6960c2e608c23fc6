import ArgumentParser
import LatheTrain

/// Training-recipe flags shared by every command that trains (train, quantize, prune, distill).
/// A flag left out keeps the default recipe of the model being trained (`Recipe.defaults(for:)`:
/// SGD for the CNNs and MLP, AdamW with warm-up for the vision transformers).
struct RecipeOptions: ParsableArguments {
    @Option(help: "Epochs (default 10; vit-*: 20).") var epochs: Int?
    @Option(help: "Mini-batch size (default 128).") var batchSize: Int?
    @Option(help: "Base learning rate (default 0.05; vit-*: 0.001).") var lr: Double?
    @Option(help: "Optimizer: sgd, adam, adamw (default sgd; vit-*: adamw).") var optimizer: Recipe.OptimizerKind?
    @Option(help: "SGD momentum (default 0.9).") var momentum: Double?
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(help: "Weight decay: L2 (sgd, adam) or decoupled (adamw) (default 5e-4; vit-*: 0.05).") var weightDecay: Double?
    @Option(help: "Learning-rate schedule: constant, step, cosine (default cosine).") var lrSchedule: Recipe.ScheduleKind?
    @Option(help: "Epochs of linear learning-rate warm-up before the schedule (default 0; vit-*: 2).") var warmupEpochs: Int?
    @Option(help: "Step schedule: epochs between decays (default 3).") var stepEpochs: Int?
    @Option(help: "Step schedule: decay factor (default 0.1).") var gamma: Double?
    @Option(help: "Label smoothing of the cross-entropy (default 0; vit-*: 0.1).") var labelSmoothing: Double?
    @Flag(help: "Random horizontal flips of the training images (and masks or boxes), each with probability 1/2 per epoch.") var horizontalFlip = false
    @Option(help: "Seed for initialisation and batch order.") var seed: UInt64 = 0

    /// The recipe for training `architecture`: its defaults with every given flag applied.
    func recipe(for architecture: String) -> Recipe {
        var r = Recipe.defaults(for: architecture)
        if let epochs { r.epochs = epochs }
        if let batchSize { r.batchSize = batchSize }
        if let lr { r.learningRate = lr }
        if let optimizer { r.optimizer = optimizer }
        if let momentum { r.momentum = momentum }
        if nesterov { r.nesterov = true }
        if let weightDecay { r.weightDecay = weightDecay }
        if let lrSchedule { r.schedule = lrSchedule }
        if let warmupEpochs { r.warmupEpochs = warmupEpochs }
        if let stepEpochs { r.stepEpochs = stepEpochs }
        if let gamma { r.gamma = gamma }
        if let labelSmoothing { r.labelSmoothing = labelSmoothing }
        if horizontalFlip { r.horizontalFlip = true }
        r.seed = seed
        return r
    }

    /// Checks every given flag. The ranges do not depend on the architecture, so the CNN
    /// defaults stand in for the flags left out.
    func validate() throws {
        do { try recipe(for: "").validate() } catch let error as TrainingError { throw ValidationError(error.description) }
    }
}
