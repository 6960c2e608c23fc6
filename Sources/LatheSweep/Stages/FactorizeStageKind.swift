import LatheFactorize
import LatheTrain

/// `kind = "factorize"`: `FactorizeStage` (a factorizer such as SVD replaces layers by low-rank
/// pairs; a `finetune` stage after it recovers accuracy).
struct FactorizeStageKind: MethodStage {
    let kind = "factorize"
    var schema: ConfigSchema { FactorizeConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(FactorizeConfig.self, config, keys: FactorizeConfig.schema.names)
        _ = try c.validate(against: check.registry)
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(FactorizeConfig.self)
        trial.note(plugin: config.method)
        let timer = StageTimer()
        let report = try FactorizeStage.run(config, model: trial.model, train: trial.train, test: trial.test, recipe: trial.recipe,
                                            registry: trial.registry, progress: trial.progress)
        trial.replace(trial.model)
        trial.compressSeconds += timer.methodSeconds(excludingTraining: 0)
        trial.metrics["factorize_accuracy_before_finetune"] = report.accuracyAfter
        trial.metrics["factorize_macs_ratio"] = Double(report.macsAfter) / Double(Swift.max(report.macsBefore, 1))
        for l in report.layers {
            var values = ["rank": Double(l.rank), "full_rank": Double(l.fullRank), "factorized": l.factorized ? 1.0 : 0,
                          "factorize_relative_error": l.relativeError]
            if let kept = l.metrics["kept_energy"] { values["kept_energy"] = kept }
            trial.layers[l.name, default: [:]].merge(values) { $1 }
        }
    }
}
