import Foundation

extension ReportModel {
    /// The activation statistics of one configuration over its seeds (the `act_*` rows of
    /// `layer_stats` that an `activation_stats` stage records).
    public struct ActivationTable: Codable, Sendable, Equatable {
        public struct Row: Codable, Sendable, Equatable {
            public var layer: String
            /// `ReportMetric.activationSummaries` by name, over the seeds.
            public var stats: [String: Statistic]
            /// Each input channel's abs-max, mean over the seeds that recorded that channel.
            public var channelAbsMax: [Double]
            /// The channels with the largest mean abs-max, largest first (as many as the trials recorded).
            public var topChannels: [Int]

            /// The mean outlier ratio, if any trial recorded one.
            public var outlierRatio: Double? { stats[ReportMetric.activationOutlierRatio]?.mean }
        }
        public var group: String
        public var method: String
        public var rows: [Row]

        /// The row with the largest mean outlier ratio (the first of equals).
        public var mostOutlying: Row? {
            rows.filter { $0.outlierRatio != nil }.max { ($0.outlierRatio ?? 0) < ($1.outlierRatio ?? 0) }
        }
    }

    /// One table per configuration from `values` (layer → stat → (trial, value)) in `layers` order.
    static func activationTable(group: String, method: String, layers: [String],
                                values: [String: [String: [(Int64, Double)]]]) -> ActivationTable {
        let rows = layers.compactMap { layer -> ActivationTable.Row? in
            guard let byName = values[layer] else { return nil }
            var stats: [String: Statistic] = [:]
            for name in ReportMetric.activationSummaries {
                if let pairs = byName[name] { stats[name] = Statistic(values: pairs.map(\.1), trialIDs: pairs.map(\.0)) }
            }
            var channels: [Int: [Double]] = [:]
            var topK = 0
            for (name, pairs) in byName {
                if let c = ReportMetric.activationChannel(name) { channels[c, default: []] += pairs.map(\.1) }
                if name.hasPrefix(ReportMetric.activationTopPrefix), name.hasSuffix("_channel") { topK += 1 }
            }
            let count = (channels.keys.max() ?? -1) + 1
            let absMax = (0..<count).map { c in channels[c].map { $0.reduce(0, +) / Double($0.count) } ?? 0 }
            let top = absMax.indices.sorted { (absMax[$0], $1) > (absMax[$1], $0) }.prefix(topK)
            return ActivationTable.Row(layer: layer, stats: stats, channelAbsMax: absMax, topChannels: Array(top))
        }
        return ActivationTable(group: group, method: method, rows: rows)
    }
}

extension ReportMetric {
    /// Layer stats of the `activation_stats` stage: all start with this.
    public static let activationPrefix = "act_"
    /// Per layer: the largest and the median input-channel abs-max, their ratio, the largest
    /// channel kurtosis (Pearson; 3 for a normal distribution).
    public static let activationAbsMaxMax = "act_absmax_max"
    public static let activationAbsMaxMedian = "act_absmax_median"
    public static let activationOutlierRatio = "act_outlier_ratio"
    public static let activationKurtosisMax = "act_kurtosis_max"
    /// The per-layer summaries, in table order.
    public static let activationSummaries = [activationAbsMaxMax, activationAbsMaxMedian, activationOutlierRatio, activationKurtosisMax]
    /// `act_top{r}_channel`: the r-th largest channel of a trial.
    public static let activationTopPrefix = "act_top"
    /// `act_channel_absmax.{c}`: channel c's abs-max.
    public static let activationChannelPrefix = "act_channel_absmax."

    /// The most channels a layer's plot reads (a row naming a larger channel is ignored).
    public static let activationMaxChannels = 1 << 20

    /// The channel of an `act_channel_absmax.{c}` name, else nil.
    public static func activationChannel(_ name: String) -> Int? {
        guard name.hasPrefix(activationChannelPrefix) else { return nil }
        return Int(name.dropFirst(activationChannelPrefix.count)).flatMap { (0..<activationMaxChannels).contains($0) ? $0 : nil }
    }
}
