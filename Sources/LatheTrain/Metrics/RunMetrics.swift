import Foundation
import LatheData
import LatheIO
import LatheModels
import LatheTensor

/// The metrics JSON written next to every checkpoint: what a later trial compares against.
public struct RunMetrics: Sendable, Codable, Equatable {
    public var model: String
    public var options: ModelOptions
    public var dataset: String
    public var recipe: Recipe?
    public var threads: Int
    /// Top-1 test accuracy in 0...1.
    public var accuracy: Double
    public var testLoss: Double
    public var testSamples: Int
    /// Share of test predictions that differ from the uncompressed model's: set by the
    /// compression commands (quantize, prune; distill against the teacher), absent otherwise.
    public var flipRate: Double?
    /// Mean KL(uncompressed ‖ compressed) of the test-set softmax outputs, in nats: set with `flipRate`.
    public var klToBaseline: Double?
    public var cost: ModelCost
    public var latency: [Latency]
    public var training: TrainingSummary?
    public var peakRSSBytes: Int
    public var libtorch: String
    public var createdAt: String

    /// Writes pretty-printed JSON atomically (temp file + rename).
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(encoder.encode(self), to: URL(fileURLWithPath: path))
    }
}

extension RunMetrics {
    /// Evaluates `model` on `test` and measures its cost and latency (batch 1 and 256).
    public static func measure(
        _ model: Model, dataset: String, test: LatheData.ImageDataset, recipe: Recipe?, training: TrainingSummary?, threads: Int
    ) throws -> RunMetrics {
        let (accuracy, loss) = try Evaluation.evaluate(model, on: test)
        let latency = try [1, 256].map { try Latency.measure(model, batchSize: $0, runs: $0 == 1 ? 50 : 10) }
        return RunMetrics(
            model: model.architecture, options: model.options, dataset: dataset, recipe: recipe, threads: threads,
            accuracy: accuracy, testLoss: loss, testSamples: test.count, cost: try ModelCost.of(model), latency: latency,
            training: training, peakRSSBytes: ProcessStats.peakRSSBytes, libtorch: LatheTensor.Engine.libtorchVersion,
            createdAt: ISO8601DateFormatter().string(from: Date()))
    }

    /// Records `agreement` (flip rate and KL against the uncompressed model).
    public mutating func record(_ agreement: Agreement) {
        flipRate = agreement.flipRate
        klToBaseline = agreement.klToBaseline
    }

    /// A one-line summary for the terminal.
    public var headline: String {
        let lat = latency.map { String(format: "b%d %.3f ms", $0.batchSize, $0.medianMilliseconds) }.joined(separator: ", ")
        var s = String(format: "%@: test accuracy %.2f%% (%d images), %d params, %.1f KB, %d MACs, latency %@",
                       model, 100 * accuracy, testSamples, cost.parameters, Double(cost.sizeBytes) / 1024, cost.macs, lat)
        if let t = training { s += String(format: ", trained in %.1fs (%.0f img/s)", t.trainingSeconds, t.imagesPerSecond) }
        return s
    }
}
