import LatheTrain

/// `kind = "finetune"`: more training of the current model with the baseline's recipe.
struct FinetuneStage: MethodStage {
    let kind = "finetune"
    var schema: ConfigSchema { FinetuneConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(FinetuneConfig.self, config, keys: FinetuneConfig.schema.names)
        let epochs = FinetuneConfig.key(.epochs), lr = FinetuneConfig.key(.lr)
        guard epochs.allows(c.epochs) else {
            throw check.error(key: "epochs", "key 'epochs' = \(c.epochs): expected \(epochs.expected)")
        }
        if let value = c.lr, !lr.allows(value) {
            throw check.error(key: "lr", "key 'lr' = \(value): expected \(lr.expected)")
        }
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(FinetuneConfig.self)
        let r = trial.recipe.fineTuning(epochs: config.epochs, learningRate: config.lr)
        let model = trial.model
        let summary = try Trainer(recipe: r, progress: trial.progress).train(model, on: trial.train)
        trial.trainingSeconds += summary.trainingSeconds
        trial.replace(model)
    }
}
