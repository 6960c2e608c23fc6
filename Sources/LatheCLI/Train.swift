import ArgumentParser
import Foundation
import LatheData
import LatheModels
import LatheTensor
import LatheTrain

/// `lathe train`: trains a zoo model and writes `model.safetensors` and `metrics.json`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a zoo model on a data set and save a checkpoint and metrics.")

    @Option(help: "Zoo model (\(Zoo.names.joined(separator: ", "))) or an ONNX file to import (.onnx).")
    var model: String = "lenet5"

    @Option(help: "Width multiplier for channels and hidden units.")
    var width: Double = 1

    @Option(help: "Transformer blocks (vit-* only; default: the architecture's).")
    var depth: Int?

    @OptionGroup var recipeOptions: RecipeOptions
    @Option(help: "Hold out this fraction of the training set for per-epoch validation.") var validationFraction: Double = 0

    @Option(name: .customLong("out"), help: "Output directory (default: runs/<model>-seed<seed>).")
    var outputDirectory: String?

    @Flag(help: "Plain log lines even on a terminal.") var plain = false
    @Flag(help: "Continue an interrupted run from <out>/training-state.safetensors (kept after every epoch); starts from the beginning when there is none, so a requeued job can always pass it.")
    var resume = false

    @OptionGroup var engine: EngineOptions

    var recipe: Recipe { recipeOptions.recipe(for: model) }
    var seed: UInt64 { recipeOptions.seed }

    func validate() throws {
        guard Zoo.isKnown(model) else {
            throw ValidationError("unknown model '\(model)': expected one of \(Zoo.names.joined(separator: ", ")), or an ONNX file (.onnx)")
        }
        guard width > 0, width <= 16 else { throw ValidationError("--width \(width): expected a number in (0, 16]") }
        try DepthOption.check(depth, model: model, flag: "--depth")
        guard (0..<1).contains(validationFraction) else {
            throw ValidationError("--validation-fraction \(validationFraction): expected a number in [0, 1)")
        }
    }

    func run() throws {
        engine.apply()
        let out = outputDirectory ?? "runs/\(Zoo.label(model))-seed\(seed)"
        try OutputPath.checkDirectory(out, option: "--out")
        let progress = ProgressReporter(style: plain ? .lines : nil)
        var (train, test) = try engine.dataset.load(directory: engine.dataDirectory, limitTrain: engine.limitTrain, limitTest: engine.limitTest)
        var validation: ImageDataset?
        if validationFraction > 0 {
            (train, validation) = try train.split(validationFraction: validationFraction, seed: seed)
        }
        let options = ModelOptions(inputChannels: train.channels, imageSize: train.height, classCount: train.classCount, width: width, depth: depth)
        let network = try Zoo.make(model, options: options, seed: seed)
        progress.note("training \(model) (\(network.parameterCount) parameters) on \(train.count) \(engine.dataset.rawValue) images, \(engine.threads) thread(s)")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let statePath = "\(out)/training-state.safetensors"
        if !resume, FileManager.default.fileExists(atPath: statePath) {
            throw ValidationError("'\(statePath)' exists (the state of an interrupted run): add --resume to continue it, or remove the file to start again")
        }
        var trainer = Trainer(recipe: recipe, progress: progress)
        trainer.statePath = statePath
        let summary = try trainer.train(network, on: train, validation: validation)
        var metrics = try RunMetrics.measure(
            network, dataset: engine.dataset.rawValue, test: test, recipe: recipe, training: summary, threads: engine.threads,
            latency: engine.latencyPlan)
        metrics.backendLatency = try engine.backendLatency(network)
        try Checkpoint.save(network, to: "\(out)/model.safetensors", metadata: ["lathe.dataset": engine.dataset.rawValue])
        try metrics.write(to: "\(out)/metrics.json")
        try FileManager.default.removeItem(atPath: statePath)
        print(metrics.headline)
        print("checkpoint: \(out)/model.safetensors")
        print("metrics: \(out)/metrics.json")
    }
}
