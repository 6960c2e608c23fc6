import ArgumentParser
import Foundation
import LatheFactorize
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// `lathe factorize`: low-rank factorization with a factorizer plugin (SVD, ASVD), optionally
/// fine-tuned; writes `model.safetensors` (the factorized structure recorded) and `metrics.json`.
struct Factorize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace conv and linear layers by low-rank pairs with a factorizer plugin (SVD, ASVD), then optionally fine-tune.",
        discussion: """
            The model is --checkpoint, or one trained first with the recipe flags (same seed). Each --layer (default: every \
            factorizable conv and linear layer but --exclude) becomes a pair of rank r: linear -> linear, or a k×k conv with \
            r filters -> a 1×1 conv. --finetune-epochs trains the factorized model with the recipe (learning rate \
            --finetune-lr). Latency is measured at batch 1 and 256 against the model before factorization, for the whole model \
            and for each factorized layer alone (on an input of its shape) against the dense layer it replaced.
            """)

    @OptionGroup var start: StartingModel

    @Option(help: "Factorizer plugin method (see `lathe plugins list`).") var method: String = "lowrank/svd"
    @Option(name: .customLong("param"), help: ArgumentHelp("Factorizer hyperparameter NAME=VALUE (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Option(name: .customLong("layer"), help: ArgumentHelp("Layer to factorize (repeatable; default: all).", valueName: "layer")) var layers: [String] = []
    @Option(help: ArgumentHelp("Layer left dense (repeatable).", valueName: "layer")) var exclude: [String] = []
    @Option(help: "Training batches the input statistics are taken over (factorizers that need them).") var calibrationBatches: Int = 8
    @Option(help: "Fine-tuning epochs after factorizing.") var finetuneEpochs: Int = 0
    @Option(help: "Peak learning rate of the fine-tuning (default: the recipe's).") var finetuneLr: Double?

    @OptionGroup var recipeOptions: RecipeOptions
    @Option(name: .customLong("out"), help: "Output directory (default: runs/<model>-factorized-seed<seed>).") var outputDirectory: String?
    @Option(help: "Registry folder (default: $LATHE_REGISTRY, ./registry, or the checkout's registry/).") var registry: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @OptionGroup var engine: EngineOptions

    var registryDirectory: String { registry ?? Registry.defaultDirectory() }

    func config(_ registry: Registry) throws -> FactorizeConfig {
        var c = FactorizeConfig()
        c.method = method
        let (manifest, descriptor) = try registry.resolve(method)
        c.params = try descriptor.parse(assignments: params, plugin: manifest.plugin.name)
        c.layers = layers
        c.exclude = exclude
        c.calibrationBatches = calibrationBatches
        return c
    }

    func validate() throws {
        guard (0...Recipe.maxEpochs).contains(finetuneEpochs) else {
            throw ValidationError("--finetune-epochs \(finetuneEpochs): expected an integer in 0...\(Recipe.maxEpochs)")
        }
        if let lr = finetuneLr, !(lr > 0 && lr.isFinite) { throw ValidationError("--finetune-lr \(lr): expected a positive number") }
        try CompressionOutput.validated {
            try recipeOptions.recipe(for: start.architecture).validate()
            let registry = try Registry(directory: registryDirectory)
            _ = try config(registry).validate(against: registry)
        }
    }

    mutating func run() throws {
        try engine.adoptDataset(ofCheckpoint: start.checkpoint)
        engine.apply()
        let progress = ProgressReporter(style: plain ? .lines : nil)
        let registry = try Registry(directory: registryDirectory)
        let config = try config(registry)
        let (train, test, network, training, baseRecipe, dense) = try start.prepare(
            method: config.method, registry: registry, recipeOptions: recipeOptions, engine: engine, progress: progress)
        var recipe = baseRecipe
        var report = try FactorizeStage.run(config, model: network, train: train, test: test, recipe: recipe, registry: registry, progress: progress)
        if let plan = engine.latencyPlan {
            progress.note("timing each factorized layer against its dense original")
            report.layerLatency = try LayerLatency.measure(reference: dense, compressed: network,
                                                           layers: report.layers.filter(\.factorized).map(\.name), plan: plan)
        }
        print(report.summary)
        var finetuning: TrainingSummary?
        if finetuneEpochs > 0 {
            recipe = recipe.fineTuning(epochs: finetuneEpochs, learningRate: finetuneLr)
            progress.note("fine-tuning the factorized model for \(finetuneEpochs) epoch(s)")
            finetuning = try Trainer(recipe: recipe, progress: progress).train(network, on: train)
        }
        let out = outputDirectory ?? "runs/\(network.architecture)-factorized-seed\(recipeOptions.seed)"
        let metrics = try CompressionOutput.write(network, reference: dense, test: test, recipe: recipe, training: finetuning ?? training,
                                                  engine: engine, out: out, metadata: ["lathe.factorize.method": config.method],
                                                  key: "factorize", ledger: report)
        if finetuneEpochs > 0 { print(String(format: "after %d epoch(s) of fine-tuning: accuracy %.2f%%", finetuneEpochs, 100 * metrics.accuracy)) }
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}
