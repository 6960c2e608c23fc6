import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// Real int8 execution on one engine, measured against fp32 and against the simulation.
public struct Int8Result: Codable, Sendable, Equatable {
    public var engine: String
    public var accuracy: Double
    /// Accuracy of the fake-quantized model with the same parameters (static activations,
    /// with the engine's activation codes: 7-bit where `activationBits` is 7).
    public var simulatedAccuracy: Double
    public var latency: [Latency]
    public var fp32Latency: [Latency]
    /// fp32 time / int8 time per batch size (> 1 means int8 is faster).
    public var speedup: [Double]
    /// What the measurement means, in words.
    public var note: String
    /// Bits of the activation codes the integer kernels received: 8, or 7 where this CPU's
    /// kernels would saturate 16-bit pair sums (`QuantizedEngine.activationQMax()`).
    /// Absent in results recorded before it was measured.
    public var activationBits: Int?
    /// The CPU features that decided it (`CPUFeatures`), e.g. `avx2`.
    public var cpu: String?

    enum CodingKeys: String, CodingKey {
        case engine, accuracy, simulatedAccuracy, latency, fp32Latency, speedup, note
        case activationBits = "activation_bits", cpu
    }
}

/// Accuracy with one layer quantized and every other layer in float.
public struct SensitivityRow: Codable, Sendable, Equatable {
    public var layer: String
    public var bits: Int
    public var accuracy: Double
    /// Points lost against fp32 (positive = worse).
    public var drop: Double
}

/// The ledger of one quantization stage.
public struct QuantReport: Codable, Sendable {
    public var config: QuantConfig
    public var fp32Accuracy: Double
    /// Accuracy of the quantized (simulated, fake-quant) model.
    public var accuracy: Double
    public var layers: [LayerQuant]
    public var sizeBytes: Int
    public var fp32SizeBytes: Int
    public var compressionRatio: Double
    /// Storage bits per quantized weight, scales and zero points included
    /// (`Quantization.bitsPerWeight`). Absent in reports recorded before it was measured.
    public var bitsPerWeight: Double?
    public var foldedBatchNorm: [String]
    public var qatTraining: TrainingSummary?
    public var int8: [Int8Result]
    public var sensitivity: [SensitivityRow]
    /// Final values of the quantizers' learnable tensors (absent when none learns).
    public var learned: [LearnedValue]?
    /// The per-layer widths a mixed-precision budget chose (absent without a budget).
    public var mixedPrecision: MixedPrecisionReport?

    enum CodingKeys: String, CodingKey {
        case config, fp32Accuracy = "fp32_accuracy", accuracy, layers, sizeBytes = "size_bytes"
        case fp32SizeBytes = "fp32_size_bytes", compressionRatio = "compression_ratio", bitsPerWeight = "bits_per_weight"
        case foldedBatchNorm = "folded_batch_norm", qatTraining = "qat_training", int8, sensitivity, learned
        case mixedPrecision = "mixed_precision"
    }
}

