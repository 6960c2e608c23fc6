import Foundation
import LatheCalibration
import LatheData
import LatheModels
import LathePlugins
import LatheTensor
import LatheTrain

/// How mixed precision measures what a layer loses at a bit width.
public enum MixedSensitivity: String, Codable, Sendable, CaseIterable {
    /// Measured: the increase of the cross-entropy on the calibration batches (training data)
    /// with that layer alone quantized at b bits. Not the accuracy drop on the test set, which
    /// would select on the data it is evaluated on; not the accuracy on the calibration batches,
    /// which moves in steps of 1/n and ties at most widths.
    case loss
    /// HAWQ-v2's Ω = Tr(H)/D · ‖Q_b(W) − W‖², with H the Gram matrix XᵀX/n of the layer's input
    /// (the Hessian of its output's squared error, from the calibration statistics: Tr(H)/D is the
    /// mean of the input's mean squares), in place of the loss Hessian's trace.
    case hessianTrace = "hessian-trace"
}

/// The per-layer bit widths a budget chose, and why.
public struct MixedPrecisionReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var name: String
        public var bits: Int
        public var bytes: Int
        /// Storage bytes (scales included) at each candidate width, in `candidates` order.
        public var sizes: [Int]
        /// The sensitivity at each candidate width, in `candidates` order.
        public var costs: [Double]
    }

    public var sensitivity: MixedSensitivity
    public var candidates: [Int]
    /// The quantized layers' budget and the chosen assignment's size, bytes.
    public var budgetBytes: Int
    public var sizeBytes: Int
    /// Effective bits per quantized weight of the assignment (scales included).
    public var bitsPerWeight: Double
    /// Σ of the chosen widths' sensitivities (what the knapsack minimised).
    public var totalCost: Double
    public var layers: [Layer]
}

/// Mixed precision under a size budget: the per-layer `bits` that minimise the summed
/// sensitivity, by an exact knapsack over the layers (dynamic programming over bytes).
public enum MixedPrecision {
    /// Chooses `bits` for every layer of `quantizers` within the budget of `config`, on `model`
    /// as it will be quantized (batch norm already folded).
    static func assign(_ model: Model, quantizers: [LayerQuantizer], config: QuantConfig, train: ImageDataset,
                       batchSize: Int, seed: UInt64, statistics: [String: InputStatistics] = [:]) throws -> MixedPrecisionReport {
        let candidates = config.mixedBits.sorted()
        var sizes: [[Int]] = [], errors: [[Tensor]] = [], elements: [Int] = []
        for q in quantizers {
            guard let weight = model.layer(named: q.layer)?.ownParameters.first(where: { $0.0 == "weight" })?.1 else {
                throw QuantError("layer '\(q.layer)' has no weight")
            }
            let w = try weight.detached()
            var layerSizes: [Int] = [], layerErrors: [Tensor] = []
            for bits in candidates {
                let params = try rebind(q, bits: bits)
                let (output, qparams) = q.needsStatistics
                    ? try q.method.quantize(weight: w, statistics: statistics[q.layer], params: params, context: CallContext(layer: q.layer, role: .weight, axis: 0))
                    : try q.method.quantize(w, params: params)
                let record = Quantization.record(layer: q.layer, kind: "", elements: w.count, qparams: qparams)
                layerSizes.append(record.bytes)
                layerErrors.append(try output - w)
            }
            sizes.append(layerSizes)
            errors.append(layerErrors)
            elements.append(w.count)
        }
        let budget = try budgetBytes(config, quantizers: quantizers, sizes: sizes, candidates: candidates, elements: elements)
        let plan = CalibrationPlan(batches: config.calibrationBatches, batchSize: batchSize, seed: seed)
        let costs: [[Double]]
        switch config.mixedSensitivity {
        case .hessianTrace:
            let stats = try InputStatisticsCollector.collect(model: model, layers: quantizers.map(\.layer), need: [.meanSquare],
                                                             data: train, plan: plan)
            costs = try quantizers.indices.map { i in
                let trace: Double = try stats[quantizers[i].layer]?.meanSquare?.mean().item() ?? 0
                return try errors[i].map { trace * (try $0.squared().sum().item()) }
            }
        case .loss:
            let batches = try plan.batchIndices(count: train.count).map { try train.batch($0) }
            func loss() throws -> Double {
                try batches.reduce(0) { $0 + (try TaskLoss.loss(train.task, model.predict($1.images), $1.labels).item()) } / Double(batches.count)
            }
            let base = try loss()
            costs = try quantizers.indices.map { i in
                guard let layer = model.layer(named: quantizers[i].layer), let weight = layer.ownParameters.first(where: { $0.0 == "weight" })?.1 else { return [] }
                let original = try weight.detached().clone()
                defer { try? layer.replace("weight", with: original.requiringGrad(weight.requiresGrad)) }
                return try errors[i].map { e in
                    try layer.replace("weight", with: try (original + e).requiringGrad(weight.requiresGrad))
                    return try loss() - base
                }
            }
        }
        guard let choice = knapsack(costs: costs, sizes: sizes, budget: budget) else {
            let smallest = sizes.reduce(0) { $0 + ($1.min() ?? 0) }
            throw QuantError("budget of \(budget) bytes is below the smallest assignment (\(smallest) bytes, every layer at \(candidates.first ?? 0) bits)")
        }
        let layers = quantizers.indices.map { i in
            MixedPrecisionReport.Layer(name: quantizers[i].layer, bits: candidates[choice[i]], bytes: sizes[i][choice[i]],
                                       sizes: sizes[i], costs: costs[i])
        }
        let size = layers.reduce(0) { $0 + $1.bytes }
        return MixedPrecisionReport(
            sensitivity: config.mixedSensitivity, candidates: candidates, budgetBytes: budget, sizeBytes: size,
            bitsPerWeight: 8 * Double(size) / Double(Swift.max(elements.reduce(0, +), 1)),
            totalCost: quantizers.indices.reduce(0) { $0 + costs[$1][choice[$1]] }, layers: layers)
    }

