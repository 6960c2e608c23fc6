import Foundation
import Testing
@testable import LatheReport

@Suite("paired statistics")
struct PairedStatisticsTests {
    /// Baselines 0.90 / 0.91 / 0.92 for seeds 1–3, the trial 0.89 / 0.89 / 0.91: differences
    /// −1, −2, −1 points, mean −4/3, sd √(1/3), so sd/√3 = 1/3 and the paired-t interval is
    /// −4/3 ± t(0.975, 2)/3 with t = 4.302653. Seed 4 has no baseline: not counted, but named.
    @Test func pairedTIntervalOfAHandComputedExample() throws {
        let baselines: [Int64: (id: Int64, value: Double)] = [1: (101, 0.90), 2: (102, 0.91), 3: (103, 0.92)]
        let trials: [(id: Int64, seed: Int64, value: Double)] = [(11, 1, 0.89), (12, 2, 0.89), (13, 3, 0.91), (14, 4, 0.50)]
        let p = try #require(PairedStatistic(metric: "accuracy", kind: .differencePoints, trials: trials, baselines: baselines))
        #expect(p.n == 3)
        #expect(p.seeds == [1, 2, 3] && p.baselineTrialIDs == [101, 102, 103] && p.statistic.trialIDs == [11, 12, 13])
        #expect(p.unpairedTrialIDs == [14])
        #expect(abs(p.statistic.mean - (-4.0 / 3)) < 1e-9)
        #expect(abs(try #require(p.statistic.std) - (1.0 / 3).squareRoot()) < 1e-9)
        #expect(abs(p.statistic.lower - (-2.767551)) < 1e-6)
        #expect(abs(p.statistic.upper - 0.100884) < 1e-6)
        #expect(p.bootstrapLower == nil && p.bootstrapUpper == nil)
        #expect(ReportFormat.paired(p) == "-1.33 [-2.77, +0.10] (n=3, 1 without baseline)")
    }

    @Test func ratiosAndTheBootstrapFromFivePairs() throws {
        let baselines = Dictionary(uniqueKeysWithValues: (1...5).map { (Int64($0), (id: Int64(100 + $0), value: 2.0)) })
        let ratios = [0.5, 0.4, 0.6, 0.45, 0.55]
        let trials = ratios.enumerated().map { (id: Int64($0.offset + 1), seed: Int64($0.offset + 1), value: 2 * $0.element) }
        let p = try #require(PairedStatistic(metric: "size_bytes", kind: .ratio, trials: trials, baselines: baselines))
        // Ratios are analysed as logs: the estimate is the geometric mean, the interval
        // exp(mean log ± t(0.975, 4)·s/√5), always positive.
        let logs = ratios.map { Foundation.log($0) }
        let meanLog = logs.reduce(0, +) / 5
        let sd = (logs.map { ($0 - meanLog) * ($0 - meanLog) }.reduce(0, +) / 4).squareRoot()
        #expect(p.n == 5 && abs(p.estimate - Foundation.exp(meanLog)) < 1e-12 && p.unpairedTrialIDs.isEmpty)
        #expect(abs(p.lower - Foundation.exp(meanLog - 2.776445 * sd / Foundation.sqrt(5))) < 1e-6)
        #expect(abs(p.upper - Foundation.exp(meanLog + 2.776445 * sd / Foundation.sqrt(5))) < 1e-6)
        let lo = try #require(p.bootstrapLower), hi = try #require(p.bootstrapUpper)
        // Inside the range of the ratios, around the estimate, narrower than the t interval here.
        #expect(lo >= 0.4 && lo < p.estimate && hi > p.estimate && hi <= 0.6)
        #expect(hi - lo < p.upper - p.lower)
        // Seeded: the same numbers every time.
        let again = PairedStatistic.bootstrapInterval(logs)
        #expect(Foundation.exp(again.lower) == lo && Foundation.exp(again.upper) == hi)
        // A widely spread ratio keeps a positive interval (an arithmetic one went below 0).
        let spread = [(id: Int64(1), seed: Int64(1), value: 0.2), (id: 2, seed: 2, value: 3.6)]
        let wide = try #require(PairedStatistic(metric: "latency_b1_ms", kind: .ratio, trials: spread, baselines: baselines))
        #expect(wide.lower > 0 && wide.upper > wide.estimate)
        // All pairs equal: a zero-width bootstrap interval.
        let flat = PairedStatistic.bootstrapInterval([0.3, 0.3, 0.3, 0.3, 0.3])
        #expect(flat.lower == 0.3 && flat.upper == 0.3)
    }

    @Test func noBaselineForAnySeedGivesNoComparison() {
        #expect(PairedStatistic(metric: "accuracy", kind: .differencePoints, trials: [(1, 7, 0.9)], baselines: [:]) == nil)
    }

    /// In a loaded report: every compressed configuration pairs with the baseline trial of its
    /// own seed; the baseline has none but its control speedups; the outputs carry it.
    @Test func reportPairsEachTrialWithItsSeedsBaseline() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let base = try #require(model.aggregate(group: "baseline", method: "dense fp32"))
        #expect(Set(base.paired.keys) == Set(ReportMetric.speedups))
        #expect(base.paired["speedup_b1"]?.baselineTrialIDs == base.trialIDs)
        let int8 = try #require(model.aggregate(group: "quant", method: "uniform int8")?.paired["accuracy"])
        #expect(int8.n == 3 && int8.baselineTrialIDs == base.trialIDs)
        // 0.90 − 0.912, 0.91 − 0.9075, 0.92 − 0.915 in points.
        #expect(abs(int8.statistic.mean - (-1.2 + 0.25 + 0.5) / 3) < 1e-9)
        let size = try #require(model.aggregate(group: "quant", method: "uniform int8")?.paired["size_bytes"])
        #expect(abs(size.estimate - 62_114 / Fixture.fp32Size) < 1e-12)
        let lowbit = try #require(model.aggregate(group: "quant", method: "lowbit int2")?.paired["accuracy"])
        #expect(lowbit.n == 1 && lowbit.seeds == [2] && lowbit.statistic.ciHalfWidth == nil)

        #expect(MarkdownReport.render(model).contains("Paired Δ accuracy (pts, 95% CI)"))
        #expect(HTMLReport.render(model).contains(ReportFormat.paired(int8)))
        let (header, rows) = CSV.records(CSVReport.aggregates(model))
        #expect(header.contains("paired_accuracy_difference_points_t_lower"))
        let row = try #require(rows.first { $0["method"] == "uniform int8" })
        #expect(Double(row["paired_accuracy_difference_points_t_lower"] ?? "") == int8.statistic.lower)
        #expect(row["paired_accuracy_difference_points_n"] == "3")
        let json = String(decoding: try JSONReport.render(model), as: UTF8.self)
        #expect(json.contains("\"baselineTrialIDs\""))
    }
}
