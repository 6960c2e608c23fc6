import LatheData
import LatheModels
import LatheQuant
import LatheSolve
import LatheTensor
import LatheTrain

/// `kind = "solve"`: `SolveStage` (a layer solver such as GPTQ, layer by layer, post-training).
struct SolveStageKind: MethodStage {
    let kind = "solve"
    var schema: ConfigSchema { SolveConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(SolveConfig.self, config, keys: SolveConfig.schema.names)
        _ = try c.validate(against: check.registry)
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(SolveConfig.self)
        trial.note(plugin: config.method)
        let timer = StageTimer()
        let (solved, report) = try SolveStage.run(config, model: trial.model, train: trial.train, test: trial.test, recipe: trial.recipe,
                                                  registry: trial.registry, progress: trial.progress)
        let quant = report.layers.compactMap(\.quant)
        trial.replace(solved, view: quant.isEmpty ? nil : SolvedView(model: solved, layers: quant))
        trial.compressSeconds += timer.methodSeconds(excludingTraining: 0)
        if let bits = report.bitsPerWeight { trial.metrics["bits_per_weight"] = bits }
        if let sparsity = report.sparsity { trial.metrics["sparsity_masked"] = sparsity }
        for l in report.layers {
            var values: [String: Double] = l.metrics.mapValues { $0 }
            if let q = l.quant { values.merge(["bits": Double(q.bits), "bytes": Double(q.bytes), "bits_per_weight": q.effectiveBits]) { $1 } }
            if let s = l.sparsity { values["sparsity"] = s }
            if let e = l.relativeOutputError { values["relative_output_error"] = e }
            trial.layers[l.name, default: [:]].merge(values) { $1 }
        }
    }
}

/// A model whose weights a quantizing solver put on integer grids: evaluated as it is, stored
/// at the grids' widths.
struct SolvedView: FinalModelView {
    let model: Model
    let layers: [LayerQuant]

    func context() throws -> ForwardContext { ForwardContext(training: false) }
    func metrics(on data: ImageDataset) throws -> TaskMetrics { try Evaluation.metrics(model, on: data) }
    var quantizedLayers: [LayerQuant] { layers }
    func checkpointExtras() throws -> [String: Tensor] { [:] }
}
