import Foundation
import LatheData
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
    /// Shared artifacts: baselines (`models/`) and teachers (`teachers/`), trained once.
    public var cacheDirectory: String
    public var registryDirectory: String
    public var threads: Int
    public var latheVersion: String
    /// Where the trial saves its final model for the sweep's latency phase (none: not saved).
    public var modelPath: String?
}

/// Runs one trial in this (child) process: the seed's cached baseline, then the stages, then
/// the measurements, returned as the outcome the parent records.
public enum TrialRunner {
    public static func run(_ job: TrialJob, progress: ProgressReporter) throws -> ResultsStore.Outcome {
        Engine.threads = job.threads
        let (train, test) = try job.dataset.load(directory: job.dataDirectory, limitTrain: job.limitTrain, limitTest: job.limitTest)
        let registry = try Registry(directory: job.registryDirectory)
        var recipe = job.baseline
        recipe.seed = job.plan.seed
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount)
        let models = TeacherCache(directory: URL(fileURLWithPath: job.cacheDirectory).appendingPathComponent("models").path)
        let key = TeacherKey(model: job.model, options: options, dataset: job.dataset.rawValue, train: train, recipe: recipe)
        let base = try models.teacher(for: key, train: train, progress: progress)
        let baseAccuracy = try Evaluation.evaluate(base.model, on: test).accuracy

        var model = try base.model.copy()
        var quantized: QuantizedModel?
        var quantReport: QuantReport?
        var metrics: [String: Double] = [:]
        var layers: [String: [String: Double]] = [:]
        var provenance: [String: String] = [
            "lathe_version": job.latheVersion, "libtorch": Engine.libtorchVersion, "seed": String(job.plan.seed),
            "host": ProcessInfo.processInfo.hostName, "threads": String(job.threads), "abi": ABI.version,
            "baseline_checkpoint": base.path, "baseline_cache_hit": String(base.hit),
            "data_fingerprint": TrialProvenance.dataFingerprint(train: train, test: test),
        ]
        provenance.merge(try TrialProvenance.specFragment(of: job)) { $1 }
        var trainingSeconds = base.hit ? 0 : base.training?.trainingSeconds ?? 0
        // The compression stages' own time (see StageTimer): quantize, prune and distill.
        var compressSeconds = 0.0
        func note(plugin qualified: String) {
            guard let name = qualified.split(separator: "/").first.map(String.init), let m = registry.manifests[name] else { return }
            provenance["plugin.\(name).sha256"] = m.sha256 ?? "unpinned"
            provenance["plugin.\(name).version"] = m.plugin.version
            provenance["plugin.\(name).abi"] = "\(m.plugin.abiMajor).\(m.plugin.abiMinor)"
        }

