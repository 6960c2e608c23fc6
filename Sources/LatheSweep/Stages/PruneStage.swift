import LathePruning
import LatheTrain

/// `kind = "prune"`: `PruningStage` (criterion plugin, schedule, fine-tuning, physical removal).
struct PruneStage: MethodStage {
    let kind = "prune"
    var schema: ConfigSchema { PruningConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(PruningConfig.self, config, keys: PruningConfig.schema.names)
        try c.validate()
        _ = try c.validate(against: check.registry)
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(PruningConfig.self)
        trial.note(plugin: config.criterion)
        let timer = StageTimer()
        let (pruned, report) = try PruningStage.run(config, model: trial.model, train: trial.train, test: trial.test, recipe: trial.recipe,
                                                    registry: trial.registry, measureLatency: false, progress: trial.progress)
        trial.replace(pruned)
        let finetuneSeconds = report.steps.reduce(0) { $0 + $1.finetuneSeconds }
        trial.compressSeconds += timer.methodSeconds(excludingTraining: finetuneSeconds)
        trial.trainingSeconds += finetuneSeconds
        trial.metrics["sparsity_masked"] = report.maskedSparsity
        trial.metrics["params_removed"] = Double(report.physicallyRemovedParameters)
        for l in report.layers {
            trial.layers[l.name, default: [:]]["sparsity"] = l.maskedSparsity
            trial.layers[l.name, default: [:]]["channels_removed"] = Double(l.channelsRemoved)
        }
    }
}
