import Foundation
import LatheData
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor
import LatheTrain

/// One kind of stage of a sweep trial's pipeline (quantize, prune, finetune, distill, activation_stats): its spec
/// keys, how a stage table is checked before any trial runs, and how it runs on a trial. Adding
/// a kind is one type conforming to this (in `Stages/`) plus one line in `StageKinds.all`; the
/// spec parser, the grid, the trial runner and the spec reference take everything from here.
public protocol MethodStage: Sendable {
    /// The `kind` value of the stage in a spec, e.g. `quantize`.
    var kind: String { get }
    /// The stage's keys besides `kind`, with defaults, ranges and docs.
    var schema: ConfigSchema { get }
    /// Tables nested in the stage's keys, for the spec reference (e.g. a distill stage's teacher).
    var nestedSchemas: [ConfigSchema] { get }
    /// Decodes and checks a stage table (without `kind`) against the registry; errors name the
    /// spec line of the key at fault.
    func validate(_ config: JSONValue, _ check: StageCheck) throws
    /// Runs the stage on the trial, updating its model and measurements.
    func run(_ config: JSONValue, on trial: TrialState) throws
}

extension MethodStage {
    public var nestedSchemas: [ConfigSchema] { [] }
}

/// The registered stage kinds.
public enum StageKinds {
    /// Every kind, in the order the spec reference lists them.
    public static let all: [any MethodStage] = [
        QuantizeStage(), PruneStage(), SolveStageKind(), ScaleStageKind(), FactorizeStageKind(), FinetuneStage(), DistillStage(), ActivationStatsStage(),
    ]

    /// The kind named `name`, or nil.
    public static func named(_ name: String) -> (any MethodStage)? { all.first { $0.kind == name } }

    /// The kinds' names.
    public static var names: [String] { all.map(\.kind) }

    /// "quantize, prune, finetune, distill or activation_stats".
    public static var list: String {
        names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }
}

/// What checking a stage table needs: where it is in the spec, and the registry.
public struct StageCheck {
    /// e.g. "group 'ptq' stage 1 (quantize)".
    public let section: String
    public let group: String
    public let registry: Registry
    let locate: Locator

    /// Decodes `value` as `T`, refusing keys outside `keys`, with the spec line: the stage's own
    /// table (its keys plus `kind`), or a table nested in it (`nested` names it, e.g. "recipe").
    public func decode<T: Decodable>(_ type: T.Type, _ value: JSONValue, keys: [String], nested: String? = nil) throws -> T {
        guard let nested else { return try SweepSpec.decode(type, value, section: section, keys: ["kind"] + keys, locate: locate) }
        return try SweepSpec.decode(type, value, section: "\(section) \(nested)", keys: keys, locate: locate)
    }

    /// An error at `key` of this stage's group, naming the section.
    public func error(key: String, _ message: String) -> SweepError {
        locate.error(inGroup: group, key: key, "[\(section)]: \(message)")
    }
}

/// A trial in progress: the data, the recipe and the registry the stages use, the model each
/// stage hands to the next, and what they measured.
public final class TrialState {
    public let job: TrialJob
    public let train: ImageDataset
    public let test: ImageDataset
    /// The baseline's recipe with the trial's seed.
    public let recipe: Recipe
    public let registry: Registry
    public let progress: ProgressReporter

    /// The current model.
    public private(set) var model: Model
    /// How the current model is evaluated and stored when a stage made it something other than
    /// a plain model (quantized weights and activations); nil otherwise.
    public private(set) var view: (any FinalModelView)?
    public var metrics: [String: Double] = [:]
    /// Per-layer measurements, by layer name.
    public var layers: [String: [String: Double]] = [:]
    public var provenance: [String: String] = [:]
    /// Training time of the trial (baseline when trained now, fine-tuning, QAT, students).
    public var trainingSeconds = 0.0
    /// The compression stages' own time (see `StageTimer`).
    public var compressSeconds = 0.0

    init(job: TrialJob, train: ImageDataset, test: ImageDataset, recipe: Recipe, registry: Registry, progress: ProgressReporter, model: Model) {
        self.job = job
        self.train = train
        self.test = test
        self.recipe = recipe
        self.registry = registry
        self.progress = progress
        self.model = model
    }

    /// Hands the trial a new model: a plain one (`view` nil) or one with its own evaluation.
    public func replace(_ model: Model, view: (any FinalModelView)? = nil) {
        self.model = model
        self.view = view
    }

    /// Records the plugin behind `qualified` (`plugin/method`) in the provenance: its pinned
    /// sha256, version and ABI.
    public func note(plugin qualified: String) {
        guard let name = qualified.split(separator: "/").first.map(String.init), let m = registry.manifests[name] else { return }
        provenance["plugin.\(name).sha256"] = m.sha256 ?? "unpinned"
        provenance["plugin.\(name).version"] = m.plugin.version
        provenance["plugin.\(name).abi"] = "\(m.plugin.abiMajor).\(m.plugin.abiMinor)"
    }
}

/// A trial's final model when a stage changed how it runs (e.g. activation quantization).
public protocol FinalModelView {
    /// The evaluation context the model runs with.
    func context() throws -> ForwardContext
    /// Every score on `data` with that context (the task's primary metric and the rest:
    /// mAP@.5 and @.75 of a detector, pixel accuracy of a segmenter).
    func metrics(on data: ImageDataset) throws -> TaskMetrics
    /// Quantized weight widths for the size ledger (empty: fp32).
    var quantizedLayers: [LayerQuant] { get }
    /// Tensors saved beside the model in its checkpoint (`extra/`).
    func checkpointExtras() throws -> [String: Tensor]
    /// String metadata saved in the checkpoint's header (e.g. the quantization record).
    func checkpointMetadata() throws -> [String: String]
}

extension FinalModelView {
    /// No metadata beyond the checkpoint's own.
    public func checkpointMetadata() throws -> [String: String] { [:] }
}
