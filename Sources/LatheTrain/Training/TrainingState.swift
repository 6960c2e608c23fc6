import Foundation
import LatheData
import LatheModels
import LatheTensor

/// The state of a training run after a whole epoch, so that an interrupted run (a killed job, a
/// preempted Slurm task) continues where it stopped and ends with the weights an uninterrupted
/// run would have: the model's tensors, the tensors trained beside it, both optimizers' states,
/// and the loop's progress. Batches, the schedule and the model have no other randomness
/// (the batch order is a function of the seed and the epoch), so nothing else is needed.
///
/// Stored as one `.safetensors` file (written to a temporary file, then renamed): `model/NAME`,
/// `extra/INDEX`, `group/INDEX`, `optimizer/KEY`, `group-optimizer/KEY`, with the recipe and the
/// progress as JSON in the header. A hook's own state (a stateful loss's memory, a quantizer's
/// plugin state) is not in it: the stages whose hooks keep state do not offer resume.
struct TrainingState {
    /// The loop's position and what it has recorded so far.
    struct Progress: Codable, Equatable {
        var epochsDone: Int
        /// Training images per epoch (a resumed run must see the same data).
        var imageCount: Int
        var globalStep: Int
        var records: [EpochRecord]
        var trainingSeconds: Double
        var fullStepSeconds: [Double]
        var optimizerSteps: Int
        var groupOptimizerSteps: Int?
    }

    var progress: Progress
    var optimizer: OptimizerState
    var groupOptimizer: OptimizerState?

    private static let formatKey = "lathe.training_state"
    private static let recipeKey = "lathe.recipe"
    private static let architectureKey = "lathe.architecture"
    private static let progressKey = "lathe.progress"

    private static func recipeText(_ recipe: Recipe) throws -> String {
        try Checkpoint.metadataJSON(recipe)
    }

    /// Writes the state after an epoch to `path`, atomically.
    static func save(to path: String, model: Model, extraParameters: [Tensor], groupParameters: [Tensor], recipe: Recipe,
                     progress: Progress, optimizer: any Optimizer, groupOptimizer: (any Optimizer)?) throws {
        var stored: [(String, Tensor)] = model.state.map { ("model/\($0.0)", $0.1) }
        stored += extraParameters.enumerated().map { ("extra/\($0.offset)", $0.element) }
        stored += groupParameters.enumerated().map { ("group/\($0.offset)", $0.element) }
        let optimizerState = try optimizer.state()
        stored += optimizerState.tensors.map { ("optimizer/\($0.key)", $0.value) }
        var counts = progress
        counts.optimizerSteps = optimizerState.steps
        if let groupOptimizer {
            let state = try groupOptimizer.state()
            counts.groupOptimizerSteps = state.steps
            stored += state.tensors.map { ("group-optimizer/\($0.key)", $0.value) }
        }
        var entries: [String: SafeTensors.Entry] = [:]
        for (name, tensor) in stored {
            guard let dtype = SafeTensors.DType(rawValue: Checkpoint.safetensorsCode(tensor.dtype)) else {
                throw TrainingError.badCheckpoint(path: path, reason: "tensor \(name) has type \(tensor.dtype), which safetensors cannot store")
            }
            entries[name] = SafeTensors.Entry(dtype: dtype, shape: tensor.shape, bytes: try tensor.detached().contiguous().bytes())
        }
        let metadata = [
            formatKey: "1", recipeKey: try recipeText(recipe), architectureKey: model.architecture,
            progressKey: try Checkpoint.metadataJSON(counts),
        ]
        try SafeTensors(tensors: entries, metadata: metadata).write(path: path)
    }

    /// Reads the state at `path` into `model` (its tensors replaced), `extraParameters` and
    /// `groupParameters` (their values copied, so they keep their identity), and returns the
    /// progress and the optimizers' states. The recipe and architecture must be the run's; an
    /// error names the file and what differs (the run then stops: the model may be half loaded).
    static func restore(from path: String, model: Model, extraParameters: [Tensor], groupParameters: [Tensor], recipe: Recipe,
                        imageCount: Int) throws -> TrainingState {
        func bad(_ reason: String) -> TrainingError { .badCheckpoint(path: path, reason: reason) }
        let file = try SafeTensors.read(path: path)
        guard file.metadata[formatKey] == "1", let progressText = file.metadata[progressKey] else {
            throw bad("not a Lathe training state: header metadata lacks '\(formatKey)' = \"1\" and '\(progressKey)'")
        }
        guard file.metadata[architectureKey] == model.architecture else {
            throw bad("it is the state of a '\(file.metadata[architectureKey] ?? "?")' run; this run trains '\(model.architecture)'")
        }
        let recipeNow = try recipeText(recipe)
        guard file.metadata[recipeKey] == recipeNow else {
            throw bad("its recipe differs from this run's (resume with the same recipe options): saved \(file.metadata[recipeKey] ?? "none"), now \(recipeNow)")
        }
        let progress: Progress
        do {
            progress = try JSONDecoder().decode(Progress.self, from: Data(progressText.utf8))
        } catch {
            throw bad("metadata '\(progressKey)' is not valid progress: \(progressText)")
        }
        guard (1...recipe.epochs).contains(progress.epochsDone), progress.records.count == progress.epochsDone, progress.globalStep >= 0 else {
            throw bad("progress of \(progress.epochsDone) epochs (\(progress.records.count) records) does not fit a recipe of \(recipe.epochs) epochs")
        }
        guard progress.imageCount == imageCount else {
            throw bad("it is the state of a run on \(progress.imageCount) training images; this run has \(imageCount)")
        }
        var groups: [String: [String: Tensor]] = [:]
        for (name, entry) in file.tensors {
            guard let slash = name.firstIndex(of: "/"), let dtype = DType.fromSafetensors(entry.dtype.rawValue) else {
                throw bad("tensor '\(name)': expected <model|extra|group|optimizer|group-optimizer>/NAME of a supported type")
            }
            let group = String(name[..<slash]), key = String(name[name.index(after: slash)...])
            groups[group, default: [:]][key] = try Tensor(bytes: entry.bytes, shape: entry.shape, dtype: dtype)
        }
        if let unknown = groups.keys.sorted().first(where: { !["model", "extra", "group", "optimizer", "group-optimizer"].contains($0) }) {
            throw bad("unknown tensor group '\(unknown)/'")
        }
        func values(_ group: String, for targets: [Tensor]) throws -> [Tensor] {
            let stored = groups[group] ?? [:]
            guard stored.count == targets.count else { throw bad("\(stored.count) '\(group)/' tensors; this run trains \(targets.count)") }
            return try targets.indices.map { i in
                guard let value = stored["\(i)"], value.shape == targets[i].shape, value.dtype == targets[i].dtype else {
                    throw bad("'\(group)/\(i)' is missing or not \(targets[i].dtype) \(targets[i].shape)")
                }
                return value
            }
        }
        let extras = try values("extra", for: extraParameters), groupValues = try values("group", for: groupParameters)
        do {
            try model.load(groups["model"] ?? [:])
        } catch let error as ModelError {
            throw bad(error.description)
        }
        try withNoGrad {
            for (target, value) in zip(extraParameters + groupParameters, extras + groupValues) { try target.copy_(value) }
        }
        let group = groups["group-optimizer"].map { OptimizerState(steps: progress.groupOptimizerSteps ?? 0, tensors: $0) }
        return TrainingState(progress: progress, optimizer: OptimizerState(steps: progress.optimizerSteps, tensors: groups["optimizer"] ?? [:]),
                             groupOptimizer: group)
    }
}
