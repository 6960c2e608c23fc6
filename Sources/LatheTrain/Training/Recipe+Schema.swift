extension Recipe {
    /// A recipe field by its snake_case key (a sweep spec's `[baseline]`, a teacher's or a
    /// student's `recipe`); `RecipeOverrides` decodes exactly these keys.
    public enum Field: String, Sendable, CaseIterable {
        case epochs
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
        case optimizer, momentum, nesterov
        case weightDecay = "weight_decay"
        case schedule
        case stepEpochs = "step_epochs"
        case gamma
        case labelSmoothing = "label_smoothing"
        case horizontalFlip = "horizontal_flip"
        case warmupEpochs = "warmup_epochs"
        case seed
    }

    /// The recipe's keys, defaults (those of `Recipe()`) and ranges, as `validate()` checks them.
    public static let schema = ConfigSchema(
        title: "Recipes: `[baseline]` and every `recipe` table",
        doc: """
            A training recipe. `[baseline]` changes the default recipe for the dense baseline (and every trial of \
            its seed starts from that baseline); a distill stage's `recipe` and its teacher's `recipe` change the \
            baseline's recipe for the student and the teacher. Absent keys keep the default; the defaults listed \
            are those of the CNNs and the MLP, while a `vit-*` model's baseline starts from the transformer recipe \
            (`optimizer = "adamw"`, `learning_rate = 0.001`, `weight_decay = 0.05`, `warmup_epochs = 2`, \
            `label_smoothing = 0.1`, `epochs = 20`).
            """,
        keys: Field.allCases.map(key))

    /// The schema entry of `field`.
    public static func key(_ field: Field) -> ConfigSchema.Key {
        let d = Recipe()
        let toml = ConfigSchema.Key.toml
        return switch field {
        case .epochs:
            .init(field.rawValue, "integer", default: .value("\(d.epochs)"), allowed: .integers(0...maxEpochs), example: "4",
                  doc: "Training epochs.")
        case .batchSize:
            .init(field.rawValue, "integer", default: .value("\(d.batchSize)"), allowed: .integers(1...65_536), example: "256",
                  doc: "Images per training batch.")
        case .learningRate:
            .init(field.rawValue, "number", default: .value(toml(d.learningRate)), allowed: .numbers(.positive), example: "0.01",
                  doc: "Peak learning rate.")
        case .optimizer:
            .init(field.rawValue, "string", default: .value("\"\(d.optimizer.rawValue)\""), allowed: .choices(of: OptimizerKind.self),
                  example: "\"adamw\"", doc: "Optimizer family: `sgd`, `adam` (L2 decay added to the gradient) or `adamw` (decoupled weight decay, Loshchilov & Hutter 2019); Adam and AdamW ignore `momentum` and `nesterov`.")
        case .momentum:
            .init(field.rawValue, "number", default: .value(toml(d.momentum)), allowed: .numbers(.init(lower: 0, lowerClosed: true, upper: 1)),
                  example: "0.95", doc: "SGD momentum.")
        case .nesterov:
            .init(field.rawValue, "bool", default: .value("\(d.nesterov)"), allowed: .text("true needs momentum > 0"), example: "true",
                  doc: "Nesterov momentum (SGD).")
        case .weightDecay:
            .init(field.rawValue, "number", default: .value(String(d.weightDecay)), allowed: .numbers(.nonNegative), example: "0.0001",
                  doc: "Weight decay: an L2 term in the gradient (`sgd`, `adam`) or decoupled (`adamw`).")
        case .schedule:
            .init(field.rawValue, "string", default: .value("\"\(d.schedule.rawValue)\""), allowed: .choices(of: ScheduleKind.self),
                  example: "\"step\"", doc: "Learning-rate schedule over the epochs.")
        case .stepEpochs:
            .init(field.rawValue, "integer", default: .value("\(d.stepEpochs)"), allowed: .integers(1...Int.max), example: "2",
                  doc: "`step` schedule: epochs between decays.")
        case .gamma:
            .init(field.rawValue, "number", default: .value(toml(d.gamma)), allowed: .numbers(.init(lower: 0, lowerClosed: false, upper: 1, upperClosed: true)),
                  example: "0.5", doc: "`step` schedule: decay factor.")
        case .labelSmoothing:
            .init(field.rawValue, "number", default: .value(toml(d.labelSmoothing)), allowed: .numbers(.fraction), example: "0.1",
                  doc: "Label smoothing of the cross-entropy.")
        case .horizontalFlip:
            .init(field.rawValue, "bool", default: .value("\(d.horizontalFlip)"), allowed: .text("true or false"), example: "true",
                  doc: "Random horizontal flips of the training samples, each with probability 1/2 per epoch, drawn from the seed, epoch and sample: image and mask or boxes alike. For items, scenes and natural images; not for digits or text.")
        case .warmupEpochs:
            .init(field.rawValue, "integer", default: .value("\(d.warmupEpochs)"), allowed: .integers(0...maxEpochs), example: "2",
                  doc: "Epochs of linear learning-rate warm-up from zero to `learning_rate`; `schedule` then runs over the remaining steps.")
        case .seed:
            .init(field.rawValue, "integer", default: .value("\(d.seed)"), allowed: .text("a non-negative integer"), example: "7",
                  doc: "Seeds initialisation and batch order. In `[baseline]` and a distill stage's `recipe` the trial's seed replaces it; in a teacher's `recipe` it is the teacher's seed (default 0, so that every student seed shares one cached teacher).")
        }
    }
}
