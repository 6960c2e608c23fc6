import LatheModels
import LatheTrain

/// `kind = "activation_stats"`: measures the current model's layer inputs (`ActivationStatistics`:
/// per-channel abs-max and kurtosis of every Linear and Conv2d input over the first `samples`
/// training images) and records them; the model is left as it is. Put it last to measure the
/// final model, or anywhere in the pipeline to measure the model at that point (with the
/// activation transforms a quantize stage set up still in place after the observers).
///
/// Recorded per layer (`layer_stats`): `act_absmax_max`, `act_absmax_median`,
/// `act_outlier_ratio` (max / median; absent when the median is 0), `act_kurtosis_max` (absent
/// when every channel is constant), `act_top{r}_channel` (index of the r-th largest channel,
/// r = 1…top_k) and `act_channel_absmax.{c}` (every channel's abs-max, for the report's plot).
/// Per trial (`metrics`): `act_outlier_ratio_max` and `act_kurtosis_max`, the largest over the layers.
struct ActivationStatsStage: MethodStage {
    let kind = "activation_stats"
    var schema: ConfigSchema { ActivationStatsConfig.schema }

    func validate(_ config: JSONValue, _ check: StageCheck) throws {
        let c = try check.decode(ActivationStatsConfig.self, config, keys: ActivationStatsConfig.schema.names)
        for (key, value) in [(ActivationStatsConfig.CodingKeys.samples, c.samples), (.topK, c.topK)] {
            let allowed = ActivationStatsConfig.key(key)
            guard allowed.allows(value) else {
                throw check.error(key: key.stringValue, "key '\(key.stringValue)' = \(value): expected \(allowed.expected)")
            }
        }
    }

    func run(_ config: JSONValue, on trial: TrialState) throws {
        let config = try config.decoded(ActivationStatsConfig.self)
        let view = trial.view
        let stats = try ActivationStatistics.measure(trial.model, on: trial.train, samples: config.samples, topK: config.topK) {
            try view?.context() ?? ForwardContext(training: false)
        }
        for (layer, values) in Self.layerStats(stats) { trial.layers[layer, default: [:]].merge(values) { $1 } }
        trial.metrics["act_outlier_ratio_max"] = stats.layers.compactMap(\.outlierRatio).max()
        trial.metrics["act_kurtosis_max"] = stats.layers.compactMap(\.maxKurtosis).max()
    }

    /// The `layer_stats` rows of `stats`, by layer.
    static func layerStats(_ stats: ActivationStatistics) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for l in stats.layers {
            var row = ["act_absmax_max": l.maxAbsMax, "act_absmax_median": l.medianAbsMax]
            row["act_outlier_ratio"] = l.outlierRatio
            row["act_kurtosis_max"] = l.maxKurtosis
            for (rank, channel) in l.topChannels.enumerated() { row["act_top\(rank + 1)_channel"] = Double(channel) }
            for (channel, value) in l.absMax.enumerated() { row["act_channel_absmax.\(channel)"] = value }
            out[l.layer] = row
        }
        return out
    }
}

/// The keys of an `activation_stats` stage.
public struct ActivationStatsConfig: Codable, Sendable, Equatable {
    /// Calibration images: the first `samples` of the training set.
    public var samples = 256
    /// Outlier channels recorded per layer.
    public var topK = 4
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable {
        case samples
        case topK = "top_k"
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        samples = try c.decodeIfPresent(Int.self, forKey: .samples) ?? ActivationStatsConfig().samples
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? ActivationStatsConfig().topK
    }

    public static let schema = ConfigSchema(
        title: "Stage `activation_stats`",
        doc: """
            Measures the inputs of every Linear and Conv2d layer of the current model (per input channel: abs-max and Pearson \
            kurtosis; per layer: max and median abs-max, their ratio, the largest kurtosis and the outlier channels) on the first \
            training images, and records them in `layer_stats` (`act_*`) and the trial's metrics (`act_outlier_ratio_max`, \
            `act_kurtosis_max`). The model is not changed; the report plots them.
            """,
        keys: CodingKeys.allCases.map(key))

    static func key(_ key: CodingKeys) -> ConfigSchema.Key {
        switch key {
        case .samples:
            .init(key.stringValue, "integer", default: .value("\(ActivationStatsConfig().samples)"),
                  allowed: .integers(1...ActivationStatistics.maxSamples), example: "512",
                  doc: "Calibration images: the first N of the training set (all of it when it is smaller).")
        case .topK:
            .init(key.stringValue, "integer", default: .value("\(ActivationStatsConfig().topK)"),
                  allowed: .integers(1...ActivationStatistics.maxTopK), example: "8",
                  doc: "Outlier channels (largest abs-max) recorded per layer.")
        }
    }
}