/// Runs one quantization stage (PTQ or QAT, weights and optionally activations) on a copy of a
/// trained model, and measures what it cost and what it bought.
public enum QuantizationStage {
    /// Quantizes a copy of `model`; returns the quantized (fake-quant) model and the report.
    /// `evaluate` configures the context the quantized model must be evaluated with
    /// (activation quantization); it is also in `QuantizedModel`.
    public static func run(_ config: QuantConfig, model original: Model, train: ImageDataset, test: ImageDataset,
                           recipe: Recipe, registry: Registry, progress: ProgressReporter = ProgressReporter(style: .silent)) throws
        -> (model: QuantizedModel, report: QuantReport)
    {
        try config.validate()
        var config = config
        let fp32Accuracy = try Evaluation.evaluate(original, on: test).accuracy
        let model = try original.copy()
        let folded = config.foldBatchNorm ? try BatchNormFolding.fold(model).map { "\($0.conv)+\($0.batchNorm)" } : []
        // [1.3] Weight quantizers that read their layer's input statistics: post-training only, from the model as trained.
        let uniform = try weightQuantizers(model, config, registry)
        if uniform.contains(where: { $0.needsStatistics }), config.workflow == .qat {
            throw QuantError("\(config.method) reads its layers' input statistics (post-training weight quantization): expected workflow = \"ptq\"")
        }
        let weightStatistics = try LayerQuantizer.statistics(
            uniform, model: model, train: train,
            plan: CalibrationPlan(batches: config.calibrationBatches, batchSize: recipe.batchSize, seed: recipe.seed))
        var mixed: MixedPrecisionReport?
        if config.isMixed {
            guard uniform.first?.method.descriptor.params.contains(where: { $0.name == "bits" }) ?? false else {
                throw QuantError("mixed precision sets each layer's 'bits': \(config.method) has no 'bits' parameter")
            }
            let report = try MixedPrecision.assign(model, quantizers: uniform, config: config, train: train, batchSize: recipe.batchSize,
                                                   seed: recipe.seed, statistics: weightStatistics)
            config.layerBits = Dictionary(uniqueKeysWithValues: report.layers.map { ($0.name, $0.bits) })
            progress.note(String(format: "mixed precision (%@): %@; %.3f bits per weight", report.sensitivity.rawValue,
                                 report.layers.map { "\($0.name) \($0.bits)" }.joined(separator: ", "), report.bitsPerWeight))
            mixed = report
        }
        let quantizers = try weightQuantizers(model, config, registry)
        let activation = config.activations == .none && !config.realInt8 ? nil : try activationQuantizer(config, registry)
        let layerNames = quantizers.map(\.layer)
        let learned = try LearnedQuantizers.make(model, weights: quantizers, activation: activation, config: config, train: train,
                                                 batchSize: recipe.batchSize)
        let learnedActivations = !(learned?.activations.isEmpty ?? true)

        var training: TrainingSummary?
        if config.workflow == .qat {
            var qatRecipe = recipe.fineTuning(epochs: config.qatEpochs, learningRate: config.qatLearningRate)
            qatRecipe.schedule = .cosine
            let ranges = config.activations == .static && !learnedActivations
                ? try activationRanges(model, layerNames, activation, train: train, config: config, batchSize: recipe.batchSize) : nil
            var trainer = Trainer(recipe: qatRecipe, progress: progress)
            trainer.configureContext = { context in
                for q in quantizers where learned?.weights[q.layer] == nil {
                    context.weightTransforms[q.layer] = Quantization.steTransform(q, clipped: config.clippedSTE)
                }
                if !learnedActivations {
                    try installActivations(context, config: config, activation: activation, ranges: ranges, straightThrough: true)
                }
                learned?.installTraining(context)
            }
            if let learned {
                trainer.parameterGroup = .init(parameters: learned.parameters, learningRate: config.learnableLearningRate ?? config.qatLearningRate,
                                               weightDecay: config.learnableWeightDecay)
            }
            training = try trainer.train(model, on: train)
        }

        let quantizedWeights = try Quantization.quantizeWeights(model, with: quantizers, learned: learned, statistics: weightStatistics)
        let layers = quantizedWeights.map(\.record)
        let weightParams = Dictionary(uniqueKeysWithValues: quantizedWeights.map { ($0.record.layer, $0.qparams) })
        let ranges: ActivationRanges?
        if let learned, learnedActivations {
            ranges = ActivationRanges(inputs: try learned.activationParams(model, data: train, batchSize: recipe.batchSize), outputs: [:])
        } else {
            ranges = activation == nil ? nil
                : try activationRanges(model, layerNames, activation, train: train, config: config, batchSize: recipe.batchSize)
        }
        let quantized = QuantizedModel(model: model, config: config, activation: activation, ranges: ranges, learned: learned)
        quantized.weightParams = weightParams
        let accuracy = try quantized.evaluate(on: test).accuracy
        let (size, fp32Size) = Quantization.sizeBytes(model, quantized: layers)

        var int8: [Int8Result] = []
        if config.realInt8, let ranges {
            let simulated = config.activations == .static ? accuracy
                : try QuantizedModel(model: model, config: staticVariant(config), activation: activation, ranges: ranges).evaluate(on: test).accuracy
            // An engine fed 7-bit activation codes is compared with a simulation of 7-bit codes.
            let simulate = { (reduced: ActivationRanges) in
                try QuantizedModel(model: model, config: staticVariant(config), activation: activation, ranges: reduced).evaluate(on: test).accuracy
            }
            int8 = try measureInt8(original: original, quantized: model, weights: weightParams, ranges: ranges,
                                   simulatedAccuracy: simulated, simulate: simulate, test: test)
        }
        let sensitivity = config.sensitivity
            ? try sensitivityTable(original, config: config, registry: registry, test: test, fp32: fp32Accuracy, statistics: weightStatistics) : []
        let report = QuantReport(
            config: config, fp32Accuracy: fp32Accuracy, accuracy: accuracy, layers: layers, sizeBytes: size,
            fp32SizeBytes: fp32Size, compressionRatio: Double(fp32Size) / Double(Swift.max(size, 1)),
            bitsPerWeight: Quantization.bitsPerWeight(layers), foldedBatchNorm: folded, qatTraining: training, int8: int8, sensitivity: sensitivity,
            learned: try learned?.values(), mixedPrecision: mixed)
        return (quantized, report)
    }

