import ArgumentParser
import Foundation
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LathePruning
import LatheTensor
import LatheTrain

/// `lathe prune`: one pruning run against its own dense baseline; writes `model.safetensors`
/// (with its new shapes after physical removal) and `metrics.json` (run metrics plus the pruning
/// ledger) at the end.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune a model with a criterion plugin: schedules, fine-tuning, physical channel removal, measured speedup.",
        discussion: """
            The dense baseline is --checkpoint, or a model trained first with the recipe flags (same seed), \
            measured in the same run. Granularity comes from the criterion: element criteria mask single \
            weights; output-channel criteria prune channels of the model's channel groups and, with \
            --physical, remove them.
            """)

    // MARK: Model
    @Option(help: "Zoo model to train densely first: \(Zoo.names.joined(separator: ", ")) (default lenet5).")
    var model: String?
    @Option(help: "Width multiplier for channels and hidden units.") var width: Double = 1
    @Option(help: "Transformer blocks (vit-* only; default: the architecture's).") var depth: Int?
    @Option(help: "Dense checkpoint to prune instead of training one.") var checkpoint: String?

    // MARK: Pruning
    @Option(help: "Criterion plugin method (see `lathe plugins list`).") var criterion: String = "prune/magnitude"
    @Option(name: .customLong("param"), help: ArgumentHelp("Criterion hyperparameter NAME=VALUE (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Option(help: "Final sparsity: fraction of weights (element) or output channels (channel) pruned, in [0, 1) (default 0.5, or 1 − N/M with --pattern).")
    var sparsity: Double?
    @Option(help: "AGP initial sparsity.") var initialSparsity: Double = 0
    @Option(help: "Scope: local (every layer to the target), global (one ranking across layers) or per-output (every output row to the target; element criteria, Wanda's comparison group).")
    var scope: PruningConfig.Scope = .local
    @Option(help: "Pruning schedule: one-shot, iterative, agp.") var schedule: PruningConfig.Schedule = .oneShot
    @Option(help: "Pruning steps (iterative, agp).") var steps: Int = 1
    @Option(help: "Fine-tuning epochs after each pruning step.") var finetuneEpochs: Int = 1
    @Option(help: "Fine-tuning epochs after the last step (default: --finetune-epochs).") var finalFinetuneEpochs: Int?
    @Option(help: "Fine-tuning learning rate (default: --lr).") var finetuneLr: Double?
    @Option(help: ArgumentHelp("Output-channel criteria: prune only channel groups of this kind: channel, head (attention heads), neuron (transformer MLP neurons) (repeatable; default: every group).", valueName: "kind"))
    var groups: [ChannelGroup.Kind] = []
    @Option(help: ArgumentHelp("Layer never pruned (repeatable).", valueName: "layer")) var exclude: [String] = []
    @Option(help: ArgumentHelp("Per-layer final sparsity LAYER=S (repeatable).", valueName: "layer=s")) var layerSparsity: [String] = []
    @Option(help: "Lottery ticket: rewind surviving weights to this epoch of the dense training (0: initialisation).")
    var rewindEpoch: Int?
    @Option(help: "Network slimming: L1 penalty λ on batch-norm scales during dense training and intermediate fine-tuning.")
    var slimmingL1: Double = 0
    @Option(help: "Training batches whose gradients or input statistics feed the criteria that need them.") var calibrationBatches: Int = 8
    @Option(help: "Seed of the shuffle that picks the calibration samples (default: --seed).") var calibrationSeed: Int?
    @Option(help: "Largest input Gram matrix one layer may accumulate, MiB (criteria that need it).") var calibrationGramLimitMib: Int = 1024
    @Option(help: ArgumentHelp("N:M semi-structured sparsity for element criteria: keep N of every M consecutive weights of a row, e.g. 2:4.", valueName: "n:m"))
    var pattern: String?
    @Flag(help: "Physically remove pruned channels (output-channel criteria).") var physical = false

    // MARK: Recipe (dense training and fine-tuning)
    @OptionGroup var recipeOptions: RecipeOptions

    // MARK: Output
    @Option(name: .customLong("out"), help: "Output directory (default: runs/<model>-pruned-seed<seed>).")
    var outputDirectory: String?
    @Option(help: "Registry folder (default: $LATHE_REGISTRY, ./registry, or the checkout's registry/).")
    var registry: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false

    @OptionGroup var engine: EngineOptions

    /// The recipe of the model trained densely (a checkpoint's architecture is only known in
    /// `run`; its fine-tuning uses the same defaults).
    func recipe(for architecture: String) -> Recipe { recipeOptions.recipe(for: architecture) }
    var recipe: Recipe { recipe(for: model ?? "lenet5") }
    var seed: UInt64 { recipeOptions.seed }
    var epochs: Int { recipe.epochs }

    /// The pruning configuration the flags describe; `params` typed by the criterion's declaration.
    func config(params typed: [String: HyperValue]) throws -> PruningConfig {
        var c = PruningConfig()
        c.criterion = criterion
        c.params = typed
        c.pattern = try pattern.map { try NMPattern(parsing: $0) }
        c.sparsity = sparsity ?? c.pattern.map { 1 - Double($0.n) / Double($0.m) } ?? 0.5
        c.initialSparsity = initialSparsity
        c.scope = scope
        c.schedule = schedule
        c.steps = steps
        c.finetuneEpochs = finetuneEpochs
        c.finalFinetuneEpochs = finalFinetuneEpochs
        c.finetuneLearningRate = finetuneLr
        c.exclude = exclude
        c.groups = groups.isEmpty ? nil : groups
        for text in layerSparsity {
            guard let eq = text.firstIndex(of: "="), let value = Double(text[text.index(after: eq)...]) else {
                throw ValidationError("--layer-sparsity '\(text)': expected LAYER=FRACTION, e.g. conv1=0.3")
            }
            c.layerSparsity[String(text[..<eq])] = value
        }
        c.rewindEpoch = rewindEpoch
        c.slimmingL1 = slimmingL1
        c.calibrationBatches = calibrationBatches
        c.calibrationSeed = calibrationSeed
        c.calibrationGramLimitMiB = calibrationGramLimitMib
        c.physical = physical
        return c
    }

    var registryDirectory: String { registry ?? Registry.defaultDirectory() }

    /// Parses `--param` texts against the criterion's declaration (manifest only, no code loaded).
    func typedParams(_ registry: Registry) throws -> [String: HyperValue] {
        let (manifest, method) = try registry.resolve(criterion)
        return try method.parse(assignments: params, plugin: manifest.plugin.name)
    }

    func validate() throws {
        if let model, !Zoo.isKnown(model) {
            throw ValidationError("unknown model '\(model)': expected one of \(Zoo.names.joined(separator: ", ")), or an ONNX file (.onnx)")
        }
        guard width > 0, width <= 16 else { throw ValidationError("--width \(width): expected a number in (0, 16]") }
        try DepthOption.check(depth, model: model ?? "lenet5", flag: "--depth")
        if let checkpoint {
            guard FileManager.default.fileExists(atPath: checkpoint) else {
                throw ValidationError("checkpoint '\(checkpoint)' does not exist")
            }
            if rewindEpoch != nil {
                throw ValidationError("--rewind-epoch needs the dense training's weights: train the dense model in this run instead of --checkpoint")
            }
        }
        if let k = rewindEpoch, k > epochs {
            throw ValidationError("--rewind-epoch \(k): expected an epoch in 0...\(epochs) of the dense training")
        }
        try CompressionOutput.validated {
            try recipe.validate()
            let registry = try Registry(directory: registryDirectory)
            _ = try config(params: typedParams(registry)).validate(against: registry)
        }
    }

    mutating func run() throws {
        try engine.adoptDataset(ofCheckpoint: checkpoint)
        engine.apply()
        let progress = ProgressReporter(style: plain ? .lines : nil)
        let registry = try Registry(directory: registryDirectory)
        let config = try config(params: typedParams(registry))
        // Load (pin check, dlopen) before the dense training rather than after it.
        _ = try registry.method(config.criterion)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)

        let network: Model
        var training: TrainingSummary?
        var rewind: [String: Tensor]?
        if let checkpoint {
            network = try Checkpoint.load(checkpoint).model
            if let model, model != network.architecture {
                throw ValidationError("--model \(model) differs from the checkpoint's architecture '\(network.architecture)'")
            }
            progress.note("dense baseline: \(checkpoint) (\(network.architecture), \(network.parameterCount) parameters)")
        } else {
            let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount, width: width, depth: depth)
            network = try Zoo.make(model ?? "lenet5", options: options, seed: seed)
            // Layer keys (exclude, layer_sparsity, groups) are checked before the dense training.
            _ = try PruningStage.prunableLayers(config, model: network, granularity: try registry.method(config.criterion).descriptor.granularity)
            progress.note("training dense \(network.architecture) (\(network.parameterCount) parameters) on \(train.count) images, \(engine.threads) thread(s)")
            (training, rewind) = try PruningStage.trainDense(
                network, on: train, recipe: recipe, slimmingL1: slimmingL1, snapshotEpoch: rewindEpoch, progress: progress)
        }
        let recipe = recipe(for: network.architecture)
        let dense = try network.copy()
        let (pruned, report) = try PruningStage.run(
            config, model: network, train: train, test: test, recipe: recipe, registry: registry, rewindWeights: rewind,
            measureLatency: !engine.noLatency, progress: progress)
        let out = outputDirectory ?? "runs/\(pruned.architecture)-pruned-seed\(seed)"
        _ = try CompressionOutput.write(pruned, reference: dense, test: test, recipe: recipe, training: training, engine: engine, out: out,
                                        metadata: ["lathe.pruning.criterion": report.criterion], shapesChanged: config.physical,
                                        key: "pruning", ledger: report)
        print(report.summary)
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}

/// `metrics.json` of a compression run: the run metrics every command writes, plus the stage's
/// ledger under `key` (`pruning`, `solve`).
struct LedgerMetrics<Ledger: Encodable>: Encodable {
    var run: RunMetrics
    var key: String
    var ledger: Ledger

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        try run.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(ledger, forKey: Key(stringValue: key))
    }
}

extension PruningConfig.Scope: ExpressibleByArgument {}
extension ChannelGroup.Kind: ExpressibleByArgument {}
extension PruningConfig.Schedule: ExpressibleByArgument {}
