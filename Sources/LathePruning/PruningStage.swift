import Foundation
import LatheCalibration
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// The pruning workflow: score with a criterion plugin, mask on a schedule with fine-tuning
/// between steps, optionally rewind (lottery ticket), optionally remove channels physically,
/// and account for it all in a `PruningReport` against the model as it came in (the dense model).
public enum PruningStage {
    /// Prunes `model` in place following `config` and returns it with the ledger.
    ///
    /// Everything that can be checked is checked before any work: the configuration, the
    /// recipe, the criterion (registered, a criterion, hyperparameters bound to its declaration,
    /// library pin), layer names in `exclude` and `layer_sparsity`, batch norms for slimming and
    /// for criteria reading them, and the rewind weights.
    ///
    /// - Parameters:
    ///   - model: the trained dense model; it is pruned in place.
    ///   - train: fine-tuning and calibration data.
    ///   - test: the accuracy reported for the dense model, each step and the result.
    ///   - recipe: the fine-tuning recipe (its epochs are replaced by the configuration's).
    ///   - rewindWeights: the model's state at epoch `config.rewindEpoch` of its dense training
    ///     (see `trainDense`); required when rewinding, ignored otherwise.
    ///   - measureLatency: time the dense and the pruned model against each other at batch 1 and
    ///     256 for the report's speedups (minutes for a large-input model); a sweep's trials leave
    ///     it to the sweep's own latency phase.
    public static func run(
        _ config: PruningConfig, model: Model, train: ImageDataset, test: ImageDataset, recipe: Recipe,
        registry: Registry, rewindWeights: [String: Tensor]? = nil, measureLatency: Bool = true,
        progress: ProgressReporter = ProgressReporter(style: .silent)
    ) throws -> (model: Model, report: PruningReport) {
        // MARK: Check before running
        let (descriptor, _) = try config.validate(against: registry)
        try recipe.validate()
        let granularity = descriptor.granularity
        let targets = try prunableLayers(config, model: model, granularity: granularity)
        if config.slimmingL1 > 0 { _ = try batchNorms(model) }
        if config.rewindEpoch != nil, rewindWeights == nil {
            throw PruningError.invalidConfig(key: "rewind_epoch", value: "\(config.rewindEpoch ?? 0)",
                                             expected: "the dense training's weights at that epoch (train the dense model in the same run)")
        }
        let method = try registry.method(config.criterion)
        let bound = try method.bind(config.params)
        let masks = try PruningMasks(model: model, layers: targets, granularity: granularity)
        if descriptor.flags.contains(.needsAux) {
            for name in targets { _ = try Scoring.batchNormScale(after: name, model: model, criterion: config.criterion) }
        }

        // MARK: Dense baseline
        let dense = try model.copy()
        let denseAccuracy = try Evaluation.evaluate(model, on: test).accuracy
        let denseProfile = try model.profile()
        let weightCounts = try Dictionary(uniqueKeysWithValues: targets.map { ($0, try PruningMasks.weight(of: model, $0).count) })
        progress.note(String(format: "dense %@: accuracy %.2f%%, %d parameters; pruning %d layer(s) with %@ (%@, %@, %@)",
                             model.architecture, 100 * denseAccuracy, model.parameterCount, targets.count, config.criterion,
                             granularity.rawValue, config.scope.rawValue, config.schedule.rawValue))

        // MARK: Schedule
        let scoring = Scoring(method: method, params: bound,
                              calibration: config.calibrationPlan(batchSize: recipe.batchSize, recipeSeed: recipe.seed))
        if !descriptor.flags.isDisjoint(with: .inputStatistics) {
            // Refuse a Gram matrix over the limit (or a layer without statistics) before any work.
            _ = try InputStatisticsCollector.check(targets, need: StatisticsNeed(descriptor.flags), model: model, plan: scoring.calibration)
        }
        var steps: [PruningReport.Step] = []
        var removed: [ChannelRemoval.Removed]?
        let n = config.stepCount
        for t in 1...n {
            let scores = try scoring.scores(model: model, masks: masks, data: train)
            try select(config, step: t, scores: scores, targets: targets, masks: masks, granularity: granularity)
            if config.rewindEpoch != nil, let rewindWeights {
                // Copies: training must not move the rewind point of later steps.
                try model.load(try rewindWeights.mapValues { try $0.detached().clone() })
            }
            try masks.apply(to: model)
            if config.physical, t == n {
                // The final fine-tuning trains the smaller model: the same as training the masked
                // one (masked channels output zeros and get no gradient), at the smaller cost.
                let r = try ChannelRemoval.apply(masks, to: model)
                progress.note("removed \(r.reduce(0) { $0 + $1.channelsBefore - $1.channelsAfter }) channel(s) physically")
                removed = r
            }
            let epochs = config.finetuneEpochs(afterStep: t)
            var seconds = 0.0
            if epochs > 0 {
                var r = recipe.fineTuning(epochs: epochs, learningRate: config.finetuneLearningRate)
                r.seed = recipe.seed &+ UInt64(t)
                var trainer = Trainer(recipe: r, progress: progress)
                if t < n, config.slimmingL1 > 0 { try addSlimming(config.slimmingL1, model: model, to: &trainer) }
                if removed == nil { try masks.install(into: &trainer, model: model) }
                seconds = try trainer.train(model, on: train).trainingSeconds
            }
            let accuracy = try Evaluation.evaluate(model, on: test).accuracy
            let masked = try maskedSparsity(masks, weightCounts: weightCounts)
            let target = SparsitySchedule.target(config, final: config.sparsity, step: t)
            steps.append(.init(step: t, targetSparsity: target, maskedSparsity: masked, finetuneEpochs: epochs,
                               finetuneSeconds: seconds, accuracy: accuracy))
            progress.note(String(format: "step %d/%d: target %.1f%%, masked %.1f%% of pruned weights, %d fine-tuning epoch(s), accuracy %.2f%%",
                                 t, n, 100 * target, 100 * masked, epochs, 100 * accuracy))
        }

        // MARK: Ledger
        let maskedWeights = try targets.reduce(0.0) { $0 + (try masks.sparsity($1)) * Double(weightCounts[$1, default: 0]) }
        let targetWeights = weightCounts.values.reduce(0, +)
        let prunedAccuracy = steps.last?.accuracy ?? denseAccuracy
        let prunedProfile = try model.profile()
        let latency = measureLatency ? try LatencyComparison.measure(dense: dense, pruned: model) : nil
        let b1 = latency?[0], b256 = latency?[1]
        let speedup = { (m: (batchSize: Int, dense: Double, pruned: Double)) in m.dense / Swift.max(m.pruned, 1e-9) }
        let speedupB1 = b1.map(speedup), speedupB256 = b256.map(speedup)
        let denseCost = try ModelCost.of(dense), prunedCost = try ModelCost.of(model)
        let afterByName = Dictionary(prunedProfile.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let layers: [PruningReport.LayerEntry] = try denseProfile.filter { $0.parameters > 0 }.map { p in
            let isTarget = targets.contains(p.name)
            let after = afterByName[p.name]
            let outBefore = outChannels(p), outAfter = after.flatMap(outChannels)
            let weight = model.state.first { $0.0 == p.name + ".weight" }?.1
            let storage = try weight.map { try SparseStorage.best($0, valueBits: 32) } ?? TensorStorage(format: .dense, bytes: 0)
            return PruningReport.LayerEntry(
                name: p.name, kind: p.kind, pruned: isTarget,
                targetSparsity: isTarget ? config.layerSparsity[p.name] ?? config.sparsity : nil,
                parametersBefore: p.parameters, parametersAfter: after?.parameters ?? 0,
                maskedSparsity: isTarget ? try masks.sparsity(p.name) : 0,
                channelsBefore: outBefore, channelsAfter: outAfter,
                channelsRemoved: (outBefore ?? 0) - (outAfter ?? 0),
                storageFormat: storage.format, storageBytes: storage.bytes)
        }
        let removedParameters = dense.parameterCount - model.parameterCount
        let report = PruningReport(
            config: config, criterion: method.qualifiedID, pluginSHA256: registry.manifests[method.plugin]?.sha256,
            granularity: granularity.rawValue, params: bound.dictionary, layers: layers, steps: steps,
            dense: .init(accuracy: denseAccuracy, parameters: dense.parameterCount, nonzeroParameters: try nonzero(dense),
                         sizeBytes: denseCost.sizeBytes, macs: denseCost.macs,
                         latencyB1Milliseconds: b1?.dense, latencyB256Milliseconds: b256?.dense),
            pruned: .init(accuracy: prunedAccuracy, parameters: model.parameterCount, nonzeroParameters: try nonzero(model),
                          sizeBytes: prunedCost.sizeBytes, macs: prunedCost.macs,
                          latencyB1Milliseconds: b1?.pruned, latencyB256Milliseconds: b256?.pruned),
            maskedSparsity: targetWeights > 0 ? maskedWeights / Double(targetWeights) : 0,
            overallSparsity: dense.parameterCount > 0 ? maskedWeights / Double(dense.parameterCount) : 0,
            physicallyRemovedParameters: removedParameters,
            accuracyDeltaPoints: 100 * (prunedAccuracy - denseAccuracy),
            speedupB1: speedupB1, speedupB256: speedupB256,
            compressionRatio: Double(denseCost.sizeBytes) / Double(Swift.max(prunedCost.sizeBytes, 1)),
            macsReduction: Double(denseCost.macs) / Double(Swift.max(prunedCost.macs, 1)),
            speedupNote: PruningReport.speedupNote(
                physical: config.physical, granularity: granularity,
                removedFraction: Double(removedParameters) / Double(Swift.max(dense.parameterCount, 1)),
                speedupB256: speedupB256, pattern: config.pattern))
        return (model, report)
    }

    /// Trains a freshly built dense model with `recipe` (plus the slimming penalty when λ > 0)
    /// and returns the training summary with the state at epoch `snapshotEpoch` (0: before
    /// training), for lottery-ticket rewinding.
    public static func trainDense(
        _ model: Model, on train: ImageDataset, recipe: Recipe, slimmingL1: Double = 0, snapshotEpoch: Int? = nil,
        validation: ImageDataset? = nil, progress: ProgressReporter = ProgressReporter(style: .silent)
    ) throws -> (summary: TrainingSummary, snapshot: [String: Tensor]?) {
        if let k = snapshotEpoch, k < 0 || k > recipe.epochs {
            throw PruningError.invalidConfig(key: "rewind_epoch", value: "\(k)", expected: "an epoch in 0...\(recipe.epochs) of the dense training")
        }
        var trainer = Trainer(recipe: recipe, progress: progress)
        if slimmingL1 > 0 { try addSlimming(slimmingL1, model: model, to: &trainer) }
        var snapshot: [String: Tensor]?
        if snapshotEpoch == 0 { snapshot = try state(of: model) }
        if let k = snapshotEpoch, k > 0 {
            let stepsPerEpoch = (train.count + recipe.batchSize - 1) / recipe.batchSize
            var step = 0
            trainer.afterStep = {
                step += 1
                if step == k * stepsPerEpoch { snapshot = try state(of: model) }
            }
        }
        let summary = try trainer.train(model, on: train, validation: validation)
        return (summary, snapshot)
    }

    // MARK: Helpers

    /// The layers the criterion scores: every conv and linear layer (element granularity) or
    /// every channel-group producer (output-channel), minus exclusions.
    public static func prunableLayers(_ config: PruningConfig, model: Model, granularity: Granularity) throws -> [String] {
        if let kinds = config.groups, granularity == .outputChannel {
            let declared = Set(model.channelGroups.map(\.kind))
            for kind in kinds where !declared.contains(kind) {
                throw PruningError.invalidConfig(key: "groups", value: kind.rawValue,
                                                 expected: "a kind of group \(model.architecture) declares: \(ChannelGroup.Kind.allCases.filter(declared.contains).map(\.rawValue).joined(separator: ", "))")
            }
        }
        let candidates: [String] = granularity == .outputChannel
            ? model.channelGroups.filter { config.groups?.contains($0.kind) ?? true }.map(\.producer)
            : model.layers.filter { $0 is Conv2d || $0 is Linear }.map(\.name)
        for name in config.exclude where !candidates.contains(name) {
            throw PruningError.unknownLayer(key: "exclude", layer: name, candidates: candidates)
        }
        let kept = candidates.filter { !config.exclude.contains($0) }
        for name in config.layerSparsity.keys.sorted() where !kept.contains(name) {
            throw PruningError.unknownLayer(key: "layer_sparsity", layer: name, candidates: kept)
        }
        guard !kept.isEmpty else {
            throw PruningError.unsupported("\(model.architecture) has no layer left to prune with \(granularity.rawValue) granularity")
        }
        return kept
    }

    /// Updates `masks` to step `t`'s targets.
    ///
    /// Global scope ranks the units of every layer without a `layer_sparsity` override together;
    /// channel scores are first divided by the mean score of their layer's live channels (so that
    /// layers whose criterion values differ in scale, e.g. filter norms of a 1×1 and a 3×3 conv,
    /// compete fairly; the ranking within a layer is unchanged).
    /// Element scores are ranked as they are (global magnitude pruning).
    static func select(_ config: PruningConfig, step t: Int, scores: [String: Tensor], targets: [String],
                       masks: PruningMasks, granularity: Granularity) throws {
        func candidate(_ name: String, normalise: Bool) throws -> Selection.Candidate {
            guard var s = scores[name] else { throw PruningError.unsupported("no scores for '\(name)'") }
            let alive = try masks.keep(name)
            if normalise {
                let live = zip(try s.scalars(as: Double.self), alive).filter(\.1).map(\.0)
                let mean = live.isEmpty ? 1 : live.reduce(0, +) / Double(live.count)
                s = try s / Swift.max(mean, Double(Float.leastNormalMagnitude))
            }
            return Selection.Candidate(layer: name, scores: s, alive: alive)
        }
        if config.scope == .perOutput || config.pattern != nil {
            for name in targets {
                let c = try candidate(name, normalise: false)
                let rows = c.scores.shape.first ?? 1
                let keep = try config.pattern.map { try Selection.nOfM(c, rowLength: c.scores.count / Swift.max(rows, 1), n: $0.n, m: $0.m) }
                    ?? Selection.perRow(c, rows: rows, sparsity: SparsitySchedule.target(
                        config, final: config.layerSparsity[name] ?? config.sparsity, step: t))
                try masks.setKeep(name, keep)
            }
            return
        }
        let shared = config.scope == .global ? targets.filter { config.layerSparsity[$0] == nil } : []
        let local = targets.filter { !shared.contains($0) }
        let localKeep = try Selection.local(
            try local.map { try candidate($0, normalise: false) },
            sparsity: local.map { SparsitySchedule.target(config, final: config.layerSparsity[$0] ?? config.sparsity, step: t) })
        for (name, keep) in zip(local, localKeep) { try masks.setKeep(name, keep) }
        if !shared.isEmpty {
            let normalise = granularity == .outputChannel
            let keep = try Selection.global(try shared.map { try candidate($0, normalise: normalise) },
                                            sparsity: SparsitySchedule.target(config, final: config.sparsity, step: t))
            for (name, k) in zip(shared, keep) { try masks.setKeep(name, k) }
        }
    }

    /// Fraction of the masked layers' weights (`weightCounts` elements each) that are masked.
    static func maskedSparsity(_ masks: PruningMasks, weightCounts: [String: Int]) throws -> Double {
        var masked = 0.0, total = 0
        for (name, n) in weightCounts {
            masked += try masks.sparsity(name) * Double(n)
            total += n
        }
        return total > 0 ? masked / Double(total) : 0
    }

    /// The batch-norm layers of `model` (slimming needs at least one).
    static func batchNorms(_ model: Model) throws -> [BatchNorm2d] {
        let bns = model.layers.compactMap { $0 as? BatchNorm2d }
        guard !bns.isEmpty else {
            throw PruningError.invalidConfig(key: "slimming_l1", value: "> 0",
                                             expected: "a model with batch norm (\(model.architecture) has none; use resnet8, resnet20 or mobilenet)")
        }
        return bns
    }

    /// Network slimming (Liu et al., ICCV 2017): adds λ·Σ|γ| over every batch norm to the loss.
    static func addSlimming(_ lambda: Double, model: Model, to trainer: inout Trainer) throws {
        let bns = try batchNorms(model)
        let previous = trainer.extraLoss
        trainer.extraLoss = { context, x, y, logits in
            var l1 = try bns[0].weight.abs().sum()
            for bn in bns.dropFirst() { l1 = try l1 + bn.weight.abs().sum() }
            let penalty = try l1 * lambda
            guard let other = try previous?(context, x, y, logits) else { return penalty }
            return try penalty + other
        }
    }

    /// A deep copy of `model`'s state, by tensor name.
    static func state(of model: Model) throws -> [String: Tensor] {
        try Dictionary(uniqueKeysWithValues: model.state.map { ($0.0, try $0.1.detached().clone()) })
    }

    /// Output channels (conv) or features (linear) of a profiled layer.
    static func outChannels(_ p: LayerProfile) -> Int? {
        if p.kind.hasPrefix("conv"), p.outputShape.count == 4 { return p.outputShape[1] }
        if p.kind == "linear" { return p.outputShape.last }
        return nil
    }

    /// Number of nonzero trainable elements.
    static func nonzero(_ model: Model) throws -> Int {
        try model.parameters.reduce(0) { $0 + Int(try $1.detached().ne(0).converted(to: .float64).sum().item()) }
    }
}
