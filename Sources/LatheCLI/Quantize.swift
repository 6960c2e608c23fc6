import ArgumentParser
import Foundation
import LatheIO
import LatheModels
import LatheONNX
import LathePlugins
import LatheQuant
import LatheScale
import LatheTensor
import LatheTrain

/// `lathe quantize`: one quantization run (PTQ or QAT) with any quantizer plugin, from a
/// checkpoint or a zoo model trained first with the recipe flags.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model with a quantizer plugin (PTQ, QAT, activations, real int8) and save the metrics.")

    @Option(help: "Checkpoint to quantize (default: train --model first with the recipe flags).") var checkpoint: String?
    @Option(help: "Zoo model to train when no checkpoint is given.") var model: String = "lenet5"
    @Option(help: "Weight quantizer, PLUGIN/METHOD.") var method: String = "uniform/symmetric"
    @Option(name: .customLong("param"), help: "Weight quantizer hyperparameter NAME=VALUE (repeatable).") var params: [String] = []
    @Option(help: "ptq or qat.") var workflow: String = "ptq"
    @Option(help: "Activation quantization: none, static (calibrated) or dynamic (per batch).") var activations: String = "none"
    @Option(help: "Activation quantizer, PLUGIN/METHOD.") var activationMethod: String = "uniform/affine"
    @Option(name: .customLong("activation-param"), help: "Activation quantizer hyperparameter NAME=VALUE.") var activationParams: [String] = []
    @Option(name: .customLong("layer-bits"), help: "Per-layer bits LAYER=BITS (repeatable).") var layerBits: [String] = []
    @Option(help: "Bits for the first and last quantized layers.") var firstLastBits: Int?
    @Option(help: "Layer left in float (repeatable).") var exclude: [String] = []
    @Option(help: "Calibration batches.") var calibrationBatches: Int = 8
    @Option(help: "Mixed precision: effective bits per quantized weight (scales included) for per-layer widths chosen by a knapsack.")
    var budgetBits: Double?
    @Option(help: "Mixed precision at the size of every layer at this uniform width (equal size).") var budgetUniformBits: Int?
    @Option(help: "Mixed precision: bytes of the quantized layers.") var budgetBytes: Int?
    @Option(help: "Candidate widths of mixed precision, comma-separated.") var mixedBits: String = "2,3,4,5,6,8"
    @Option(help: "Per-layer cost of a width: loss (measured on calibration batches) or hessian-trace.") var mixedSensitivity: String = "loss"
    @Option(help: "Channel scaler applied before quantizing, PLUGIN/METHOD (e.g. calib/smoothquant, calib/awq).") var scale: String?
    @Option(name: .customLong("scale-param"), help: "Channel scaler hyperparameter NAME=VALUE (repeatable).") var scaleParams: [String] = []
    @Option(help: "Scaler hyperparameter searched per layer, with this command's weight quantizer in the loop (e.g. alpha).")
    var scaleSearch: String?
    @Option(help: "QAT epochs.") var qatEpochs: Int = 2
    @Option(help: "QAT peak learning rate.") var qatLr: Double = 0.005
    @Option(help: "QAT peak learning rate of learnable quantizer tensors (default: --qat-lr).") var learnableLr: Double?
    @Option(help: "Weight decay of learnable quantizer tensors.") var learnableWeightDecay: Double = 0
    @Flag(help: "Do not fold batch norm into convolutions.") var noFoldBn = false
    @Flag(help: "Plain (unclipped) straight-through estimator.") var noClippedSte = false
    @Flag(help: "Also run real int8 layers on libtorch's quantized engines.") var int8 = false
    @Flag(help: "Also quantize one layer at a time and tabulate the accuracy drop.") var sensitivity = false
    @Option(name: .customLong("out"), help: "Output directory (default: runs/quantize-<model>).") var outputDirectory: String?
    @Option(help: "Registry folder.") var registry: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @OptionGroup var recipeOptions: RecipeOptions
    @OptionGroup var engine: EngineOptions

    /// The configuration the flags describe (hyperparameters parsed against the plugins' declarations).
    func config(_ registry: Registry) throws -> QuantConfig {
        var c = QuantConfig()
        c.method = method
        guard let workflow = QuantConfig.Workflow(rawValue: workflow) else {
            throw ValidationError("--workflow \(self.workflow): expected ptq or qat")
        }
        guard let activations = QuantConfig.Activations(rawValue: activations) else {
            throw ValidationError("--activations \(self.activations): expected none, static or dynamic")
        }
        c.workflow = workflow
        c.activations = activations
        c.activationMethod = activationMethod
        let (weightManifest, weightMethod) = try registry.resolve(method)
        c.params = try weightMethod.parse(assignments: params, plugin: weightManifest.plugin.name)
        if !activationParams.isEmpty || activations != .none || int8 {
            let (manifest, activation) = try registry.resolve(activationMethod)
            c.activationParams = try activation.parse(assignments: activationParams, plugin: manifest.plugin.name)
        }
        for text in layerBits {
            let parts = text.split(separator: "=")
            guard parts.count == 2, let bits = Int(parts[1]) else { throw ValidationError("--layer-bits '\(text)': expected LAYER=BITS") }
            c.layerBits[String(parts[0])] = bits
        }
        c.firstLastBits = firstLastBits
        c.exclude = exclude
        c.calibrationBatches = calibrationBatches
        c.qatEpochs = qatEpochs
        c.qatLearningRate = qatLr
        c.learnableLearningRate = learnableLr
        c.learnableWeightDecay = learnableWeightDecay
        c.foldBatchNorm = !noFoldBn
        c.clippedSTE = !noClippedSte
        c.realInt8 = int8
        c.sensitivity = sensitivity
        c.budgetBits = budgetBits
        c.budgetUniformBits = budgetUniformBits
        c.budgetBytes = budgetBytes
        c.mixedBits = try mixedBits.split(separator: ",").map { part in
            guard let bits = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--mixed-bits '\(mixedBits)': expected comma-separated integers, e.g. 2,3,4,8")
            }
            return bits
        }
        guard let sensitivity = MixedSensitivity(rawValue: mixedSensitivity) else {
            throw ValidationError("--mixed-sensitivity \(mixedSensitivity): expected \(MixedSensitivity.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        c.mixedSensitivity = sensitivity
        do { try c.validate() } catch let error as QuantError { throw ValidationError(error.message) }
        return c
    }

    /// The channel scaling `--scale` asks for (searching with this command's weight quantizer), or nil.
    func scaleConfig(_ registry: Registry, quant: QuantConfig) throws -> ScaleConfig? {
        guard let scale else {
            guard scaleParams.isEmpty, scaleSearch == nil else { throw ValidationError("--scale-param and --scale-search need --scale METHOD") }
            return nil
        }
        var c = ScaleConfig()
        c.method = scale
        let (manifest, scaler) = try registry.resolve(scale)
        c.params = try scaler.parse(assignments: scaleParams, plugin: manifest.plugin.name)
        c.exclude = exclude
        c.calibrationBatches = calibrationBatches
        if let scaleSearch {
            c.search = scaleSearch
            c.quantizer = quant.method
            c.quantizerParams = quant.params
        }
        do { _ = try c.validate(against: registry) } catch let error as ScaleError { throw ValidationError(error.description) }
        return c
    }

    mutating func run() throws {
        try engine.adoptDataset(ofCheckpoint: checkpoint)
        engine.apply()
        let reg = try Registry(directory: registry ?? Registry.defaultDirectory())
        let config = try config(reg)
        let scaling = try scaleConfig(reg, quant: config)
        if let checkpoint, !FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("checkpoint '\(checkpoint)' does not exist")
        }
        if checkpoint == nil, !Zoo.isKnown(model) {
            throw ValidationError("unknown model '\(model)': expected one of \(Zoo.names.joined(separator: ", ")), or an ONNX file (.onnx)")
        }
        let progress = ProgressReporter(style: plain ? .lines : nil)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)
        let base: Model
        var training: TrainingSummary?
        if let checkpoint {
            base = try Checkpoint.load(checkpoint).model
        } else {
            let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount)
            base = try Zoo.make(model, options: options, seed: recipeOptions.seed)
        }
        // The recipe of the baseline's architecture (also for QAT fine-tuning of a checkpoint).
        let recipe = recipeOptions.recipe(for: base.architecture)
        if checkpoint == nil {
            progress.note("training the fp32 baseline \(model) for \(recipe.epochs) epoch(s)")
            training = try Trainer(recipe: recipe, progress: progress).train(base, on: train)
        }
        if let scaling {
            let report = try ScaleStage.run(scaling, model: base, train: train, test: test, recipe: recipe, registry: reg, progress: progress)
            print(report.summary)
        }
        progress.note("quantizing \(base.architecture) with \(config.method) (\(config.workflow.rawValue), activations \(config.activations.rawValue))")
        let (quantized, report) = try QuantizationStage.run(config, model: base, train: train, test: test, recipe: recipe,
                                                            registry: reg, progress: progress)
        var metrics = try RunMetrics.measure(quantized.model, dataset: engine.dataset.rawValue, test: test, recipe: recipe,
                                             training: training, threads: engine.threads, reference: base, latency: engine.latencyPlan)
        // The fake-quant model is evaluated with its activation quantization (every score, not only
        // the primary one: mAP@.5 or the IoU per class of the model `measure` ran without it); size
        // at real bit widths.
        let scores = try quantized.metrics(on: test)
        metrics.accuracy = report.accuracy
        metrics.scores = scores.all
        metrics.classIoU = scores.classIoU
        metrics.cost.sizeBytes = report.sizeBytes
        let baseContext = ForwardContext(training: false)
        let quantContext = try quantized.context()
        metrics.record(try Agreement.measure(on: test, baseline: { try base.forward($0, baseContext) },
                                             compressed: { try quantized.model.forward($0, quantContext) }))
        let out = outputDirectory ?? "runs/quantize-\(base.architecture)"
        if engine.backend.contains(.ort) {
            // ONNX Runtime times the QDQ int8 export where the quantization has one, else the fp32 export of the dequantized weights.
            var qdq: Onnx_ModelProto?
            do {
                let record = [CheckpointQuantization.metadataKey: try quantized.checkpointQuantization().encoded()]
                qdq = try ONNXExporter.export(quantized.model, quantization: QDQExportPlan(checkpoint: out, metadata: record, activationBits: .auto).layers)
            } catch {
                progress.note("ONNX Runtime times the fp32 export of the dequantized weights: \(error)")
            }
            metrics.backendLatency = try engine.backendLatency(quantized.model, reference: base, qdq: qdq)
        }
        let document = QuantizeOutput(metrics: metrics, quantization: report)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(document)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Checkpoint.save(quantized.model, to: "\(out)/model.safetensors",
                            metadata: ["lathe.dataset": engine.dataset.rawValue, "lathe.quantized": config.method,
                                       CheckpointQuantization.metadataKey: try quantized.checkpointQuantization().encoded()],
                            extras: try quantized.checkpointExtras())
        try atomicWrite(data, to: URL(fileURLWithPath: "\(out)/metrics.json"))
        print(Self.summary(report, metric: test.task.primaryMetric))
        print("metrics: \(out)/metrics.json")
    }

    /// The report's lines; `metric` names the task's primary metric (accuracy, miou, map).
    static func summary(_ r: QuantReport, metric: String = "accuracy") -> String {
        var lines = [String(format: "fp32 %@ %.2f%%, quantized %.2f%% (%+.2f pt); size %.1f KB -> %.1f KB (%.2fx)",
                            metric, 100 * r.fp32Accuracy, 100 * r.accuracy, 100 * (r.accuracy - r.fp32Accuracy),
                            Double(r.fp32SizeBytes) / 1024, Double(r.sizeBytes) / 1024, r.compressionRatio)]
        if let bits = Quantization.bitsPerWeight(r.layers) {
            lines.append(String(format: "  quantized weights: %.4g bits/weight (scales and zero points included)", bits))
        }
        if let m = r.mixedPrecision {
            lines.append(String(format: "  mixed precision by %@: %d of %d budget bytes, %.3f bits/weight, summed cost %.4g",
                                m.sensitivity.rawValue, m.sizeBytes, m.budgetBytes, m.bitsPerWeight, m.totalCost))
        }
        for layer in r.layers {
            lines.append("  \(layer.layer): \(layer.formatDescription), \(String(format: "%.4g", layer.effectiveBits)) bits/weight, \(layer.bytes) B (fp32 \(layer.fp32Bytes) B)")
        }
        for v in r.learned ?? [] {
            let values = v.values.map { $0.count <= 4 ? " = " + $0.map { String(format: "%.4g", $0) }.joined(separator: ", ") : "" } ?? ""
            lines.append(String(format: "  learned %@ %@.%@ %@: mean %.4g, min %.4g, max %.4g", v.layer, v.role, v.name,
                                "\(v.shape)", v.mean, v.min, v.max) + values)
        }
        for e in r.int8 {
            lines.append(String(format: "  real int8 on %@: accuracy %.2f%% (simulated %.2f%%); latency b1 %.3f ms vs fp32 %.3f ms (%.2fx), b256 %.2f ms vs %.2f ms (%.2fx): %@",
                                e.engine, 100 * e.accuracy, 100 * e.simulatedAccuracy, e.latency[0].medianMilliseconds, e.fp32Latency[0].medianMilliseconds,
                                e.speedup[0], e.latency[1].medianMilliseconds, e.fp32Latency[1].medianMilliseconds, e.speedup[1], e.note))
        }
        if !r.sensitivity.isEmpty {
            lines.append("  sensitivity (one layer quantized at a time; drop vs fp32):")
            for row in r.sensitivity {
                let name = "    " + row.layer.padding(toLength: Swift.max(12, row.layer.count), withPad: " ", startingAt: 0)
                lines.append(name + String(format: " %2d-bit  accuracy %.2f%%  drop %+.2f pt", row.bits, 100 * row.accuracy, row.drop))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// `metrics.json` of a quantization run: the usual run metrics plus the quantization ledger.
struct QuantizeOutput: Codable {
    var metrics: RunMetrics
    var quantization: QuantReport
}
