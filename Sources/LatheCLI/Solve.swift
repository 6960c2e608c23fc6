import ArgumentParser
import Foundation
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheSolve
import LatheTensor
import LatheTrain

/// `lathe solve`: a layer solver (GPTQ, SparseGPT, …) applied post-training, layer by layer;
/// writes `model.safetensors` and `metrics.json` (run metrics plus the solve ledger).
struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a trained model layer by layer with a solver plugin (GPTQ, SparseGPT) from calibration statistics.",
        discussion: """
            The model is --checkpoint, or one trained first with the recipe flags (same seed). Every conv and linear \
            layer (but --exclude) is solved in network order from the Gram matrix of its input, taken on calibration \
            batches of training data through the layers already solved. No fine-tuning.
            """)

    @OptionGroup var start: StartingModel

    @Option(help: "Solver plugin method (see `lathe plugins list`).") var method: String = "calib/gptq"
    @Option(name: .customLong("param"), help: ArgumentHelp("Solver hyperparameter NAME=VALUE (repeatable).", valueName: "name=value"))
    var params: [String] = []
    @Option(help: ArgumentHelp("Layer left as it is (repeatable).", valueName: "layer")) var exclude: [String] = []
    @Option(help: "Training batches the input statistics are taken over.") var calibrationBatches: Int = 8
    @Option(help: "Seed of the shuffle that picks the calibration samples (default: --seed).") var calibrationSeed: Int?
    @Option(help: "Largest input Gram matrix of one layer, MiB.") var calibrationGramLimitMib: Int = 1024
    @Option(help: ArgumentHelp("Also save each layer's weight and input Gram matrix as the solver saw them (safetensors: LAYER.weight, LAYER.gram).", valueName: "file"))
    var saveStatistics: String?

    @OptionGroup var recipeOptions: RecipeOptions
    @Option(name: .customLong("out"), help: "Output directory (default: runs/<model>-solved-seed<seed>).") var outputDirectory: String?
    @Option(help: "Registry folder (default: $LATHE_REGISTRY, ./registry, or the checkout's registry/).") var registry: String?
    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @OptionGroup var engine: EngineOptions

    var registryDirectory: String { registry ?? Registry.defaultDirectory() }

    func config(_ registry: Registry) throws -> SolveConfig {
        var c = SolveConfig()
        c.method = method
        let (manifest, descriptor) = try registry.resolve(method)
        c.params = try descriptor.parse(assignments: params, plugin: manifest.plugin.name)
        c.exclude = exclude
        c.calibrationBatches = calibrationBatches
        c.calibrationSeed = calibrationSeed
        c.calibrationGramLimitMiB = calibrationGramLimitMib
        return c
    }

    func validate() throws {
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
        let (train, test, network, training, recipe, dense) = try start.prepare(
            method: config.method, registry: registry, recipeOptions: recipeOptions, engine: engine, progress: progress)
        var seen: [String: SafeTensors.Entry] = [:]
        let saveStatistics = saveStatistics
        let (solved, report) = try SolveStage.run(config, model: network, train: train, test: test, recipe: recipe, registry: registry,
                                                  progress: progress) { layer, weight, statistics in
            guard saveStatistics != nil else { return }
            seen["\(layer).weight"] = SafeTensors.Entry(dtype: .F32, shape: weight.shape, bytes: try weight.converted(to: .float32).contiguous().bytes())
            if let gram = statistics?.gram { seen["\(layer).gram"] = SafeTensors.Entry(dtype: .F32, shape: gram.shape, bytes: try gram.bytes()) }
        }
        if let saveStatistics {
            try SafeTensors(tensors: seen, metadata: ["lathe.solve.method": config.method, "lathe.solve.layers": report.layers.map(\.name).joined(separator: ",")])
                .write(path: saveStatistics)
        }
        let out = outputDirectory ?? "runs/\(solved.architecture)-solved-seed\(recipeOptions.seed)"
        _ = try CompressionOutput.write(solved, reference: dense, test: test, recipe: recipe, training: training, engine: engine, out: out,
                                        metadata: ["lathe.solve.method": config.method], key: "solve", ledger: report)
        print(report.summary)
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}
