import Foundation
import LatheData
import LatheModels
import LatheTensor

/// One epoch's record.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    /// Accuracy on the held-out set after the epoch, when one was given.
    public var validationAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// The outcome of a training run.
public struct TrainingSummary: Sendable, Codable, Equatable {
    public var epochs: [EpochRecord]
    /// Wall-clock seconds spent in the training loop (evaluation excluded).
    public var trainingSeconds: Double
    /// Training images processed per second over the whole run.
    public var imagesPerSecond: Double
    /// Median wall time of one full-batch step (data, forward, loss, backward, update,
    /// bookkeeping): the steady-state rate, which a burst of interference on a shared machine
    /// moves far less than the whole-run rate. Nil when no step had a full batch.
    public var medianStepSeconds: Double?
}

/// Supervised training with the data set's task loss (cross-entropy for classification and
/// segmentation, CenterNet's for detection): the loop every method stage builds on.
///
/// Hooks let later stages change the loop without copying it: `configureContext` adjusts each
/// forward pass (masks, fake quantization, taps), `extraLoss` adds terms (distillation,
/// sparsity penalties), and `afterStep` runs after each optimizer step (re-applying masks).
public struct Trainer {
    public var recipe: Recipe
    public var progress: ProgressReporter
    /// Adjusts each training forward context before the pass.
    public var configureContext: ((ForwardContext) throws -> Void)?
    /// Extra loss terms computed from the context after the forward pass: (context, images, labels, logits).
    public var extraLoss: ((ForwardContext, Tensor, Tensor, Tensor) throws -> Tensor?)?
    /// Runs after every optimizer step.
    public var afterStep: (() throws -> Void)?
    /// Tensors trained along with the model's parameters (e.g. distillation adapters).
    public var extraParameters: [Tensor] = []
    /// Tensors trained with their own learning rate and weight decay (e.g. a quantizer's
    /// learnable step sizes): the recipe's optimizer family, the same schedule scaled to
    /// `learningRate`.
    public var parameterGroup: ParameterGroup?
    /// A file to keep the run's state in after every epoch (`TrainingState`): when it exists at
    /// the start, the run continues after the epoch it records (same recipe and model required);
    /// it is rewritten after each epoch and left in place at the end (the caller removes it once
    /// the run's outputs are saved). For loops whose hooks keep no state of their own.
    public var statePath: String?

    /// Tensors with their own base learning rate and weight decay.
    public struct ParameterGroup {
        public var parameters: [Tensor]
        public var learningRate: Double
        public var weightDecay: Double
        public init(parameters: [Tensor], learningRate: Double, weightDecay: Double) {
            self.parameters = parameters
            self.learningRate = learningRate
            self.weightDecay = weightDecay
        }
    }

    /// A trainer following `recipe`.
    public init(recipe: Recipe, progress: ProgressReporter = ProgressReporter(style: .silent)) {
        self.recipe = recipe
        self.progress = progress
    }

    /// Checks that `model`'s output suits `data`'s task: `[classes]` logits for classification,
    /// `[classes, H, W]` per-pixel logits for segmentation, `[classes + 4, H/4, W/4]` for detection.
    public static func checkOutput(_ model: Model, for data: ImageDataset) throws {
        let shape = model.outputShape, c = data.classCount
        let (ok, expected): (Bool, String) = switch data.task {
        case .classification: (shape.count == 1, "[classes] logits")
        case .segmentation: (shape == [c, data.height, data.width], "[\(c), \(data.height), \(data.width)] per-pixel logits (a segmenter such as fpn-seg)")
        case .detection:
            (shape == [c + 4, data.height / CenterNetCoding.stride, data.width / CenterNetCoding.stride],
             "[\(c + 4), \(data.height / CenterNetCoding.stride), \(data.width / CenterNetCoding.stride)] CenterNet maps (a detector such as centernet)")
        }
        guard ok else {
            throw TrainingError.dataModelMismatch("\(model.architecture) outputs \(shape) per image; the \(data.task.rawValue) data set needs \(expected)")
        }
    }

