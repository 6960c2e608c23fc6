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
    /// The task's primary test metric in 0...1: top-1 accuracy, mIoU (segmentation) or COCO
    /// mAP@[.5:.95] (detection); named by `task`.
    public var accuracy: Double
    /// What the model predicts (nil in metrics written before tasks existed: classification).
    public var task: PredictionTask?
    /// Every test score by name (`TaskMetrics.all`: `map50`, `pixel_accuracy`, …); nil in older files.
    public var scores: [String: Double]?
    /// A segmenter's test IoU per class (index = class, 0 the background; null for a class in
    /// neither the ground truth nor the predictions); absent for other tasks.
    public var classIoU: [Double?]?
    public var testLoss: Double
    public var testSamples: Int
    /// Share of test predictions that differ from the uncompressed model's: set by the
    /// compression commands (quantize, prune; distill against the teacher), absent otherwise.
    public var flipRate: Double?
    /// Mean KL(uncompressed ‖ compressed) of the test-set softmax outputs, in nats: set with `flipRate`.
    public var klToBaseline: Double?
    public var cost: ModelCost
    /// The model's latency from the latency phase (empty with `--no-latency`); its speedups are
    /// over `referenceLatency`'s model, or its own control when timed alone.
    public var latency: [Latency]
    /// The uncompressed model's latency, timed interleaved with this one; its speedups are its
    /// control (against a copy of itself).
    public var referenceLatency: [Latency]?
    /// Latency of the exported model in other runtimes (`--backend ort`), beside libtorch's.
    public var backendLatency: [BackendLatency]?
    public var training: TrainingSummary?
    /// Per-channel statistics of the Linear and Conv2d layers' inputs (`lathe eval
    /// --activation-stats`); absent unless asked for.
    public var activations: ActivationStatistics?
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
    /// Evaluates `model` on `test`, measures its cost and, with a `latency` plan, times it in the
    /// latency phase: interleaved with `reference` (the uncompressed model) and a control copy
    /// of the reference (of `model` when there is none).
    public static func measure(
        _ model: Model, dataset: String, test: LatheData.ImageDataset, recipe: Recipe?, training: TrainingSummary?, threads: Int,
        reference: Model? = nil, latency plan: LatencyPlan?
    ) throws -> RunMetrics {
        let evaluated = try Evaluation.metrics(model, on: test)
        let (accuracy, loss) = (evaluated.primary, evaluated.loss)
        var latency: [Latency] = []
        var referenceLatency: [Latency]?
        if let plan {
            let control = try (reference ?? model).copy()
            var subjects = [subject("model", model), subject("control", control)]
            if let reference { subjects.append(subject("reference", reference)) }
            let series = try LatencyPhase.run(subjects, plan: plan)
            func of(_ id: String) -> [LatencySeries] { series.filter { $0.id == id } }
            let base = reference == nil ? of("model") : of("reference")
            let controls = of("control")
            if reference != nil {
                referenceLatency = zip(base, controls).map { Latency($0, over: $1) }
                latency = zip(of("model"), base).map { Latency($0, over: $1) }
            } else {
                latency = zip(base, controls).map { Latency($0, over: $1) }
            }
        }
        var metrics = RunMetrics(
            model: model.architecture, options: model.options, dataset: dataset, recipe: recipe, threads: threads,
            accuracy: accuracy, testLoss: loss, testSamples: test.count, cost: try ModelCost.of(model), latency: latency,
            training: training, peakRSSBytes: ProcessStats.peakRSSBytes, libtorch: LatheTensor.Engine.libtorchVersion,
            createdAt: ISO8601DateFormatter().string(from: Date()))
        metrics.referenceLatency = referenceLatency
        metrics.task = test.task
        metrics.scores = evaluated.all
        metrics.classIoU = evaluated.classIoU
        return metrics
    }

    private static func subject(_ id: String, _ model: Model) -> LatencySubject {
        let o = model.options
        return LatencySubject(id: id, input: [o.inputChannels, o.imageSize, o.imageSize]) { try model.predict($0) }
    }

    /// Records `agreement` (flip rate and KL against the uncompressed model).
    public mutating func record(_ agreement: Agreement?) {
        flipRate = agreement?.flipRate
        klToBaseline = agreement?.klToBaseline
    }

    /// A summary for the terminal: one line, and a second with a segmenter's IoU per class.
    public var headline: String {
        let lat = latency.isEmpty ? "not measured (--no-latency)" : latency.map(\.summary).joined(separator: "; ")
        let scores = (self.scores ?? [:]).filter { $0.key != (task ?? .classification).primaryMetric }.sorted { $0.key < $1.key }
            .map { String(format: " %@ %.2f%%", $0.key, 100 * $0.value) }.joined()
        var s = String(format: "%@: test %@ %.2f%%%@ (%d images), %d params, %.1f KB, %d MACs, latency %@",
                       model, (task ?? .classification).primaryMetric, 100 * accuracy, scores, testSamples, cost.parameters, Double(cost.sizeBytes) / 1024, cost.macs, lat)
        for b in backendLatency ?? [] { s += "; \(b.summary)" }
        if let t = training { s += String(format: ", trained in %.1fs (%.0f img/s)", t.trainingSeconds, t.imagesPerSecond) }
        if let classIoU {
            s += "\nIoU per class (0: background):" + classIoU.enumerated().map { i, v in
                v.map { String(format: " %d %.1f%%", i, 100 * $0) } ?? " \(i) -"
            }.joined()
        }
        return s
    }
}
