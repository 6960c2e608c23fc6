import Foundation
import LatheCalibration
import LatheData
import LatheIO
import LatheModels
import LathePlugins
import LatheQuant
import LatheTensor
import LatheTrain

/// What a solve did, layer by layer, and what it cost in accuracy.
public struct SolveReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var name: String
        public var kind: String
        public var elements: Int
        /// Quantizing solvers: the grid, as the quantization ledger records it.
        public var quant: LayerQuant?
        /// Pruning solvers: the fraction of the weight the mask removed.
        public var sparsity: Double?
        /// ‖(W − W′)X‖² / ‖WX‖² over the calibration rows (from the Gram matrix); nil without one.
        public var relativeOutputError: Double?
        /// What the solver reported (host->report_metric), e.g. `damping`.
        public var metrics: [String: Double]
        /// Wall time of the layer: the statistics pass, then the solver call (with the host's checks).
        public var seconds: Double
        public var statisticsSeconds: Double
        public var solverSeconds: Double
    }

    public var config: SolveConfig
    public var method: String
    public var pluginSHA256: String?
    public var params: [String: HyperValue]
    /// Calibration rows per layer (input vectors or unfolded positions), by layer.
    public var calibrationRows: [String: Int]
    public var denseAccuracy: Double
    public var accuracy: Double
    public var accuracyDeltaPoints: Double
    public var layers: [Layer]
    /// Storage bits per solved weight, scales included (quantizing solvers).
    public var bitsPerWeight: Double?
    /// Fraction of the solved layers' weights that are pruned (pruning solvers).
    public var sparsity: Double?
    public var seconds: Double

    /// A few lines for the terminal.
    public var summary: String {
        var lines = [String(format: "%@: accuracy %.2f%% → %.2f%% (%+.2f pt), %d layer(s) in %.1f s", method, 100 * denseAccuracy,
                            100 * accuracy, accuracyDeltaPoints, layers.count, seconds)]
        if let bitsPerWeight { lines.append(String(format: "%.3f bits per solved weight (scales included)", bitsPerWeight)) }
        if let sparsity { lines.append(String(format: "%.1f%% of the solved weights pruned", 100 * sparsity)) }
        for l in layers {
            let error = l.relativeOutputError.map { String(format: "  output error %.2e", $0) } ?? ""
            let metrics = l.metrics.keys.sorted().map { String(format: "%@ %.3g", $0, l.metrics[$0] ?? 0) }.joined(separator: ", ")
            lines.append("  \(l.name)\(error)\(metrics.isEmpty ? "" : "  (\(metrics))")")
        }
        return lines.joined(separator: "\n")
    }
}