    private static func weightQuantizers(_ model: Model, _ config: QuantConfig, _ registry: Registry) throws -> [LayerQuantizer] {
        try Quantization.weightQuantizers(model, config: config, registry: registry)
    }

    private static func activationQuantizer(_ config: QuantConfig, _ registry: Registry) throws -> LayerQuantizer {
        let method = try registry.method(config.activationMethod)
        guard method.descriptor.kind == .quantizer else {
            throw QuantError("activation_method '\(config.activationMethod)' is a \(method.descriptor.kind.rawValue), not a quantizer")
        }
        do {
            return LayerQuantizer(layer: "activations", method: method, params: try method.bind(config.activationParams))
        } catch let error as PluginError {
            throw QuantError("activation_params: \(error.message)")
        }
    }

    private static func staticVariant(_ config: QuantConfig) -> QuantConfig {
        var c = config
        c.activations = .static
        return c
    }

    /// Static activation ranges: the activation quantizer run once on each layer's calibrated
    /// inputs and outputs: the first 2^20 values of each (in calibration-batch order), all that
    /// is kept of them.
    static func activationRanges(_ model: Model, _ layers: [String], _ activation: LayerQuantizer?, train: ImageDataset,
                                 config: QuantConfig, batchSize: Int) throws -> ActivationRanges
    {
        guard let activation else { throw QuantError("static activations need an activation quantizer") }
        let (inputs, outputs) = try Quantization.calibrate(model, layers: layers, data: train, batches: config.calibrationBatches,
                                                           batchSize: batchSize, valueLimit: 1 << 20)
        func params(_ samples: [String: Tensor]) throws -> [String: QuantParams] {
            try samples.mapValues { sample in
                let q = try activation.method.quantize(try sample.contiguous(), params: activation.params).qparams
                guard q.scheme == .affine || q.scheme == .symmetric else {
                    throw QuantError("static activations need an affine or symmetric activation quantizer (fixed integer ranges); \(activation.method.qualifiedID) reports \(q.scheme.rawValue): use dynamic activations")
                }
                guard q.axis == -1, q.scales.count == 1 else {
                    throw QuantError("activation quantizer \(activation.method.qualifiedID) must be per tensor (per_channel = false)")
                }
                return q
            }
        }
        return ActivationRanges(inputs: try params(inputs), outputs: try params(outputs))
    }

    /// Installs activation quantization on `context`: static ranges (fixed parameters) or
    /// dynamic (the plugin on every batch), with a straight-through gradient when training.
    static func installActivations(_ context: ForwardContext, config: QuantConfig, activation: LayerQuantizer?,
                                   ranges: ActivationRanges?, straightThrough: Bool) throws
    {
        func wrap(_ f: @escaping (Tensor) throws -> Tensor) -> (Tensor) throws -> Tensor {
            guard straightThrough else { return f }
            return { x in try x + (try f(x.detached()) - x.detached()) }
        }
        switch config.activations {
        case .none:
            return
        case .static:
            guard let ranges else { return }
            for (layer, q) in ranges.inputs { context.inputTransforms[layer] = wrap { try Quantization.fakeQuantize($0, q) } }
            for (layer, q) in ranges.outputs { context.outputTransforms[layer] = wrap { try Quantization.fakeQuantize($0, q) } }
        case .dynamic:
            guard let activation else { return }
            for layer in ranges?.inputs.keys.sorted() ?? [] {
                context.inputTransforms[layer] = wrap { x in
                    try activation.method.quantize(try x.contiguous(), params: activation.params).output
                }
            }
        }
    }