    /// The quantizer of `q` with `bits` in place of its own.
    static func rebind(_ q: LayerQuantizer, bits: Int) throws -> BoundParams {
        var values = q.params.dictionary
        values["bits"] = .int(Int64(bits))
        return try q.method.bind(values)
    }

    /// The budget in bytes of the quantized layers: `budget_bytes`, `budget_bits` effective bits
    /// per weight, or the size of every layer at `budget_uniform_bits`.
    static func budgetBytes(_ config: QuantConfig, quantizers: [LayerQuantizer], sizes: [[Int]], candidates: [Int], elements: [Int]) throws -> Int {
        if let bytes = config.budgetBytes { return bytes }
        if let bits = config.budgetBits { return Int((bits * Double(elements.reduce(0, +)) / 8).rounded(.down)) }
        guard let uniform = config.budgetUniformBits else { throw QuantError("mixed precision needs a budget") }
        guard let index = candidates.firstIndex(of: uniform) else {
            throw QuantError("budget_uniform_bits \(uniform) must be one of mixed_bits \(candidates)")
        }
        return sizes.reduce(0) { $0 + $1[index] }
    }

    /// Exact multiple-choice knapsack: one option per layer, Σ size ≤ `budget`, minimum Σ cost
    /// (ties: the smaller size). Dynamic programming over the bytes used,
    /// after dividing every size and the budget by their greatest common divisor. Returns each
    /// layer's option index, or nil when even the smallest options exceed the budget.
    public static func knapsack(costs: [[Double]], sizes: [[Int]], budget: Int) -> [Int]? {
        let all = sizes.flatMap { $0 }
        guard !all.isEmpty, budget >= 0 else { return costs.isEmpty ? [] : nil }
        let unit = all.reduce(0) { gcd($0, $1) }
        let scaled = sizes.map { $0.map { $0 / Swift.max(unit, 1) } }
        let capacity = Swift.min(budget / Swift.max(unit, 1), scaled.reduce(0) { $0 + ($1.max() ?? 0) })
        // best[c]: the least cost of the layers so far using exactly c units (infinity: impossible).
        var best = [Double](repeating: .infinity, count: capacity + 1)
        best[0] = 0
        var picks: [[Int8]] = []
        for (layer, options) in scaled.enumerated() {
            var next = [Double](repeating: .infinity, count: capacity + 1)
            var pick = [Int8](repeating: -1, count: capacity + 1)
            for used in 0...capacity where best[used].isFinite {
                for (option, size) in options.enumerated() where used + size <= capacity {
                    let cost = best[used] + costs[layer][option]
                    if cost < next[used + size] { (next[used + size], pick[used + size]) = (cost, Int8(option)) }
                }
            }
            best = next
            picks.append(pick)
        }
        guard let end = best.indices.filter({ best[$0].isFinite }).min(by: { (best[$0], $0) < (best[$1], $1) }) else { return nil }
        var choice = [Int](repeating: 0, count: scaled.count)
        var used = end
        for layer in scaled.indices.reversed() {
            let option = Int(picks[layer][used])
            choice[layer] = option
            used -= scaled[layer][option]
        }
        return choice
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? abs(a) : gcd(b, a % b) }
}
