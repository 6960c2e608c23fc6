import LatheCalibration
import LatheModels
import LatheTrain

extension PruningConfig {
    /// The keys of a pruning stage, with the defaults of `PruningConfig()` and the ranges
    /// `validate()` checks.
    public static let schema = ConfigSchema(
        title: "Stage `prune`",
        doc: """
            Pruning with a criterion plugin. Its declaration decides the granularity: `element` criteria prune single \
            weights of every conv and linear layer, `output-channel` criteria prune whole output channels. Sparsity is \
            the fraction of weights (or channels) removed.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        let d = PruningConfig()
        let name = key.stringValue
        let toml = ConfigSchema.Key.toml
        let epochs = 0...Recipe.maxEpochs
        return switch key {
        case .criterion:
            .init(name, "string", default: .value("\"\(d.criterion)\""), allowed: .text("PLUGIN/METHOD of a criterion in the registry"),
                  example: "\"prune/l1-filter\"", doc: "The scoring criterion (`lathe plugins list` shows them).")
        case .params:
            .init(name, "table", default: .note("the criterion's defaults"), allowed: .text("the criterion's declared parameters"),
                  example: "{ seed = 3 }", doc: "The criterion's hyperparameters, checked against its declaration (`seed`: of `prune/random-filter`).")
        case .sparsity:
            .init(name, "number", default: .value(toml(d.sparsity)), allowed: .numbers(.fraction), example: "0.9",
                  doc: "Final sparsity of each pruned layer (`local`) or over all of them (`global`).")
        case .initialSparsity:
            .init(name, "number", default: .value(toml(d.initialSparsity)), allowed: .numbers(.fraction), example: "0.2",
                  doc: "`agp`: sparsity before the first step; at most `sparsity`.")
        case .scope:
            .init(name, "string", default: .value("\"\(d.scope.rawValue)\""), allowed: .choices(of: Scope.self), example: "\"global\"",
                  doc: "Every layer to the target (`local`), one ranking across layers (`global`), or every output row of every layer to the target (`per-output`, element criteria; Wanda's comparison group).")
        case .schedule:
            .init(name, "string", default: .value("\"\(d.schedule.rawValue)\""), allowed: .choices(of: Schedule.self), example: "\"agp\"",
                  doc: "Prune once, in `steps` equal-ratio rounds (`iterative`), or on the cubic AGP schedule (Zhu & Gupta 2017).")
        case .steps:
            .init(name, "integer", default: .value("\(d.steps)"), allowed: .integers(1...1000), example: "4",
                  doc: "Pruning steps of `iterative` and `agp` (`one-shot` takes 1).")
        case .finetuneEpochs:
            .init(name, "integer", default: .value("\(d.finetuneEpochs)"), allowed: .integers(epochs), example: "2",
                  doc: "Fine-tuning epochs after each pruning step.")
        case .finalFinetuneEpochs:
            .init(name, "integer", default: .note("`finetune_epochs`"), allowed: .integers(epochs), example: "3",
                  doc: "Fine-tuning epochs after the last step.")
        case .finetuneLearningRate:
            .init(name, "number", default: .note("the recipe's `learning_rate`"), allowed: .numbers(.positive), example: "0.01",
                  doc: "Fine-tuning learning rate.")
        case .groups:
            .init(name, "array of strings", default: .note("every channel group the model declares"), allowed: .choices(of: ChannelGroup.Kind.self),
                  example: "[\"head\"]",
                  doc: "Output-channel criteria: the kinds of channel group pruned (`head`: attention heads, `neuron`: transformer MLP neurons, `channel`: conv filters and linear features).")
        case .exclude:
            .init(name, "array of strings", default: .value("[]"), allowed: .text("layer names"), example: "[\"conv1\"]",
                  doc: "Layers never pruned.")
        case .layerSparsity:
            .init(name, "table of numbers", default: .value("{}"), allowed: .numbers(.fraction), example: "{ fc1 = 0.95 }",
                  doc: "Per-layer sparsity replacing `sparsity`; under `global` these layers leave the global ranking.")
        case .rewindEpoch:
            .init(name, "integer", default: .note("none (no rewinding)"), allowed: .integers(epochs), example: "1",
                  doc: "Lottery-ticket rewinding: surviving weights go back to their values at this epoch of the dense training (0: initialisation).")
        case .slimmingL1:
            .init(name, "number", default: .value(toml(d.slimmingL1)), allowed: .numbers(.nonNegative), example: "0.0001",
                  doc: "Network slimming: λ of the L1 penalty on batch-norm scales during training and fine-tuning.")
        case .calibrationBatches:
            CalibrationKeys.batches(default: d.calibrationBatches, doc: "Training batches whose gradients or input statistics feed criteria that need them.")
        case .physical:
            .init(name, "bool", default: .value("\(d.physical)"), allowed: .text("true needs an output-channel criterion"), example: "true",
                  doc: "Remove pruned channels so that the model becomes a smaller dense model.")
        case .calibrationSeed:
            CalibrationKeys.seed()
        case .calibrationGramLimitMiB:
            CalibrationKeys.gramLimit(default: d.calibrationGramLimitMiB,
                                      doc: "Largest input Gram matrix (float64, MiB) one layer may accumulate for criteria that need it; refused before computing.")
        case .pattern:
            .init(name, "string", default: .note("none (unstructured)"), allowed: .text("N:M with 1 <= N < M <= 64"), example: "\"2:4\"",
                  doc: "Element criteria: keep the N best of every M consecutive weights along the input dimension; `sparsity` must be 1 − N/M, one-shot, local. No speedup on this CPU's libtorch (no N:M kernels).")
        }
    }
}
