import Foundation
import LatheCalibration
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheSolve
import LatheTensor
import LatheTrain

/// What a channel scaling did, layer by layer.
public struct ScaleReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var name: String
        /// Where 1/s went (`ScaleTarget.description`).
        public var target: String
        public var folded: Bool
        /// The searched hyperparameter's chosen value; nil without a search.
        public var chosen: Double?
        /// With a search: ‖(W − Q(W·s)/s)X‖² / ‖WX‖² at the chosen value, and the same without
        /// scaling (‖(W − Q(W))X‖² / ‖WX‖²), over the calibration rows.
        public var quantizedError: Double?
        public var unscaledQuantizedError: Double?
        public var minScale: Double
        public var maxScale: Double
        public var seconds: Double
    }

    public var config: ScaleConfig
    public var method: String
    public var pluginSHA256: String?
    public var params: [String: HyperValue]
    public var layers: [Layer]
    /// Test accuracy before and after scaling, in fp32 (equal up to float rounding).
    public var accuracyBefore: Double
    public var accuracyAfter: Double
    /// Largest |logit change| / largest |logit| on the first test batch: the folding's exactness.
    public var relativeLogitChange: Double
    public var seconds: Double

    /// A few lines for the terminal.
    public var summary: String {
        let folded = layers.filter(\.folded).count
        var lines = [String(format: "%@: %d layer(s) scaled (%d folded, %d explicit) in %.1f s; fp32 accuracy %.2f%% → %.2f%%, relative logit change %.1e",
                            method, layers.count, folded, layers.count - folded, seconds, 100 * accuracyBefore, 100 * accuracyAfter, relativeLogitChange)]
        for l in layers {
            var line = "  \(l.name): \(l.target)"
            if let chosen = l.chosen { line += String(format: "; %@ = %.3g", config.search ?? "", chosen) }
            if let e = l.quantizedError, let u = l.unscaledQuantizedError { line += String(format: "; quantized output error %.2e (unscaled %.2e)", e, u) }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// Applies a channel scaler to every conv and linear layer of a model (`ScaleConfig`).
public enum ScaleStage {
    /// Scales `model` in place following `config` and returns its report.
    ///
    /// Checked before any work: the configuration, the scaler and the search's quantizer
    /// (registered, of their kinds, hyperparameters bound), `exclude`, and every Gram matrix
    /// against the limit. Statistics are taken in evaluation mode over the calibration batches;
    /// because every scaling leaves the fp32 function unchanged, each layer's statistics are
    /// those of the unscaled model's input to it.
    public static func run(
        _ config: ScaleConfig, model: Model, train: ImageDataset, test: ImageDataset, recipe: Recipe, registry: Registry,
        progress: ProgressReporter = ProgressReporter(style: .silent)
    ) throws -> ScaleReport {
        let resolved = try config.validate(against: registry)
        let method = try registry.method(config.method)
        let quantizer = try config.quantizer.map { try registry.method($0) }
        let quantizerParams = try quantizer.map { try $0.bind(config.quantizerParams) }
        let candidates = ChannelScaling.candidates(model)
        for name in config.exclude where !candidates.contains(name) {
            throw ScaleError.unknownLayer(key: "exclude", layer: name, candidates: candidates)
        }
        let layers = candidates.filter { !config.exclude.contains($0) }
        let plan = config.calibrationPlan(batchSize: recipe.batchSize, recipeSeed: recipe.seed)
        var need = StatisticsNeed(resolved.scaler.flags)
        if let quantizer {
            need.insert(.gram)
            need.formUnion(StatisticsNeed(quantizer.descriptor.flags))
        }
        _ = try InputStatisticsCollector.check(layers, need: need, model: model, plan: plan)
        guard train.count > 0 else {
            throw ScaleError.invalidConfig(key: "calibration_batches", value: "\(config.calibrationBatches)", expected: "training data to calibrate on (the training set is empty)")
        }

        let start = Date()
        let probe = try test.batch(Array(0..<Swift.min(256, test.count))[...]).images
        let logitsBefore = try model.predict(probe)
        let accuracyBefore = try Evaluation.evaluate(model, on: test).accuracy
        let statistics = try InputStatisticsCollector.collect(model: model, layers: layers, need: need, data: train, plan: plan)
        var entries: [ScaleReport.Layer] = []
        for name in layers {
            guard let layer = model.layer(named: name), let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else { continue }
            let layerStart = Date()
            let stats = statistics[name]
            let w = try weight.detached().clone()
            let context = CallContext(layer: name, role: .weight, axis: 0)
            var scales: Tensor
            var chosen: Double?, error: Double?, unscaled: Double?
            if let quantizer, let quantizerParams, let search = config.search, let gram = stats?.gram {
                // A quantizer that reads the input statistics sees those of the scaled input X/s.
                let quantize = { (x: Tensor, s: Tensor?) throws -> Tensor in
                    let seen = try s.map { try stats?.dividing(channelsBy: $0) } ?? stats
                    return try quantizer.quantize(weight: x, statistics: seen, params: quantizerParams, context: context).0
                }
                unscaled = try SolveStage.outputError(w, try quantize(w, nil), gram: gram)
                var best: (value: Double, error: Double, scales: Tensor)?
                for value in config.grid {
                    let params = try method.bind(config.params.merging([search: .double(value)]) { $1 })
                    let s = try method.scales(weight: w, statistics: stats, params: params, context: context).scales
                    let scaled = try ChannelScaling.columnScaled(w, s)
                    let restored = try ChannelScaling.columnScaled(try quantize(scaled, s), try s.reciprocal())
                    let e = try SolveStage.outputError(w, restored, gram: gram)
                    if best == nil || e < best!.error { best = (value, e, s) }
                }
                guard let best else { throw ScaleError.invalidConfig(key: "search_values", value: "[]", expected: "at least one value") }
                (scales, chosen, error) = (best.scales, best.value, best.error)
            } else {
                scales = try method.scales(weight: w, statistics: stats, params: resolved.params, context: context).scales
            }
            let values = try scales.scalars(as: Float.self)
            let target = try ChannelScaling.apply(scales, to: name, in: model)
            entries.append(ScaleReport.Layer(
                name: name, target: target.description, folded: target.isFolded, chosen: chosen, quantizedError: error,
                unscaledQuantizedError: unscaled, minScale: Double(values.min() ?? 1), maxScale: Double(values.max() ?? 1),
                seconds: Date().timeIntervalSince(layerStart)))
            progress.note("\(name): \(target)\(chosen.map { String(format: ", %@ = %.3g", config.search ?? "", $0) } ?? "")")
        }
        let logitsAfter = try model.predict(probe)
        let difference: Tensor = try logitsAfter - logitsBefore
        let largest: Double = try logitsBefore.abs().max().item()
        let change: Double = try difference.abs().max().item() / Swift.max(largest, 1e-30)
        return ScaleReport(
            config: config, method: config.method, pluginSHA256: registry.manifests[method.plugin]?.sha256,
            params: resolved.params.dictionary, layers: entries, accuracyBefore: accuracyBefore,
            accuracyAfter: try Evaluation.evaluate(model, on: test).accuracy, relativeLogitChange: change,
            seconds: Date().timeIntervalSince(start))
    }
}
