import LatheCalibration
import LathePlugins
import LatheModels
import LatheTrain

/// One pruning run, as a sweep spec or `lathe prune` describes it.
///
/// Granularity is not configured: it is the criterion plugin's declaration (`element` scores
/// prune single weights of every conv and linear layer; `output-channel` scores prune whole
/// output channels of the model's channel-group producers). JSON and TOML keys are snake_case;
/// every key is optional and missing keys take the defaults below.
public struct PruningConfig: Sendable, Codable, Equatable {
    /// How the sparsity target is shared between layers.
    public enum Scope: String, Sendable, Codable, CaseIterable {
        /// Every layer is pruned to the target (or its override).
        case local
        /// One ranking across layers. Element scores are compared as they are (global magnitude
        /// pruning); channel scores are first divided by the mean score of their layer's live channels.
        case global
        /// Element criteria: every output row (dimension 0 of the weight) of every pruned layer is
        /// pruned to the target on its own (Wanda's per-output comparison group).
        case perOutput = "per-output"
    }

    /// When pruning happens.
    public enum Schedule: String, Sendable, Codable, CaseIterable {
        /// Prune to the target once, then fine-tune.
        case oneShot = "one-shot"
        /// `steps` rounds, each removing the same fraction of the remaining weights
        /// (s_t = 1 − (1 − s_f)^(t/n)), fine-tuning between rounds.
        case iterative
        /// Automated gradual pruning (Zhu & Gupta 2017): s_t = s_f + (s_i − s_f)(1 − t/n)³.
        case agp
    }

    /// Criterion plugin method, `plugin/method`.
    public var criterion: String = "prune/magnitude"
    /// The criterion's hyperparameters, checked against its declaration before anything runs.
    public var params: [String: HyperValue] = [:]
    /// Final fraction of weights (element criteria) or output channels (channel criteria) pruned
    /// in each pruned layer (local) or over all of them (global), in [0, 1).
    public var sparsity: Double = 0.5
    /// Sparsity before the first AGP step (s_i), in [0, sparsity].
    public var initialSparsity: Double = 0
    public var scope: Scope = .local
    public var schedule: Schedule = .oneShot
    /// Pruning steps for `iterative` and `agp` (one-shot uses 1).
    public var steps: Int = 1
    /// Fine-tuning epochs after each pruning step but the last.
    public var finetuneEpochs: Int = 1
    /// Fine-tuning epochs after the last pruning step (nil: `finetuneEpochs`).
    public var finalFinetuneEpochs: Int?
    /// Fine-tuning learning rate (nil: the recipe's).
    public var finetuneLearningRate: Double?
    /// Output-channel granularity: the kinds of channel group pruned (`head`, `neuron`,
    /// `channel`); nil: every group the model declares.
    public var groups: [ChannelGroup.Kind]?
    /// Layers never pruned. The classifier is never channel-pruned anyway: its outputs are the
    /// classes, so the zoo declares no channel group it produces.
    public var exclude: [String] = []
    /// Per-layer final sparsity replacing `sparsity` for those layers; under global scope they
    /// are pruned on their own and leave the global ranking.
    public var layerSparsity: [String: Double] = [:]
    /// Lottery-ticket rewinding: after each pruning step the surviving weights go back to their
    /// values at this epoch of the dense training (0: initialisation). Nil: no rewinding.
    public var rewindEpoch: Int?
    /// Network slimming: λ of the L1 penalty λ·Σ|γ| on every batch-norm scale, added to the dense
    /// training and to the fine-tuning between steps (not to the final fine-tuning).
    public var slimmingL1: Double = 0
    /// Training batches whose loss gradients feed criteria that declare needs-gradient.
    public var calibrationBatches: Int = 8
    /// Physically remove pruned channels (output-channel criteria only) so that the pruned model
    /// is a smaller dense model.
    public var physical: Bool = false
    /// Seed of the shuffle that picks the calibration samples (gradients and input statistics);
    /// nil: the recipe's seed. Varying it shows how much a result depends on the sample.
    public var calibrationSeed: Int?
    /// Largest input Gram matrix one layer may accumulate (float64), in MiB, for criteria that
    /// declare needs-input-gram; a larger one is refused before anything is computed.
    public var calibrationGramLimitMiB: Int = 1024
    /// N:M semi-structured sparsity (element criteria): in every group of M consecutive weights
    /// of a row (along the input dimension), the N highest-scoring are kept. Nil: unstructured.
    public var pattern: NMPattern?