/// Applies a layer solver to a trained model, one layer at a time in network order.
public enum SolveStage {
    /// Solves `model` in place following `config`, and returns it with its report. `inspect`, when
    /// given, sees each layer's weight and input statistics just before its solver does.
    ///
    /// Checked before any work: the configuration, the solver (registered, a solver, its
    /// hyperparameters bound), `exclude`, and every layer's Gram matrix against the limit.
    /// Each layer's input statistics are taken in evaluation mode through the layers already
    /// solved; W′ replaces the layer's weight once the host has checked it (`PluginMethod.solve`).
    public static func run(
        _ config: SolveConfig, model: Model, train: ImageDataset, test: ImageDataset, recipe: Recipe, registry: Registry,
        progress: ProgressReporter = ProgressReporter(style: .silent),
        inspect: ((_ layer: String, _ weight: Tensor, _ statistics: InputStatistics?) throws -> Void)? = nil
    ) throws -> (model: Model, report: SolveReport) {
        let (descriptor, _) = try config.validate(against: registry)
        let method = try registry.method(config.method)
        let params = try method.bind(config.params)
        let candidates = model.layers.filter { $0 is Conv2d || $0 is Linear }.map(\.name)
        for name in config.exclude where !candidates.contains(name) {
            throw SolveError.unknownLayer(key: "exclude", layer: name, candidates: candidates)
        }
        let layers = candidates.filter { !config.exclude.contains($0) }
        let plan = config.calibrationPlan(batchSize: recipe.batchSize, recipeSeed: recipe.seed)
        var need = StatisticsNeed(descriptor.flags)
        need.insert(.gram)  // the ledger's output error; within the same limit
        let layouts = try InputStatisticsCollector.check(layers, need: need, model: model, plan: plan)
        guard train.count > 0 else { throw SolveError.invalidConfig(key: "calibration_batches", value: "\(config.calibrationBatches)", expected: "training data to calibrate on (the training set is empty)") }

        let start = Date()
        let denseAccuracy = try Evaluation.evaluate(model, on: test).accuracy
        progress.note(String(format: "dense %@: accuracy %.2f%%; solving %d layer(s) with %@", model.architecture, 100 * denseAccuracy,
                             layers.count, config.method))
        var entries: [SolveReport.Layer] = []
        var rows: [String: Int] = [:]
        // The calibration batches' inputs to each top-level block, cached: a layer's statistics
        // then need only its own block run again (not the network up to it), and the next
        // block's inputs are this block's outputs once all its layers are solved.
        var inputs = try plan.batchIndices(count: train.count).map { try train.batch($0).images }
        for block in model.root.layers {
            let inside = Set(block.allLayers.map(\.name))
            for name in layers where inside.contains(name) {
                guard let layer = model.layer(named: name), let layout = layouts[name],
                      let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else { continue }
                let layerStart = Date()
                let stats = try InputStatisticsCollector.collect(layouts: [name: layout], need: need, batches: inputs.count) { index, context in
                    _ = try block.forward(inputs[index], context)
                }[name]
                try inspect?(name, try weight.detached(), stats)
                let solverStart = Date()
                let context = CallContext(layer: name, role: .weight, axis: 0)
                let result = try method.solve(weight: try weight.detached(), statistics: stats, params: params, context: context)
                let solverSeconds = Date().timeIntervalSince(solverStart)
                let original = try weight.detached().clone()
                try withNoGrad { try layer.replace("weight", with: try result.weight.requiringGrad(weight.requiresGrad)) }
                rows[name] = stats?.rows
                let kind = layer is Conv2d ? "conv2d" : "linear"
                let sparsity = try result.mask.map { 1 - (try $0.sum().item()) / Double(Swift.max($0.count, 1)) }
                entries.append(SolveReport.Layer(
                    name: name, kind: kind, elements: weight.count,
                    quant: result.qparams.map { Quantization.record(layer: name, kind: kind, elements: weight.count, qparams: $0) },
                    sparsity: sparsity, relativeOutputError: try stats?.gram.map { try outputError(original, result.weight, gram: $0) },
                    metrics: Dictionary(result.metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }),
                    seconds: Date().timeIntervalSince(layerStart), statisticsSeconds: solverStart.timeIntervalSince(layerStart),
                    solverSeconds: solverSeconds))
                progress.note(String(format: "%@: solved in %.2f s%@", name, Date().timeIntervalSince(layerStart),
                                     entries.last?.relativeOutputError.map { String(format: ", relative output error %.2e", $0) } ?? ""))
            }
            if block !== model.root.layers.last {
                inputs = try withNoGrad { try inputs.map { try block.forward($0, ForwardContext(training: false)) } }
            }
        }
        let accuracy = try Evaluation.evaluate(model, on: test).accuracy
        let quant = entries.compactMap(\.quant)
        let pruned = entries.compactMap { e in e.sparsity.map { ($0, e.elements) } }
        let totalPruned = pruned.reduce(0) { $0 + $1.1 }
        let report = SolveReport(
            config: config, method: config.method, pluginSHA256: registry.manifests[method.plugin]?.sha256, params: params.dictionary, calibrationRows: rows,
            denseAccuracy: denseAccuracy, accuracy: accuracy, accuracyDeltaPoints: 100 * (accuracy - denseAccuracy), layers: entries,
            bitsPerWeight: Quantization.bitsPerWeight(quant),
            sparsity: totalPruned > 0 ? pruned.reduce(0) { $0 + $1.0 * Double($1.1) } / Double(totalPruned) : nil,
            seconds: Date().timeIntervalSince(start))
        return (model, report)
    }

    /// ‖(W − W′)X‖² / ‖WX‖² from the Gram matrix H = XᵀX/n of each group: Σ tr(E H Eᵀ) / Σ tr(W H Wᵀ).
    public static func outputError(_ w: Tensor, _ solved: Tensor, gram: Tensor) throws -> Double {
        let groups = gram.shape[0], d = gram.shape[1], out = w.shape[0]
        let h = try gram.converted(to: .float64)
        let a = try w.converted(to: .float64).reshaped([groups, out / groups, d])
        let e = try a - solved.converted(to: .float64).reshaped([groups, out / groups, d])
        let num = try (e.matmul(h) * e).sum().item(), den = try (a.matmul(h) * a).sum().item()
        return den > 0 ? num / den : 0
    }
}
