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
    @Option(help: "Calibration images for --activation-stats: the first N of the training set (default 256).") var activationSamples: Int?
    @Option(help: "Outlier channels listed per layer by --activation-stats (default 4).") var activationTopK: Int?

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let path = metricsOut { try OutputPath.checkFile(path, option: "--metrics-out") }
        if !activationStats, activationSamples != nil || activationTopK != nil {
            throw ValidationError("--activation-samples and --activation-top-k apply only with --activation-stats")
        }
        do {
            try ActivationStatistics.validate(samples: samples, topK: topK, samplesName: "--activation-samples", topKName: "--activation-top-k")
        } catch let error as TrainingError { throw ValidationError(error.description) }
    }

    var samples: Int { activationSamples ?? 256 }
    var topK: Int { activationTopK ?? 4 }

    mutating func run() throws {
        try engine.adoptDataset(ofCheckpoint: checkpoint)
        engine.apply()
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("checkpoint '\(checkpoint)' does not exist")
        }
        let (model, _) = try Checkpoint.load(checkpoint)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: activationStats ? samples : 1,
                                                    limitTest: engine.limitTest)
        var metrics = try RunMetrics.measure(model, dataset: engine.dataset.rawValue, test: test, recipe: nil, training: nil, threads: engine.threads,
                                             latency: engine.latencyPlan)
        metrics.backendLatency = try engine.backendLatency(model)
        if activationStats {
            metrics.activations = try ActivationStatistics.measure(model, on: train, samples: samples, topK: topK)
        }
        if let path = metricsOut { try metrics.write(to: path) }
        print(metrics.headline)
        if let activations = metrics.activations { print(activations.table, terminator: "") }
    }
}