    /// The defaults: local one-shot magnitude pruning to 50%, one fine-tuning epoch.
    public init() {}

    /// In the order the spec reference lists them.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case criterion, params, sparsity
        case initialSparsity = "initial_sparsity"
        case scope, schedule, steps
        case finetuneEpochs = "finetune_epochs"
        case finalFinetuneEpochs = "final_finetune_epochs"
        case finetuneLearningRate = "finetune_lr"
        case groups
        case exclude
        case layerSparsity = "layer_sparsity"
        case rewindEpoch = "rewind_epoch"
        case slimmingL1 = "slimming_l1"
        case calibrationBatches = "calibration_batches"
        case physical
        case calibrationSeed = "calibration_seed"
        case calibrationGramLimitMiB = "calibration_gram_limit_mib"
        case pattern
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PruningConfig()
        criterion = try c.decodeIfPresent(String.self, forKey: .criterion) ?? d.criterion
        params = try c.decodeIfPresent([String: HyperValue].self, forKey: .params) ?? d.params
        sparsity = try c.decodeIfPresent(Double.self, forKey: .sparsity) ?? d.sparsity
        initialSparsity = try c.decodeIfPresent(Double.self, forKey: .initialSparsity) ?? d.initialSparsity
        scope = try c.decodeChoiceIfPresent(Scope.self, forKey: .scope) ?? d.scope
        schedule = try c.decodeChoiceIfPresent(Schedule.self, forKey: .schedule) ?? d.schedule
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? d.steps
        finetuneEpochs = try c.decodeIfPresent(Int.self, forKey: .finetuneEpochs) ?? d.finetuneEpochs
        finalFinetuneEpochs = try c.decodeIfPresent(Int.self, forKey: .finalFinetuneEpochs)
        finetuneLearningRate = try c.decodeIfPresent(Double.self, forKey: .finetuneLearningRate)
        groups = try c.decodeChoicesIfPresent(ChannelGroup.Kind.self, forKey: .groups)
        exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? d.exclude
        layerSparsity = try c.decodeIfPresent([String: Double].self, forKey: .layerSparsity) ?? d.layerSparsity
        rewindEpoch = try c.decodeIfPresent(Int.self, forKey: .rewindEpoch)
        slimmingL1 = try c.decodeIfPresent(Double.self, forKey: .slimmingL1) ?? d.slimmingL1
        calibrationBatches = try c.decodeIfPresent(Int.self, forKey: .calibrationBatches) ?? d.calibrationBatches
        physical = try c.decodeIfPresent(Bool.self, forKey: .physical) ?? d.physical
        calibrationSeed = try c.decodeIfPresent(Int.self, forKey: .calibrationSeed)
        calibrationGramLimitMiB = try c.decodeIfPresent(Int.self, forKey: .calibrationGramLimitMiB) ?? d.calibrationGramLimitMiB
        pattern = try c.decodeIfPresent(NMPattern.self, forKey: .pattern)
    }

    /// The calibration samples of a run whose recipe has this batch size and seed.
    public func calibrationPlan(batchSize: Int, recipeSeed: UInt64) -> CalibrationPlan {
        CalibrationKeys.plan(batches: calibrationBatches, seed: calibrationSeed, gramLimitMiB: calibrationGramLimitMiB, batchSize: batchSize,
                             recipeSeed: recipeSeed)
    }

    /// Number of pruning steps the schedule takes.
    public var stepCount: Int { schedule == .oneShot ? 1 : steps }

    /// Fine-tuning epochs after step `t` (1-based) of `stepCount`.
    public func finetuneEpochs(afterStep t: Int) -> Int {
        t < stepCount ? finetuneEpochs : (finalFinetuneEpochs ?? finetuneEpochs)
    }

    /// Checks every field that needs no model or registry; the error names the key, its value
    /// and what was expected.
    public func validate() throws {
        func require(_ ok: Bool, _ key: String, _ value: Any, _ expected: String) throws {
            if !ok { throw PruningError.invalidConfig(key: key, value: "\(value)", expected: expected) }
        }
        try require(criterion.split(separator: "/", omittingEmptySubsequences: false).count == 2, "criterion", criterion,
                    "PLUGIN/METHOD, e.g. prune/magnitude")
        func check(_ key: CodingKeys, _ value: Int?) throws {
            guard let value else { return }
            let k = Self.key(key)
            try require(k.allows(value), k.name, value, k.expected)
        }
        func check(_ key: CodingKeys, _ value: Double?, name: String? = nil) throws {
            guard let value else { return }
            let k = Self.key(key)
            try require(k.allows(value), name ?? k.name, value, k.expected)
        }
        try check(.sparsity, sparsity)
        try check(.initialSparsity, initialSparsity)
        try require(initialSparsity <= sparsity, "initial_sparsity", initialSparsity, "a fraction in [0, sparsity]")
        try check(.steps, steps)
        try check(.finetuneEpochs, finetuneEpochs)
        try check(.finalFinetuneEpochs, finalFinetuneEpochs)
        try check(.finetuneLearningRate, finetuneLearningRate)
        for (layer, s) in layerSparsity.sorted(by: { $0.key < $1.key }) {
            try check(.layerSparsity, s, name: "layer_sparsity.\(layer)")
        }
        try check(.rewindEpoch, rewindEpoch)
        try check(.slimmingL1, slimmingL1)
        try check(.calibrationBatches, calibrationBatches)
        if let groups { try require(!groups.isEmpty, "groups", "[]", "at least one kind, or no key for every group") }
        try check(.calibrationSeed, calibrationSeed)
        try check(.calibrationGramLimitMiB, calibrationGramLimitMiB)
        if let pattern {
            let implied = 1 - Double(pattern.n) / Double(pattern.m)
            try require(abs(sparsity - implied) < 1e-9, "sparsity", sparsity,
                        "\(implied), the fraction pattern \(pattern) prunes (set both or neither)")
            try require(scope == .local, "scope", scope.rawValue, "local with a pattern (N:M compares the weights within each group of M)")
            try require(schedule == .oneShot, "schedule", schedule.rawValue, "one-shot with a pattern")
            try require(layerSparsity.isEmpty, "layer_sparsity", "\(layerSparsity.count) layer(s)", "none with a pattern")
        }
    }

    /// Checks the criterion against the registry's manifests (no code is loaded): it exists, is a
    /// criterion, its hyperparameters bind to its declaration, and physical removal has channel
    /// scores. Returns the criterion's declaration and the bound values.
    public func validate(against registry: Registry) throws -> (method: MethodDescriptor, params: BoundParams) {
        try validate()
        let (manifest, method) = try registry.resolve(criterion)
        guard method.kind == .criterion else {
            throw PruningError.invalidConfig(key: "criterion", value: criterion,
                                             expected: "a pruning criterion (it is a \(method.kind.rawValue))")
        }
        let bound = try method.bind(params, plugin: manifest.plugin.name)
        if physical, method.granularity != .outputChannel {
            throw PruningError.invalidConfig(
                key: "physical", value: "true",
                expected: "an output-channel criterion (\(criterion) scores single weights, which cannot be removed physically; use e.g. prune/l1-filter)")
        }
        if pattern != nil || scope == .perOutput, method.granularity != .element {
            throw PruningError.invalidConfig(
                key: pattern != nil ? "pattern" : "scope", value: pattern.map { "\($0)" } ?? scope.rawValue,
                expected: "an element criterion (\(criterion) scores output channels)")
        }
        if let groups, method.granularity != .outputChannel {
            throw PruningError.invalidConfig(
                key: "groups", value: "[\(groups.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))]",
                expected: "an output-channel criterion (\(criterion) scores single weights, not channel groups)")
        }
        return (method, bound)
    }
}

/// N:M semi-structured sparsity: N of every M consecutive weights kept (`"2:4"` in specs).
public struct NMPattern: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Weights kept per group.
    public var n: Int
    /// Group size.
    public var m: Int

    public init(n: Int, m: Int) throws {
        guard m >= 2, m <= 64, n >= 1, n < m else {
            throw PruningError.invalidConfig(key: "pattern", value: "\(n):\(m)", expected: "N:M with 1 <= N < M <= 64, e.g. \"2:4\"")
        }
        self.n = n
        self.m = m
    }

    /// Parses `"N:M"`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) else {
            throw PruningError.invalidConfig(key: "pattern", value: text, expected: "N:M, e.g. \"2:4\" or \"4:8\"")
        }
        try self.init(n: n, m: m)
    }

    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String { "\(n):\(m)" }
}
