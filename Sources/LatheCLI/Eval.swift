import ArgumentParser
import Foundation
import LatheTrain

/// `lathe eval`: evaluates a checkpoint and prints (or writes) its metrics.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a checkpoint: accuracy, size, MACs, latency.")

    @Argument(help: "A .safetensors checkpoint written by lathe.")
    var checkpoint: String

    @Option(help: "Write the metrics JSON here.") var metricsOut: String?

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if let path = metricsOut { try OutputPath.checkFile(path, option: "--metrics-out") }
    }

    func run() throws {
        engine.apply()
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ValidationError("checkpoint '\(checkpoint)' does not exist")
        }
        let (model, _) = try Checkpoint.load(checkpoint)
        let (_, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: 1, limitTest: engine.limitTest)
        let metrics = try RunMetrics.measure(model, dataset: engine.dataset.rawValue, test: test, recipe: nil, training: nil, threads: engine.threads,
                                             latency: engine.latencyPlan)
        if let path = metricsOut { try metrics.write(to: path) }
        print(metrics.headline)
    }
}
