import Foundation
import LatheData
import LatheIO
import LatheDistill
import LatheModels
import LathePlugins
import LathePruning
import LatheQuant
import LatheResults
import LatheTensor
import LatheTrain

/// Everything a trial's child process needs (written by the parent as JSON).
public struct TrialJob: Codable, Sendable {
    public var plan: TrialPlan
    public var model: String
    public var dataset: DataSource
    public var dataDirectory: String?
    public var limitTrain: Int?
    public var limitTest: Int?
    public var baseline: Recipe
    /// Shared artifacts: baselines (`models/`) and teachers (`teachers/`), trained once, and
    /// generated data sets (`datasets/`: the fmnist-detect / fmnist-seg canvases).
    public var cacheDirectory: String
    public var registryDirectory: String
    public var threads: Int
    public var latheVersion: String
    /// Where the trial saves its final model for the sweep's latency phase (none: not saved).
    public var modelPath: String?

    /// Where generated data sets are cached: in the sweep's cache, so that every trial (and
    /// every Slurm node, through the shared directory) reads the canvases generated once.
    public var datasetCacheDirectory: String {
        URL(fileURLWithPath: cacheDirectory).appendingPathComponent("datasets").path
    }
}

/// Runs one trial in this (child) process: the seed's cached baseline, then the stages, then
/// the measurements, returned as the outcome the parent records.
public enum TrialRunner {
    public static func run(_ job: TrialJob, progress: ProgressReporter) throws -> ResultsStore.Outcome {
        Engine.threads = job.threads
        let (train, test) = try job.dataset.load(directory: job.dataDirectory, limitTrain: job.limitTrain, limitTest: job.limitTest,
                                                 cacheDirectory: job.datasetCacheDirectory)
        let registry = try Registry(directory: job.registryDirectory)
        var recipe = job.baseline
        recipe.seed = job.plan.seed
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount)
        let models = TeacherCache(directory: URL(fileURLWithPath: job.cacheDirectory).appendingPathComponent("models").path)
        let key = TeacherKey(model: job.model, options: options, dataset: job.dataset.rawValue, train: train, recipe: recipe)
        let base = try models.teacher(for: key, train: train, progress: progress)
        let baseAccuracy = try baselineScore(base, test: test)

        let trial = TrialState(job: job, train: train, test: test, recipe: recipe, registry: registry, progress: progress,
                               model: try base.model.copy())
        trial.provenance = [
            "lathe_version": job.latheVersion, "libtorch": Engine.libtorchVersion, "seed": String(job.plan.seed),
            "host": ProcessInfo.processInfo.hostName, "threads": String(job.threads), "abi": ABI.version,
            "baseline_checkpoint": base.path, "baseline_cache_hit": String(base.hit),
            "data_fingerprint": TrialProvenance.dataFingerprint(train: train, test: test),
            "metric": test.task.primaryMetric,
        ]
        trial.provenance.merge(try TrialProvenance.specFragment(of: job)) { $1 }
        trial.trainingSeconds = base.hit ? 0 : base.training?.trainingSeconds ?? 0

        for (index, stage) in job.plan.stages.enumerated() {
            progress.note("stage \(index + 1)/\(job.plan.stages.count): \(stage.kind)")
            guard let kind = StageKinds.named(stage.kind) else {
                throw SweepError("unknown stage kind '\(stage.kind)' (expected \(StageKinds.list))")
            }
            try kind.run(stage.config, on: trial)
        }
        var metrics = trial.metrics
        metrics["compress_seconds"] = trial.compressSeconds

        let model = trial.model, view = trial.view
        let scores = try view?.metrics(on: test) ?? Evaluation.metrics(model, on: test)
        let accuracy = scores.primary
        // The task's other scores beside its primary metric (which the accuracy column holds):
        // map50 and map75 of a detector, pixel_accuracy of a segmenter.
        for (name, value) in scores.all where name != test.task.primaryMetric {
            metrics[name] = value
        }
        // Against the same seed's baseline; a baseline trial (no stages) compares the baseline
        // with itself and records 0 and 0. Per image for classifiers, per pixel for segmenters;
        // none for detectors, whose heatmaps and box channels are no class distribution.
        let baseContext = ForwardContext(training: false)
        let finalContext = try view?.context() ?? ForwardContext(training: false)
        if let agreement = try Agreement.measure(on: test, baseline: { try base.model.forward($0, baseContext) },
                                                 compressed: { try model.forward($0, finalContext) }) {
            metrics["flip_rate"] = agreement.flipRate
            metrics["kl_to_baseline"] = agreement.klToBaseline
        }
        // Sparse formats at the quantized widths while the final model is the quantized one.
        let cost = try QuantizedStorage.cost(of: model, quantized: view?.quantizedLayers ?? [])
        trial.provenance["storage_format"] = cost.storageSummary
        let baseBytes = Double(base.model.state.reduce(0) { $0 + 4 * $1.1.count })
        let size = Double(cost.sizeBytes)
        metrics.merge([
            "accuracy": accuracy, "baseline_accuracy": baseAccuracy, "accuracy_delta": 100 * (accuracy - baseAccuracy),
            "size_bytes": size, "fp32_size_bytes": baseBytes, "compression_ratio": baseBytes / Swift.max(size, 1),
            "params": Double(model.parameterCount), "macs": Double(cost.macs),
            "train_seconds": trial.trainingSeconds, "peak_rss_bytes": Double(ProcessStats.peakRSSBytes),
        ]) { $1 }
        // Latency is not measured here, beside other trials: the sweep's latency phase times
        // this saved model afterwards, alone.
        if let path = job.modelPath {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Checkpoint.save(model, to: path, metadata: try view?.checkpointMetadata() ?? [:], shapesChanged: true,
                                extras: try view?.checkpointExtras() ?? [:])
        }
        return ResultsStore.Outcome(metrics: metrics, layerStats: trial.layers, provenance: trial.provenance)
    }

    /// The baseline's primary metric on `test`, computed by the first trial of its seed and kept
    /// beside its checkpoint (named by the checkpoint's key digest and the test set's
    /// fingerprint, written atomically): a detector's mAP costs a pass and a COCO evaluation
    /// that every other trial of the seed would repeat.
    static func baselineScore(_ base: TeacherCache.Entry, test: ImageDataset) throws -> Double {
        let file = URL(fileURLWithPath: "\(base.path).\(test.task.primaryMetric)-\(TeacherKey.fingerprint(test)).txt")
        if let text = try? String(contentsOf: file, encoding: .utf8), let value = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)),
           value.isFinite
        {
            return value
        }
        let value = try Evaluation.evaluate(base.model, on: test).accuracy
        try atomicWrite(Data("\(value)\n".utf8), to: file)
        return value
    }
}
