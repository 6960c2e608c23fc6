import LatheData
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor
import LatheTrain

/// `kind = "quantize"`: `QuantizationStage` (PTQ or QAT, weights and activations).
struct QuantizeStage: MethodStage {
    let kind = "quantize"
    var schema: ConfigSchema { QuantConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(QuantConfig.self, config, keys: QuantConfig.schema.names)
        try c.validate()
        try Self.checkQuantizer(c.method, c.params, check)
        if c.activations != .none || c.realInt8 { try Self.checkQuantizer(c.activationMethod, c.activationParams, check) }
    }

    private static func checkQuantizer(_ method: String, _ params: [String: HyperValue], _ check: StageCheck) throws {
        let (manifest, descriptor) = try check.registry.resolve(method)
        guard descriptor.kind == .quantizer else {
            throw PluginError("method '\(method)' is a \(descriptor.kind.rawValue), not a quantizer")
        }
        _ = try descriptor.bind(params, plugin: manifest.plugin.name)
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(QuantConfig.self)
        trial.note(plugin: config.method)
        if config.activations != .none { trial.note(plugin: config.activationMethod) }
        let timer = StageTimer()
        let (q, report) = try QuantizationStage.run(config, model: trial.model, train: trial.train, test: trial.test, recipe: trial.recipe,
                                                    registry: trial.registry, progress: trial.progress)
        trial.replace(q.model, view: QuantizedView(quantized: q, layers: report.layers))
        trial.compressSeconds += timer.methodSeconds(excludingTraining: report.qatTraining?.trainingSeconds ?? 0)
        trial.trainingSeconds += report.qatTraining?.trainingSeconds ?? 0
        for l in report.layers {
            trial.layers[l.layer, default: [:]].merge(["bits": Double(l.bits), "bytes": Double(l.bytes), "bits_per_weight": l.effectiveBits]) { $1 }
        }
        if let bits = report.bitsPerWeight { trial.metrics["bits_per_weight"] = bits }
        for row in report.sensitivity { trial.layers[row.layer, default: [:]]["sensitivity_drop"] = row.drop }
        if let mixed = report.mixedPrecision {
            trial.metrics["mixed_budget_bytes"] = Double(mixed.budgetBytes)
            trial.metrics["mixed_size_bytes"] = Double(mixed.sizeBytes)
            for (layer, (bits, cost)) in zip(mixed.layers, mixed.layers.map { l in (l.bits, mixed.candidates.firstIndex(of: l.bits).map { l.costs[$0] }) }) {
                trial.layers[layer.name, default: [:]]["mixed_bits"] = Double(bits)
                if let cost { trial.layers[layer.name, default: [:]]["mixed_cost"] = cost }
            }
        }
        // A learnable's final mean per layer, e.g. `weight_step` for an LSQ step size.
        for v in report.learned ?? [] { trial.layers[v.layer, default: [:]]["\(v.role)_\(v.name)"] = v.mean }
        for e in report.int8 {
            trial.metrics["int8_\(e.engine)_accuracy"] = e.accuracy
            trial.metrics["int8_\(e.engine)_speedup_b1"] = e.speedup[0]
            trial.metrics["int8_\(e.engine)_speedup_b256"] = e.speedup[1]
        }
    }
}

/// A quantized model as a trial's final model: evaluated with its activation quantization,
/// stored at its weights' widths.
struct QuantizedView: FinalModelView {
    let quantized: QuantizedModel
    let layers: [LayerQuant]

    func context() throws -> ForwardContext { try quantized.context() }
    func metrics(on data: ImageDataset) throws -> TaskMetrics { try quantized.metrics(on: data) }
    var quantizedLayers: [LayerQuant] { layers }
    func checkpointExtras() throws -> [String: Tensor] { try quantized.checkpointExtras() }
    /// The quantization record `lathe export --qdq` reads.
    func checkpointMetadata() throws -> [String: String] {
        [CheckpointQuantization.metadataKey: try quantized.checkpointQuantization().encoded()]
    }
}
