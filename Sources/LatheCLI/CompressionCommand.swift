import ArgumentParser
import Foundation
import LatheIO
import LathePlugins
import LatheTensor
import LatheData
import LatheModels
import LatheTrain

/// The model a post-training command (`solve`, `factorize`) starts from: `--checkpoint`, or
/// the zoo model trained first with the recipe flags (same seed).
struct StartingModel: ParsableArguments {
    @Option(help: "Zoo model to train first: \(Zoo.names.joined(separator: ", ")) (default mlp).") var model: String?
    @Option(help: "Width multiplier for channels and hidden units.") var width: Double = 1
    @Option(help: "Transformer blocks (vit-* only; default: the architecture's).") var depth: Int?
    @Option(help: "Trained checkpoint to compress instead of training one.") var checkpoint: String?

    /// The zoo model's name (mlp unless given).
    var architecture: String { model ?? "mlp" }

    func validate() throws {
        if let model, !Zoo.isKnown(model) {
            throw ValidationError("unknown model '\(model)': expected one of \(Zoo.names.joined(separator: ", ")), or an ONNX file (.onnx)")
        }
        guard width > 0, width <= 16 else { throw ValidationError("--width \(width): expected a number in (0, 16]") }
        try DepthOption.check(depth, model: architecture, flag: "--depth")
        if let checkpoint, !FileManager.default.fileExists(atPath: checkpoint) {
            throw ValidationError("checkpoint '\(checkpoint)' does not exist")
        }
    }

    /// Everything a post-training command has before its method runs: the method loaded (pin
    /// check, dlopen) before any training, the data, the starting model (and its training),
    /// its recipe, and a copy of it as the reference the compressed model is measured against.
    func prepare(method: String, registry: Registry, recipeOptions: RecipeOptions, engine: EngineOptions, progress: ProgressReporter) throws
        -> (train: ImageDataset, test: ImageDataset, model: Model, training: TrainingSummary?, recipe: Recipe, dense: Model) {
        _ = try registry.method(method)
        let (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)
        let (network, training) = try obtain(recipeOptions: recipeOptions, threads: engine.threads, train: train, progress: progress)
        return (train, test, network, training, recipeOptions.recipe(for: network.architecture), try network.copy())
    }

    /// The checkpoint, or the model trained now.
    func obtain(recipeOptions: RecipeOptions, threads: Int, train: ImageDataset, progress: ProgressReporter) throws
        -> (model: Model, training: TrainingSummary?) {
        try Self.obtain(checkpoint: checkpoint, model: model, width: width, depth: depth, recipeOptions: recipeOptions, threads: threads,
                        train: train, progress: progress)
    }

    private static func obtain(checkpoint: String?, model: String?, width: Double, depth: Int?, recipeOptions: RecipeOptions,
                               threads: Int, train: ImageDataset, progress: ProgressReporter) throws -> (model: Model, training: TrainingSummary?) {
        if let checkpoint {
            let network = try Checkpoint.load(checkpoint).model
            if let model, model != network.architecture {
                throw ValidationError("--model \(model) differs from the checkpoint's architecture '\(network.architecture)'")
            }
            progress.note("model: \(checkpoint) (\(network.architecture), \(network.parameterCount) parameters)")
            return (network, nil)
        }
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount, width: width, depth: depth)
        let network = try Zoo.make(model ?? "mlp", options: options, seed: recipeOptions.seed)
        progress.note("training \(network.architecture) (\(network.parameterCount) parameters) on \(train.count) images, \(threads) thread(s)")
        let training = try Trainer(recipe: recipeOptions.recipe(for: network.architecture), progress: progress).train(network, on: train)
        return (network, training)
    }
}

/// What the post-training compression commands (`prune`, `solve`, `factorize`) share after the
/// method ran: the run metrics against the model before compression, the checkpoint and
/// `metrics.json` (run metrics plus the stage's ledger under `key`), and where they went.
enum CompressionOutput {
    static func write<Ledger: Encodable>(
        _ compressed: Model, reference: Model, test: ImageDataset, recipe: Recipe, training: TrainingSummary?, engine: EngineOptions,
        out: String, metadata: [String: String], shapesChanged: Bool = false, key: String, ledger: Ledger
    ) throws -> RunMetrics {
        var metrics = try RunMetrics.measure(compressed, dataset: engine.dataset.rawValue, test: test, recipe: recipe, training: training,
                                             threads: engine.threads, reference: reference, latency: engine.latencyPlan)
        metrics.backendLatency = try engine.backendLatency(compressed, reference: reference)
        let context = ForwardContext(training: false)
        metrics.record(try Agreement.measure(on: test, baseline: { try reference.forward($0, context) },
                                             compressed: { try compressed.forward($0, context) }))
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Checkpoint.save(compressed, to: "\(out)/model.safetensors", metadata: metadata.merging(["lathe.dataset": engine.dataset.rawValue]) { $1 },
                            shapesChanged: shapesChanged)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try atomicWrite(encoder.encode(LedgerMetrics(run: metrics, key: key, ledger: ledger)), to: URL(fileURLWithPath: "\(out)/metrics.json"))
        return metrics
    }

    /// Runs a command's up-front checks, turning the library's errors into ArgumentParser's.
    static func validated(_ checks: () throws -> Void) throws {
        do {
            try checks()
        } catch let error as ValidationError {
            throw error
        } catch let error as PluginError {
            throw ValidationError(error.message)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
