import ArgumentParser
import Foundation
import LatheTrain

/// `lathe eval`: evaluates a checkpoint and prints (or writes) its metrics.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a checkpoint: accuracy, size, MACs, latency.")

    @Argument(help: "A .safetensors checkpoint written by lathe.")
    var checkpoint: String

    @Option(help: "Write the metrics JSON here.") var metricsOut: String?

    @Flag(help: "Also measure the input activations of every Linear and Conv2d layer (per-channel abs-max and kurtosis, outlier channels) on the first training images.")
    var activationStats = false
    @Option(help: "Calibration images for --activation-stats (the first N of the training set).") var activationSamples = 256
    @Option(help: "Outlier channels listed per layer by --activation-stats.") var activationTopK = 4

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let path = metricsOut { try OutputPath.checkFile(path, option: "--metrics-out") }
        do {
            try ActivationStatistics.validate(samples: activationSamples, topK: activationTopK,
                                              samplesName: "--activation-samples", topKName: "--activation-top-k")
        } catch let error as TrainingError { throw ValidationError(error.description) }
    }

    func run() throws {
        engine.apply()
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("checkpoint '\(checkpoint)' does not exist")
        }
        let (model, _) = try Checkpoint.load(checkpoint)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: activationStats ? activationSamples : 1,
                                                    limitTest: engine.limitTest)
        var metrics = try RunMetrics.measure(model, dataset: engine.dataset.rawValue, test: test, recipe: nil, training: nil, threads: engine.threads,
                                             latency: engine.latencyPlan)
        if activationStats {
            metrics.activations = try ActivationStatistics.measure(model, on: train, samples: activationSamples, topK: activationTopK)
        }
        if let path = metricsOut { try metrics.write(to: path) }
        print(metrics.headline)
        if let activations = metrics.activations { print(activations.table, terminator: "") }
    }
}