    private static func measureInt8(original: Model, quantized: Model, weights: [String: QuantParams], ranges: ActivationRanges,
                                    simulatedAccuracy: Double, simulate: (ActivationRanges) throws -> Double,
                                    test: ImageDataset) throws -> [Int8Result]
    {
        let o = original.options
        let input = [o.inputChannels, o.imageSize, o.imageSize]
        let fp32 = try [1, 256].map { try Latency.measure(original, batchSize: $0, runs: $0 == 1 ? 100 : 10) }
        var results: [Int8Result] = []
        for engine in QuantizedEngine.supported {
            let int8 = try Int8Model(quantized, engine: engine, weights: weights, inputs: ranges.inputs, outputs: ranges.outputs)
            let accuracy = try Evaluation.evaluate(on: test) { try int8.forward($0) }.accuracy
            let simulated = int8.activationBits == 8 ? simulatedAccuracy
                : try simulate(ActivationRanges(inputs: ranges.inputs.mapValues { Int8Model.activationParams($0, qmax: int8.activationQMax) },
                                                outputs: ranges.outputs))
            let latency = try [1, 256].map { try Latency.measure(input: input, batchSize: $0, runs: $0 == 1 ? 100 : 10, forward: int8.forward) }
            let speedup = zip(fp32, latency).map { $0.medianMilliseconds / Swift.max($1.medianMilliseconds, 1e-9) }
            let faster = speedup.map { $0 > 1.05 }
            let cpu = CPUFeatures.current
            var note: String
            if faster.allSatisfy({ $0 }) {
                note = "int8 faster than fp32 at batch 1 and 256"
            } else if faster.contains(true) {
                note = String(format: "int8 faster only at batch %d", faster[0] ? 1 : 256)
            } else {
                note = "int8 is NOT faster than fp32 here (\(engine), CPU features: \(cpu); quantize/dequantize per layer included): the gain is size, not speed"
            }
            if int8.activationBits < 8 {
                note += "; activations fed to the kernels as 7-bit codes: \(engine)'s u8 x s8 kernels saturate 16-bit pair sums on this CPU (no VNNI)"
            }
            results.append(Int8Result(engine: engine.description, accuracy: accuracy, simulatedAccuracy: simulated,
                                      latency: latency, fp32Latency: fp32, speedup: speedup, note: note,
                                      activationBits: int8.activationBits, cpu: cpu.description))
        }
        return results
    }

    private static func sensitivityTable(_ original: Model, config: QuantConfig, registry: Registry, test: ImageDataset, fp32: Double,
                                         statistics: [String: InputStatistics]) throws -> [SensitivityRow]
    {
        let base = try original.copy()
        if config.foldBatchNorm { try BatchNormFolding.fold(base) }
        var rows: [SensitivityRow] = []
        for q in try Quantization.weightQuantizers(base, config: config, registry: registry) {
            let model = try base.copy()
            if config.foldBatchNorm { try BatchNormFolding.fold(model) }
            let record = try Quantization.quantizeWeights(model, with: [q], statistics: statistics)
            let accuracy = try Evaluation.evaluate(model, on: test).accuracy
            rows.append(SensitivityRow(layer: q.layer, bits: record.first?.record.bits ?? 0, accuracy: accuracy, drop: 100 * (fp32 - accuracy)))
        }
        return rows
    }
}

/// Calibrated activation parameters per layer.
public struct ActivationRanges: Sendable {
    public var inputs: [String: QuantParams]
    public var outputs: [String: QuantParams]
}

/// A quantized model: fake-quantized weights plus the activation quantization its forward
/// passes need.
public final class QuantizedModel {
    public let model: Model
    public let config: QuantConfig
    let activation: LayerQuantizer?
    public let ranges: ActivationRanges?
    /// The quantizers that run as instances (learnables, own backward), when any does.
    public let learned: LearnedQuantizers?
    /// Each quantized layer's weight parameters, as its quantizer reported them.
    public internal(set) var weightParams: [String: QuantParams] = [:]

    init(model: Model, config: QuantConfig, activation: LayerQuantizer?, ranges: ActivationRanges?, learned: LearnedQuantizers? = nil) {
        self.model = model
        self.config = config
        self.activation = activation
        self.ranges = ranges
        self.learned = learned
    }

    /// An evaluation context with the activation quantization installed.
    public func context() throws -> ForwardContext {
        let context = ForwardContext(training: false)
        try QuantizationStage.installActivations(context, config: config, activation: activation, ranges: ranges, straightThrough: false)
        learned?.installEvaluation(context)
        return context
    }

    /// The learnables and state of the quantizers, for a checkpoint's `extra/` tensors.
    public func checkpointExtras() throws -> [String: Tensor] {
        try learned?.checkpointTensors() ?? [:]
    }

    /// Accuracy and loss of the quantized model on `data`.
    public func evaluate(on data: ImageDataset) throws -> (accuracy: Double, loss: Double) {
        let m = try metrics(on: data)
        return (m.primary, m.loss)
    }

    /// Every score of the task (see `TaskMetrics`) with the activation quantization installed.
    public func metrics(on data: ImageDataset) throws -> TaskMetrics {
        let context = try context()
        return try Evaluation.metrics(on: data) { try self.model.forward($0, context) }
    }
}
