import LatheScale
import LatheTrain

/// `kind = "scale"`: `ScaleStage` (a channel scaler such as SmoothQuant or AWQ, folded into the
/// graph; the fp32 function is unchanged, a `quantize` stage after it sees the scaled model).
struct ScaleStageKind: MethodStage {
    let kind = "scale"
    var schema: ConfigSchema { ScaleConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(ScaleConfig.self, config, keys: ScaleConfig.schema.names)
        _ = try c.validate(against: check.registry)
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(ScaleConfig.self)
        trial.note(plugin: config.method)
        if let quantizer = config.quantizer { trial.note(plugin: quantizer) }
        let timer = StageTimer()
        let report = try ScaleStage.run(config, model: trial.model, train: trial.train, test: trial.test, recipe: trial.recipe,
                                        registry: trial.registry, progress: trial.progress)
        trial.replace(trial.model)
        trial.compressSeconds += timer.methodSeconds(excludingTraining: 0)
        trial.metrics["scale_relative_logit_change"] = report.relativeLogitChange
        trial.metrics["scale_folded_layers"] = Double(report.layers.filter(\.folded).count)
        trial.metrics["scale_explicit_layers"] = Double(report.layers.filter { !$0.folded }.count)
        for l in report.layers {
            var values = ["scale_folded": l.folded ? 1.0 : 0, "scale_min": l.minScale, "scale_max": l.maxScale]
            if let c = l.chosen { values["scale_search_value"] = c }
            if let e = l.quantizedError { values["scale_quantized_error"] = e }
            if let u = l.unscaledQuantizedError { values["scale_unscaled_quantized_error"] = u }
            trial.layers[l.name, default: [:]].merge(values) { $1 }
        }
    }
}
