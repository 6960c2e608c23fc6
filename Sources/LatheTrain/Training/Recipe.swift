import LatheTensor

/// A training recipe: everything besides data and model that decides the outcome.
public struct Recipe: Sendable, Codable, Equatable {
    /// Optimizer family.
    public enum OptimizerKind: String, Sendable, Codable, CaseIterable { case sgd, adam, adamw }
    /// Learning-rate schedule family.
    public enum ScheduleKind: String, Sendable, Codable, CaseIterable { case constant, step, cosine }

    public var epochs: Int = 10
    public var batchSize: Int = 128
    public var learningRate: Double = 0.05
    public var optimizer: OptimizerKind = .sgd
    public var momentum: Double = 0.9
    public var nesterov: Bool = false
    public var weightDecay: Double = 5e-4
    public var schedule: ScheduleKind = .cosine
    /// For `.step`: epochs between decays.
    public var stepEpochs: Int = 3
    /// For `.step`: decay factor.
    public var gamma: Double = 0.1
    public var labelSmoothing: Double = 0
    /// Random horizontal flips of the training samples (image and mask or boxes alike, each
    /// sample with probability ½ per epoch; `HorizontalFlip`). Off by default: right for
    /// clothes, natural images and scenes, wrong for digits and text.
    public var horizontalFlip: Bool = false
    /// Epochs of linear learning-rate warm-up before the schedule (0: none).
    public var warmupEpochs: Int = 0
    /// Seeds model initialisation and batch order.
    public var seed: UInt64 = 0

    /// The bound on every epoch count (training, fine-tuning, QAT, teachers), so that a
    /// recipe refused here is refused everywhere.
    public static let maxEpochs = 10_000

    /// The default recipe (SGD, momentum 0.9, lr 0.05, weight decay 5e-4, cosine, batch 128, 10 epochs).
    public init() {}

    /// The default recipe for a zoo architecture: `Recipe()`, or for the vision transformers
    /// (`vit-*`) the usual transformer one: AdamW (lr 1e-3, decoupled weight decay 0.05),
    /// 2 warm-up epochs then cosine, batch 128, label smoothing 0.1, 20 epochs.
    public static func defaults(for architecture: String) -> Recipe {
        var r = Recipe()
        guard architecture.hasPrefix("vit-") else { return r }
        r.epochs = 20
        r.optimizer = .adamw
        r.learningRate = 1e-3
        r.weightDecay = 0.05
        r.warmupEpochs = 2
        r.schedule = .cosine
        r.labelSmoothing = 0.1
        return r
    }

    /// Checks every field; the error names the field, its value and what was expected.
    public func validate() throws {
        func require(_ ok: Bool, _ field: String, _ value: Any, _ expected: String) throws {
            if !ok { throw TrainingError.invalidRecipe(field: field, value: "\(value)", expected: expected) }
        }
        // Ranges from the schema; fields named as the command-line options name them.
        func check(_ field: Field, _ name: String, _ value: Int) throws {
            let key = Self.key(field)
            try require(key.allows(value), name, value, key.expected)
        }
        func check(_ field: Field, _ name: String, _ value: Double) throws {
            let key = Self.key(field)
            try require(key.allows(value), name, value, key.expected)
        }
        try check(.epochs, "epochs", epochs)
        try check(.batchSize, "batch-size", batchSize)
        try check(.learningRate, "lr", learningRate)
        try check(.momentum, "momentum", momentum)
        try check(.weightDecay, "weight-decay", weightDecay)
        try check(.stepEpochs, "step-epochs", stepEpochs)
        try check(.gamma, "gamma", gamma)
        try check(.labelSmoothing, "label-smoothing", labelSmoothing)
        try check(.warmupEpochs, "warmup-epochs", warmupEpochs)
        try require(!nesterov || momentum > 0, "nesterov", nesterov, "momentum > 0 when Nesterov momentum is on")
    }

    /// This recipe for fine-tuning an already trained model for `epochs` (QAT, fine-tuning after
    /// pruning or factorization): the optimizer, batch size, schedule and seed stay; the
    /// from-scratch warm-up goes. Kept, a one-epoch fine-tuning under a one-epoch warm-up never
    /// left the warm-up: its learning rate rose all epoch and it ended at the peak (a 4-bit QAT of
    /// the detector lost 6.7 mAP on one seed so).
    public func fineTuning(epochs: Int, learningRate: Double? = nil) -> Recipe {
        var r = self
        r.epochs = epochs
        if let learningRate { r.learningRate = learningRate }
        r.warmupEpochs = 0
        return r
    }

    /// The learning-rate schedule this recipe describes.
    public var lrSchedule: LRSchedule {
        let main: LRSchedule = switch schedule {
        case .constant: .constant
        case .step: .step(stepEpochs: stepEpochs, gamma: gamma)
        case .cosine: .cosine
        }
        return warmupEpochs > 0 ? .warmup(epochs: warmupEpochs, then: main) : main
    }

    /// A fresh optimizer over `parameters`.
    public func makeOptimizer(_ parameters: [Tensor]) -> any Optimizer {
        switch optimizer {
        case .sgd: SGD(parameters: parameters, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
        case .adam: Adam(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .adamw: AdamW(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay)
        }
    }
}

extension Recipe {
    /// Decodes a recipe; absent keys keep their defaults, so recipes recorded before a field
    /// existed (`warmupEpochs`) still read.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? learningRate
        optimizer = try c.decodeIfPresent(OptimizerKind.self, forKey: .optimizer) ?? optimizer
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum) ?? momentum
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? nesterov
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? weightDecay
        schedule = try c.decodeIfPresent(ScheduleKind.self, forKey: .schedule) ?? schedule
        stepEpochs = try c.decodeIfPresent(Int.self, forKey: .stepEpochs) ?? stepEpochs
        gamma = try c.decodeIfPresent(Double.self, forKey: .gamma) ?? gamma
        labelSmoothing = try c.decodeIfPresent(Double.self, forKey: .labelSmoothing) ?? labelSmoothing
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? horizontalFlip
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? warmupEpochs
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
    }
}

/// Errors from training, evaluation and checkpoints.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A recipe field out of range.
    case invalidRecipe(field: String, value: String, expected: String)
    /// The model's input does not match the data set's images.
    case dataModelMismatch(String)
    /// A checkpoint that cannot be used, with its path.
    case badCheckpoint(path: String, reason: String)
    /// The loss became NaN or infinite.
    case diverged(epoch: Int, step: Int)
    /// A training, validation or test set without samples.
    case emptyDataSet(String)
    /// A latency plan or subject list that cannot be timed.
    case invalidLatencyPlan(String)

    public var description: String {
        switch self {
        case let .invalidRecipe(field, value, expected): "invalid value '\(value)' for \(field): expected \(expected)"
        case let .dataModelMismatch(message): message
        case let .badCheckpoint(path, reason): "\(path): \(reason)"
        case let .diverged(epoch, step): "training diverged (non-finite loss) at epoch \(epoch), step \(step); lower the learning rate"
        case let .emptyDataSet(role): "the \(role) set has no samples"
        case let .invalidLatencyPlan(message): "latency phase: \(message)"
        }
    }
}
