import ArgumentParser
import Foundation
import LatheData
import LatheModels
import LatheTensor
import LatheTrain

/// `lathe train`: trains a zoo model and writes `model.safetensors` and `metrics.json`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a zoo model on a data set and save a checkpoint and metrics.")

    @Option(help: "Zoo model: \(Zoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"

    @Option(help: "Width multiplier for channels and hidden units.")
    var width: Double = 1

    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Mini-batch size.") var batchSize: Int = 128
    @Option(help: "Base learning rate.") var lr: Double = 0.05
    @Option(help: "Optimizer: sgd, adam.") var optimizer: Recipe.OptimizerKind = .sgd
    @Option(help: "SGD momentum.") var momentum: Double = 0.9
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(help: "L2 weight decay.") var weightDecay: Double = 5e-4
    @Option(help: "LR schedule: constant, step, cosine.") var schedule: Recipe.ScheduleKind = .cosine
    @Option(help: "Step schedule: epochs between decays.") var stepEpochs: Int = 3
    @Option(help: "Step schedule: decay factor.") var gamma: Double = 0.1
    @Option(help: "Seed for initialisation and batch order.") var seed: UInt64 = 0
    @Option(help: "Hold out this fraction of the training set for per-epoch validation.") var validationFraction: Double = 0

    @Option(name: .customLong("out"), help: "Output directory (default: runs/<model>-seed<seed>).")
    var outputDirectory: String?

    @Flag(help: "Plain log lines even on a terminal.") var plain = false

    @OptionGroup var engine: EngineOptions

    var recipe: Recipe {
        var r = Recipe()
        r.epochs = epochs
        r.batchSize = batchSize
        r.learningRate = lr
        r.optimizer = optimizer
        r.momentum = momentum
        r.nesterov = nesterov
        r.weightDecay = weightDecay
        r.schedule = schedule
        r.stepEpochs = stepEpochs
        r.gamma = gamma
        r.seed = seed
        return r
    }

    func validate() throws {
        guard Zoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)': expected one of \(Zoo.names.joined(separator: ", "))")
        }
        guard width > 0, width <= 16 else { throw ValidationError("--width \(width): expected a number in (0, 16]") }
        guard (0..<1).contains(validationFraction) else {
            throw ValidationError("--validation-fraction \(validationFraction): expected a number in [0, 1)")
        }
        do { try recipe.validate() } catch let error as TrainingError { throw ValidationError(error.description) }
    }

    func run() throws {
        engine.apply()
        let out = outputDirectory ?? "runs/\(model)-seed\(seed)"
        let progress = ProgressReporter(style: plain ? .lines : nil)
        var (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)
        var validation: ImageDataset?
        if validationFraction > 0 {
            (train, validation) = try train.split(validationFraction: validationFraction, seed: seed)
        }
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount, width: width)
        let network = try Zoo.make(model, options: options, seed: seed)
        progress.note("training \(model) (\(network.parameterCount) parameters) on \(train.count) \(engine.dataset.rawValue) images, \(engine.threads) thread(s)")
        let summary = try Trainer(recipe: recipe, progress: progress).train(network, on: train, validation: validation)
        let metrics = try RunMetrics.measure(
            network, dataset: engine.dataset.rawValue, test: test, recipe: recipe, training: summary, threads: engine.threads)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Checkpoint.save(network, to: "\(out)/model.safetensors", metadata: ["lathe.dataset": engine.dataset.rawValue])
        try metrics.write(to: "\(out)/metrics.json")
        print(metrics.headline)
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}
