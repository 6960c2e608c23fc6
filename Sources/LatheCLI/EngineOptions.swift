import ArgumentParser
import Foundation
import LatheData
import LatheTensor
import LatheTrain

/// Options shared by every command that runs the engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "Intra-op threads for libtorch (default: the machine's cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("data"), help: "Data directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var dataDirectory: String?

    @Option(name: .customLong("dataset"),
            help: "Data set: \(DataSource.allCases.map(\.rawValue).joined(separator: ", ")) (default: the one a given checkpoint was trained on, else fashion-mnist).")
    var datasetChoice: DataSource?

    /// The data set: as given, else (after `adoptDataset(ofCheckpoint:)`) the checkpoint's, else Fashion-MNIST.
    var dataset: DataSource { datasetChoice ?? .fashionMNIST }

    /// Takes the data set a checkpoint was trained on (its `lathe.dataset` metadata) when
    /// `--dataset` was not given: a segmenter's checkpoint is evaluated on its canvases, not on
    /// 28×28 Fashion-MNIST. A `--dataset` that differs from the recorded one is an error naming
    /// both; a checkpoint without the record (imported models) keeps the given or default set.
    mutating func adoptDataset(ofCheckpoint path: String?) throws {
        guard let path, FileManager.default.fileExists(atPath: path) else { return }
        guard let recorded = try SafeTensors.metadata(path: path)["lathe.dataset"] else { return }
        guard let source = DataSource(rawValue: recorded) else {
            throw ValidationError("checkpoint '\(path)' records data set '\(recorded)', which this lathe does not know: expected one of \(DataSource.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let datasetChoice, datasetChoice != source {
            throw ValidationError("--dataset \(datasetChoice.rawValue) differs from the data set checkpoint '\(path)' was trained on (\(recorded)); leave --dataset out to use it")
        }
        datasetChoice = source
    }

    @Option(help: "Use only the first N training samples.")
    var limitTrain: Int?

    @Option(help: "Use only the first N test samples.")
    var limitTest: Int?

    @Flag(help: "Skip the latency phase (timing the model, interleaved with its reference and a control copy).")
    var noLatency = false

    @Option(help: "Seconds the latency phase may take (warm-up included) before it stops short of its ±1.5 % target, after at least 5 rounds (default: 10).")
    var latencyBudget: Double = 10

    @Option(help: ArgumentHelp("Latency backends: libtorch (always) and ort: ONNX Runtime on the exported model (QDQ int8 for a quantized one), beside libtorch's, with the uncompressed model's for a speedup (repeatable).", valueName: "backend"))
    var backend: [LatencyBackend] = []

    func validate() throws {
        guard (1...256).contains(threads) else {
            throw ValidationError("--threads \(threads) is out of range: expected an integer in 1...256")
        }
        if let n = limitTrain, n < 1 { throw ValidationError("--limit-train \(n): expected a positive integer") }
        if let n = limitTest, n < 1 { throw ValidationError("--limit-test \(n): expected a positive integer") }
        guard latencyBudget >= 0.1, latencyBudget <= 86_400 else {
            throw ValidationError("--latency-budget \(latencyBudget): expected seconds in 0.1...86400")
        }
    }

    func apply() { Engine.threads = threads }

    /// The latency phase's plan, or nil with `--no-latency`.
    var latencyPlan: LatencyPlan? {
        guard !noLatency else { return nil }
        var plan = LatencyPlan()
        plan.budgetSeconds = latencyBudget
        return plan
    }
}

extension DataSource: ExpressibleByArgument {}
extension Recipe.OptimizerKind: ExpressibleByArgument {}
extension Recipe.ScheduleKind: ExpressibleByArgument {}