        for (index, stage) in job.plan.stages.enumerated() {
            progress.note("stage \(index + 1)/\(job.plan.stages.count): \(stage.kind)")
            let timer = StageTimer()
            let data = try JSONSerialization.data(withJSONObject: stage.config.any)
            switch stage.kind {
            case "quantize":
                let config = try JSONDecoder().decode(QuantConfig.self, from: data)
                note(plugin: config.method)
                if config.activations != .none { note(plugin: config.activationMethod) }
                let (q, report) = try QuantizationStage.run(config, model: model, train: train, test: test, recipe: recipe,
                                                            registry: registry, progress: progress)
                model = q.model
                quantized = q
                quantReport = report
                compressSeconds += timer.methodSeconds(excludingTraining: report.qatTraining?.trainingSeconds ?? 0)
                trainingSeconds += report.qatTraining?.trainingSeconds ?? 0
                for l in report.layers {
                    layers[l.layer, default: [:]].merge(["bits": Double(l.bits), "bytes": Double(l.bytes), "bits_per_weight": l.effectiveBits]) { $1 }
                }
                if let bits = report.bitsPerWeight { metrics["bits_per_weight"] = bits }
                for row in report.sensitivity { layers[row.layer, default: [:]]["sensitivity_drop"] = row.drop }
                for e in report.int8 {
                    metrics["int8_\(e.engine)_accuracy"] = e.accuracy
                    metrics["int8_\(e.engine)_speedup_b1"] = e.speedup[0]
                    metrics["int8_\(e.engine)_speedup_b256"] = e.speedup[1]
                }
            case "prune":
                let config = try JSONDecoder().decode(PruningConfig.self, from: data)
                note(plugin: config.criterion)
                let (pruned, report) = try PruningStage.run(config, model: model, train: train, test: test, recipe: recipe,
                                                            registry: registry, progress: progress)
                model = pruned
                quantized = nil
                let finetuneSeconds = report.steps.reduce(0) { $0 + $1.finetuneSeconds }
                compressSeconds += timer.methodSeconds(excludingTraining: finetuneSeconds)
                trainingSeconds += finetuneSeconds
                metrics["sparsity_masked"] = report.maskedSparsity
                metrics["params_removed"] = Double(report.physicallyRemovedParameters)
                for l in report.layers {
                    layers[l.name, default: [:]]["sparsity"] = l.maskedSparsity
                    layers[l.name, default: [:]]["channels_removed"] = Double(l.channelsRemoved)
                }
            case "finetune":
                let config = try JSONDecoder().decode(FinetuneConfig.self, from: data)
                var r = recipe
                r.epochs = config.epochs
                if let lr = config.lr { r.learningRate = lr }
                let summary = try Trainer(recipe: r, progress: progress).train(model, on: train)
                trainingSeconds += summary.trainingSeconds
                quantized = nil
            case "distill":
                var body = stage.config.object ?? [:]
                var studentRecipe = recipe
                if let overrides = body.removeValue(forKey: "recipe") {
                    studentRecipe = try JSONDecoder().decode(RecipeOverrides.self, from: JSONSerialization.data(withJSONObject: overrides.any))
                        .applied(to: recipe)
                    studentRecipe.seed = recipe.seed
                }
                let config = try JSONDecoder().decode(DistillConfig.self, from: JSONSerialization.data(withJSONObject: JSONValue.object(body).any))
                for term in config.terms { note(plugin: term.method) }
                let teachers = TeacherCache(directory: URL(fileURLWithPath: job.cacheDirectory).appendingPathComponent("teachers").path)
                let (student, report) = try DistillationStage.run(config, train: train, test: test, dataset: job.dataset.rawValue,
                                                                  recipe: studentRecipe, registry: registry, cache: teachers, progress: progress)
                model = student
                quantized = nil
                compressSeconds += timer.methodSeconds(excludingTraining: report.teacher.cacheHit ? 0 : report.teacher.training?.trainingSeconds ?? 0)
                metrics["teacher_accuracy"] = report.teacher.accuracy
                // The teacher as stored (fp32, dense), measured like every trial's size_bytes.
                metrics["teacher_size_bytes"] = Double(try ModelCost.of(Checkpoint.load(report.teacher.cachePath).model).sizeBytes)
                provenance["teacher"] = "\(config.teacher.model) (width \(config.teacher.width))"
                provenance["teacher_checkpoint"] = report.teacher.cachePath
                trainingSeconds += report.training.trainingSeconds
            default:
                throw SweepError("unknown stage kind '\(stage.kind)'")
            }
        }
        metrics["compress_seconds"] = compressSeconds

        let accuracy = try quantized?.evaluate(on: test).accuracy ?? Evaluation.evaluate(model, on: test).accuracy
        // Against the same seed's baseline; a baseline trial (no stages) compares the baseline
        // with itself and records 0 and 0.
        let baseContext = ForwardContext(training: false)
        let finalContext = try quantized?.context() ?? ForwardContext(training: false)
        let agreement = try Agreement.measure(on: test, baseline: { try base.model.forward($0, baseContext) },
                                              compressed: { try model.forward($0, finalContext) })
        // Sparse formats at the quantized widths while the final model is the quantized one.
        let cost = try QuantizedStorage.cost(of: model, quantized: quantized == nil ? [] : quantReport?.layers ?? [])
        provenance["storage_format"] = cost.storageSummary
        let baseBytes = Double(base.model.state.reduce(0) { $0 + 4 * $1.1.count })
        let size = Double(cost.sizeBytes)
        metrics.merge([
            "accuracy": accuracy, "baseline_accuracy": baseAccuracy, "accuracy_delta": 100 * (accuracy - baseAccuracy),
            "flip_rate": agreement.flipRate, "kl_to_baseline": agreement.klToBaseline,
            "size_bytes": size, "fp32_size_bytes": baseBytes, "compression_ratio": baseBytes / Swift.max(size, 1),
            "params": Double(model.parameterCount), "macs": Double(cost.macs),
            "train_seconds": trainingSeconds, "peak_rss_bytes": Double(ProcessStats.peakRSSBytes),
        ]) { $1 }
        // Latency is not measured here, beside other trials: the sweep's latency phase times
        // this saved model afterwards, alone.
        if let path = job.modelPath {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Checkpoint.save(model, to: path, shapesChanged: true)
        }
        return ResultsStore.Outcome(metrics: metrics, layerStats: layers, provenance: provenance)
    }
}
