import Foundation
import LatheCalibration
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// What a factorization did, layer by layer.
public struct FactorizeReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var name: String
        public var kind: String
        /// The chosen rank, and the largest possible (min(out, D)).
        public var rank: Int
        public var fullRank: Int
        /// Weights of the layer before and after (A and B together; biases not counted).
        public var weightsBefore: Int
        public var weightsAfter: Int
        /// False when the chosen rank would not save weights (r·(out + D) ≥ out·D): kept dense.
        public var factorized: Bool
        /// ‖W − A·B‖²_F / ‖W‖²_F.
        public var relativeError: Double
        /// What the factorizer reported (rank, kept_energy, …).
        public var metrics: [String: Double]
    }

    public var config: FactorizeConfig
    public var method: String
    public var pluginSHA256: String?
    public var params: [String: HyperValue]
    public var layers: [Layer]
    public var accuracyBefore: Double
    /// Before any fine-tuning.
    public var accuracyAfter: Double
    public var macsBefore: Int
    public var macsAfter: Int
    public var parametersBefore: Int
    public var parametersAfter: Int
    public var seconds: Double
    /// Each factorized layer timed alone against the dense layer it replaced (`lathe factorize`
    /// measures it unless `--no-latency`; sweeps time whole models in their latency phase).
    public var layerLatency: [LayerLatency]?

    /// A few lines for the terminal.
    public var summary: String {
        var lines = [String(format: "%@: accuracy %.2f%% → %.2f%% (no fine-tuning); MACs %d → %d (%.2fx fewer); parameters %d → %d",
                            method, 100 * accuracyBefore, 100 * accuracyAfter, macsBefore, macsAfter,
                            Double(macsBefore) / Double(Swift.max(macsAfter, 1)), parametersBefore, parametersAfter)]
        for l in layers {
            lines.append(l.factorized
                ? String(format: "  %@: rank %d of %d, weights %d → %d, relative error %.3e", l.name, l.rank, l.fullRank, l.weightsBefore,
                         l.weightsAfter, l.relativeError)
                : "  \(l.name): rank \(l.rank) of \(l.fullRank) saves nothing; kept dense")
        }
        for l in layerLatency ?? [] { lines.append("  latency " + l.summary.replacingOccurrences(of: "\n", with: "\n  latency ")) }
        return lines.joined(separator: "\n")
    }
}

/// Applies a factorizer to a trained model (`FactorizeConfig`).
public enum FactorizeStage {
    /// Factorizes `model` in place and returns its report. Checked before any work: the
    /// configuration, the factorizer (registered, a factorizer, hyperparameters bound) and the
    /// layer names. Input statistics (for factorizers that declare any) are taken once, from the
    /// dense model, before any layer changes.
    public static func run(
        _ config: FactorizeConfig, model: Model, train: ImageDataset, test: ImageDataset, recipe: Recipe, registry: Registry,
        progress: ProgressReporter = ProgressReporter(style: .silent)
    ) throws -> FactorizeReport {
        let (descriptor, _) = try config.validate(against: registry)
        let method = try registry.method(config.method)
        let params = try method.bind(config.params)
        let candidates = model.factorizableLayers
        for (key, names) in [("layers", config.layers), ("exclude", config.exclude)] {
            if let bad = names.first(where: { !candidates.contains($0) }) {
                throw FactorizeError.unknownLayer(key: key, layer: bad, candidates: candidates)
            }
        }
        let targets = (config.layers.isEmpty ? candidates : config.layers).filter { !config.exclude.contains($0) }
        let start = Date()
        let costBefore = try ModelCost.of(model)
        let parametersBefore = model.parameterCount
        let accuracyBefore = try Evaluation.evaluate(model, on: test).accuracy
        let need = StatisticsNeed(descriptor.flags)
        var statistics: [String: InputStatistics] = [:]
        if !need.isEmpty {
            guard train.count > 0 else {
                throw FactorizeError.invalidConfig(key: "calibration_batches", value: "\(config.calibrationBatches)", expected: "training data to calibrate on (the training set is empty)")
            }
            statistics = try InputStatisticsCollector.collect(
                model: model, layers: targets, need: need, data: train, plan: config.calibrationPlan(batchSize: recipe.batchSize, recipeSeed: recipe.seed))
        }
        var entries: [FactorizeReport.Layer] = []
        for name in targets {
            guard let layer = model.layer(named: name), let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else { continue }
            let w = try weight.detached()
            let out = w.shape[0], d = w.count / Swift.max(out, 1)
            let result = try method.factorize(weight: w, statistics: statistics[name], params: params,
                                              context: CallContext(layer: name, role: .weight, axis: 0))
            let product = try result.a.matmul(result.b)
            let flat = try w.reshaped([out, d])
            let difference: Tensor = try flat - product
            let errorSquared: Double = try difference.squared().sum().item()
            let normSquared: Double = try flat.squared().sum().item()
            let saves = result.rank * (out + d) < out * d
            if saves { try model.factorize(name, a: result.a, b: result.b) }
            entries.append(FactorizeReport.Layer(
                name: name, kind: layer is Conv2d ? "conv2d" : "linear", rank: result.rank, fullRank: Swift.min(out, d),
                weightsBefore: out * d, weightsAfter: saves ? result.rank * (out + d) : out * d, factorized: saves,
                relativeError: normSquared > 0 ? errorSquared / normSquared : 0,
                metrics: Dictionary(result.metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })))
            progress.note(saves ? "\(name): rank \(result.rank) of \(Swift.min(out, d))" : "\(name): rank \(result.rank) saves nothing; kept dense")
        }
        let costAfter = try ModelCost.of(model)
        return FactorizeReport(
            config: config, method: config.method, pluginSHA256: registry.manifests[method.plugin]?.sha256, params: params.dictionary,
            layers: entries, accuracyBefore: accuracyBefore, accuracyAfter: try Evaluation.evaluate(model, on: test).accuracy,
            macsBefore: costBefore.macs, macsAfter: costAfter.macs, parametersBefore: parametersBefore, parametersAfter: model.parameterCount,
            seconds: Date().timeIntervalSince(start))
    }
}
