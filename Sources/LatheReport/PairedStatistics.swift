import Foundation

/// A compressed configuration compared with the baseline trial of the same seed, over the seeds
/// where both are done: per seed a difference (accuracy, in points) or a ratio (size, latency),
/// then the mean with a paired-t 95% interval and, from 5 pairs on, a percentile bootstrap one.
///
/// Pairing removes the seed-to-seed spread the configuration shares with its baseline, so this
/// is the report's primary figure; the absolute means stay beside it.
public struct PairedStatistic: Codable, Sendable, Equatable {
    /// How the per-seed value is formed from the trial's and the baseline's metric.
    public enum Kind: String, Codable, Sendable {
        /// 100 · (trial − baseline): accuracy points.
        case differencePoints = "difference_points"
        /// trial / baseline, analysed on the log scale: the estimate is the geometric mean and
        /// its interval exp(mean log ± t·s/√n), so it never leaves (0, ∞) as an arithmetic
        /// interval of ratios can.
        case ratio
    }

    /// The fewest pairs for which the bootstrap interval is computed.
    public static let bootstrapMinimumPairs = 5
    /// Bootstrap resamples.
    public static let bootstrapResamples = 2000
    /// Seed of the bootstrap's generator (the same resamples every run).
    public static let bootstrapSeed: UInt64 = 0x5EED_1A7E

    public var kind: Kind
    /// The metric compared.
    public var metric: String
    /// Per-seed values on the analysis scale (points; natural-log ratios for `.ratio`), their
    /// summary and paired-t interval (`trialIDs` are the compressed trials). Read the figures on
    /// the metric's own scale from `estimate`, `lower` and `upper`.
    public var statistic: Statistic
    /// The seeds paired, in the order of `statistic.values`.
    public var seeds: [Int64]
    /// The baseline trial of each seed, in the same order.
    public var baselineTrialIDs: [Int64]
    /// Done trials of the configuration with this metric whose seed has no done baseline with it.
    public var unpairedTrialIDs: [Int64]
    /// 2.5 % and 97.5 % percentiles of the bootstrap means, on the metric's scale (for ratios,
    /// of the log means, back-transformed); `nil` below `bootstrapMinimumPairs`.
    public var bootstrapLower: Double?
    public var bootstrapUpper: Double?

    /// Number of pairs.
    public var n: Int { statistic.n }

    /// The mean difference, or the geometric mean ratio.
    public var estimate: Double { scale(statistic.mean) }
    /// Lower end of the paired-t 95% interval on the metric's scale (the estimate when n < 2).
    public var lower: Double { scale(statistic.lower) }
    /// Upper end of the paired-t 95% interval on the metric's scale (the estimate when n < 2).
    public var upper: Double { scale(statistic.upper) }

    /// From the analysis scale to the metric's.
    private func scale(_ v: Double) -> Double { kind == .ratio ? exp(v) : v }

    /// Pairs each `(id, seed, value)` of `trials` with the baseline value of its seed; `nil` when
    /// no trial has a baseline (or, for a ratio, no pair has both values positive).
    public init?(metric: String, kind: Kind, trials: [(id: Int64, seed: Int64, value: Double)],
                 baselines: [Int64: (id: Int64, value: Double)]) {
        var values: [Double] = [], ids: [Int64] = [], seeds: [Int64] = [], baseIDs: [Int64] = [], unpaired: [Int64] = []
        for t in trials {
            guard let b = baselines[t.seed], kind == .differencePoints || (b.value > 0 && t.value > 0) else {
                unpaired.append(t.id)
                continue
            }
            values.append(kind == .ratio ? log(t.value / b.value) : 100 * (t.value - b.value))
            ids.append(t.id)
            seeds.append(t.seed)
            baseIDs.append(b.id)
        }
        guard let statistic = Statistic(values: values, trialIDs: ids) else { return nil }
        self.kind = kind
        self.metric = metric
        self.statistic = statistic
        self.seeds = seeds
        self.baselineTrialIDs = baseIDs
        self.unpairedTrialIDs = unpaired
        if values.count >= Self.bootstrapMinimumPairs {
            let b = Self.bootstrapInterval(values)
            bootstrapLower = kind == .ratio ? exp(b.lower) : b.lower
            bootstrapUpper = kind == .ratio ? exp(b.upper) : b.upper
        }
    }

    /// A ratio already formed per trial against the same seed's baseline (the latency phase's
    /// speedups), summarized over seeds like a `.ratio`: on the log scale, so the estimate is the
    /// geometric mean and its interval exp(mean log ± t·s/√n). `baselineIDs` gives each seed's
    /// baseline trial (a baseline's own speedup is its control, paired with itself); trials
    /// whose seed is missing from it pair with themselves.
    public static func recordedRatios(metric: String, trials: [(id: Int64, seed: Int64, value: Double)],
                                      baselineIDs: [Int64: Int64]) -> PairedStatistic? {
        var unit: [Int64: (id: Int64, value: Double)] = [:]
        for t in trials { unit[t.seed] = (baselineIDs[t.seed] ?? t.id, 1) }
        return PairedStatistic(metric: metric, kind: .ratio, trials: trials, baselines: unit)
    }

    /// The percentile bootstrap 95% interval of the mean of `values` (`bootstrapResamples`
    /// resamples with replacement from a SplitMix64 generator seeded with `bootstrapSeed`).
    public static func bootstrapInterval(_ values: [Double]) -> (lower: Double, upper: Double) {
        var rng = SplitMix64(seed: bootstrapSeed)
        let n = UInt64(values.count)
        var means: [Double] = []
        means.reserveCapacity(bootstrapResamples)
        for _ in 0..<bootstrapResamples {
            var sum = 0.0
            for _ in 0..<values.count { sum += values[Int(rng.next() % n)] }
            means.append(sum / Double(values.count))
        }
        means.sort()
        return (percentile(means, 0.025), percentile(means, 0.975))
    }

    /// The `p` quantile of sorted `xs` by linear interpolation between order statistics.
    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let h = Double(xs.count - 1) * p
        let i = Int(h.rounded(.down)), j = Swift.min(i + 1, xs.count - 1)
        return xs[i] + (h - Double(i)) * (xs[j] - xs[i])
    }
}

/// SplitMix64 (Steele et al.): a small deterministic generator, identical on every CPU.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