    /// Trains `model` on `data`; evaluates on `validation` after each epoch when given.
    public func train(_ model: Model, on data: ImageDataset, validation: ImageDataset? = nil) throws -> TrainingSummary {
        try recipe.validate()
        guard data.count > 0 else { throw TrainingError.emptyDataSet("training") }
        if let validation, validation.count == 0 { throw TrainingError.emptyDataSet("validation") }
        let o = model.options
        guard data.channels == o.inputChannels, data.height == o.imageSize, data.width == o.imageSize else {
            throw TrainingError.dataModelMismatch(
                "\(model.architecture) expects \(o.inputChannels)×\(o.imageSize)×\(o.imageSize) images; the data set has \(data.channels)×\(data.height)×\(data.width)")
        }
        if let validation, validation.task != data.task {
            throw TrainingError.dataModelMismatch("the validation set is labelled for \(validation.task.rawValue), the training set for \(data.task.rawValue)")
        }
        try Self.checkOutput(model, for: data)
        guard data.classCount <= o.classCount else {
            throw TrainingError.dataModelMismatch("\(model.architecture) has \(o.classCount) outputs; the data set has \(data.classCount) classes")
        }
        let groupParameters = parameterGroup?.parameters ?? []
        var resumed: TrainingState?
        if let statePath, FileManager.default.fileExists(atPath: statePath) {
            resumed = try TrainingState.restore(from: statePath, model: model, extraParameters: extraParameters,
                                                groupParameters: groupParameters, recipe: recipe, imageCount: data.count)
        }
        let optimizer = recipe.makeOptimizer(model.parameters + extraParameters)
        let groupOptimizer = parameterGroup.flatMap { group -> (any Optimizer)? in
            guard !group.parameters.isEmpty else { return nil }
            var own = recipe
            own.learningRate = group.learningRate
            own.weightDecay = group.weightDecay
            return own.makeOptimizer(group.parameters)
        }
        if let resumed {
            try optimizer.restore(resumed.optimizer)
            if let groupOptimizer { try groupOptimizer.restore(resumed.groupOptimizer ?? OptimizerState(steps: 0, tensors: [:])) }
        }
        let stepsPerEpoch = (data.count + recipe.batchSize - 1) / recipe.batchSize
        let totalSteps = stepsPerEpoch * recipe.epochs
        var records = resumed?.progress.records ?? []
        var trainingSeconds = resumed?.progress.trainingSeconds ?? 0
        var globalStep = resumed?.progress.globalStep ?? 0
        var fullStepSeconds = resumed?.progress.fullStepSeconds ?? []
        if let resumed {
            progress.note("resuming after epoch \(resumed.progress.epochsDone) of \(recipe.epochs) from \(statePath ?? "")")
        }
        for epoch in (resumed?.progress.epochsDone ?? 0)..<recipe.epochs {
            let start = Date()
            var lossSum = 0.0, correct = 0.0, seen = 0
            let plan = BatchPlan(count: data.count, batchSize: recipe.batchSize, shuffle: true, seed: recipe.seed, epoch: epoch)
            var lr = recipe.learningRate
            for (step, indices) in plan.enumerated() {
                let stepStart = DispatchTime.now().uptimeNanoseconds
                lr = recipe.lrSchedule.rate(base: recipe.learningRate, step: globalStep, totalSteps: totalSteps, stepsPerEpoch: stepsPerEpoch)
                optimizer.learningRate = lr
                if let groupOptimizer, let group = parameterGroup {
                    groupOptimizer.learningRate = recipe.lrSchedule.rate(base: group.learningRate, step: globalStep, totalSteps: totalSteps,
                                                                         stepsPerEpoch: stepsPerEpoch)
                }
                let mirrored = recipe.horizontalFlip ? HorizontalFlip.mirrored(indices, seed: recipe.seed, epoch: epoch) : []
                let (x, y) = try data.batch(indices[...], mirrored: mirrored)
                let context = ForwardContext(training: true)
                context.position = TrainingPosition(step: globalStep, totalSteps: totalSteps, epoch: epoch, totalEpochs: recipe.epochs,
                                                    sampleIndices: Array(indices), datasetSize: data.count)
                try configureContext?(context)
                let logits = try model.forward(x, context)
                var loss = try TaskLoss.loss(data.task, logits, y, labelSmoothing: recipe.labelSmoothing)
                if let extra = try extraLoss?(context, x, y, logits) { loss = try loss + extra }
                try optimizer.zeroGrad()
                try groupOptimizer?.zeroGrad()
                try loss.backward()
                try optimizer.step()
                try groupOptimizer?.step()
                try afterStep?()
                let value = try loss.item()
                guard value.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, step: step + 1) }
                lossSum += value * Double(indices.count)
                correct += try TaskLoss.correct(data.task, logits, y)
                seen += indices.count
                globalStep += 1
                if indices.count == recipe.batchSize {
                    fullStepSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9)
                }
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(seen) / Swift.max(elapsed, 1e-9)
                let remaining = Double(totalSteps - globalStep) * Double(recipe.batchSize) / Swift.max(rate, 1e-9)
                progress.step(epoch: epoch + 1, epochs: recipe.epochs, step: step + 1, steps: stepsPerEpoch,
                              loss: lossSum / Double(seen), imagesPerSecond: rate, eta: remaining)
            }
            let seconds = Date().timeIntervalSince(start)
            trainingSeconds += seconds
            let validationAccuracy = try validation.map { try Evaluation.evaluate(model, on: $0).accuracy }
            let record = EpochRecord(
                epoch: epoch + 1, trainLoss: lossSum / Double(Swift.max(seen, 1)), trainAccuracy: correct / Double(Swift.max(seen, 1)),
                validationAccuracy: validationAccuracy, learningRate: lr, seconds: seconds, imagesPerSecond: Double(seen) / Swift.max(seconds, 1e-9))
            records.append(record)
            let metric = data.task.primaryMetric == "accuracy" ? "acc" : data.task.primaryMetric
            var line = String(format: "epoch %d/%d  loss %.4f  train acc %.2f%%  %.0f img/s  %.1fs",
                              record.epoch, recipe.epochs, record.trainLoss, 100 * record.trainAccuracy, record.imagesPerSecond, seconds)
            if let v = validationAccuracy { line += String(format: "  val %@ %.2f%%", metric, 100 * v) }
            progress.epochFinished(line)
            if let statePath {
                let done = TrainingState.Progress(epochsDone: epoch + 1, imageCount: data.count, globalStep: globalStep, records: records, trainingSeconds: trainingSeconds,
                                                  fullStepSeconds: fullStepSeconds, optimizerSteps: 0, groupOptimizerSteps: nil)
                try TrainingState.save(to: statePath, model: model, extraParameters: extraParameters, groupParameters: groupParameters,
                                       recipe: recipe, progress: done, optimizer: optimizer, groupOptimizer: groupOptimizer)
            }
        }
        let images = Double(data.count * recipe.epochs)
        return TrainingSummary(epochs: records, trainingSeconds: trainingSeconds, imagesPerSecond: images / Swift.max(trainingSeconds, 1e-9),
                               medianStepSeconds: fullStepSeconds.isEmpty ? nil : Statistics.median(fullStepSeconds))
    }
}
