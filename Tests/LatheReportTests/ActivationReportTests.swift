import Foundation
import LatheResults
import Testing
@testable import LatheReport

/// The `act_*` layer stats of `activation_stats` stages: their own table (not the generic
/// per-layer one), the per-channel abs-max plot of the most outlying layer and the Markdown table.
@Suite("activation statistics in the report")
struct ActivationReportTests {
    /// Two seeds of one configuration with activation stats, and one with only `bits`.
    static func database(_ directory: URL) throws -> String {
        let path = directory.appendingPathComponent("results.db").path
        let store = try ResultsStore(path: path)
        let records = [1, 2].flatMap { (seed: Int64) in
            [ResultsStore.TrialRecord(key: "stats/\(seed)", group: "stats", method: "fp32 stats", configJSON: "{}", seed: seed),
             ResultsStore.TrialRecord(key: "quant/\(seed)", group: "quant", method: "int8", configJSON: "{}", seed: seed)]
        }
        let id = try store.createSweep(name: "s", specPath: "s.toml", specText: "", latheVersion: "0", host: "h", workers: 1, threads: 1, trials: records)
        // fc1's channels: [1, 2, 10] and [1, 4, 6] (mean [1, 3, 8]); conv1: one channel.
        let fc1: [Int64: [Double]] = [1: [1, 2, 10], 2: [1, 4, 6]]
        for t in try store.trials(sweep: id) {
            try store.markRunning(t.id)
            let seed = t.record.seed
            var layers: [String: [String: Double]] = [:]
            if t.record.group == "stats" {
                let channels = fc1[seed] ?? []
                var row = ["act_absmax_max": channels.max() ?? 0, "act_absmax_median": channels[1], "act_outlier_ratio": (channels.max() ?? 0) / channels[1],
                           "act_kurtosis_max": 2 + Double(seed), "act_top1_channel": 2, "act_top2_channel": 1]
                for (c, v) in channels.enumerated() { row["act_channel_absmax.\(c)"] = v }
                layers["conv1"] = ["act_absmax_max": 2.5, "act_absmax_median": 2.5, "act_outlier_ratio": 1, "act_kurtosis_max": seed == 1 ? 4 : 4.000000000000001,
                                   "act_top1_channel": 0, "act_channel_absmax.0": 2.5]
                layers["fc1"] = row
            } else {
                layers["fc1"] = ["bits": 8]
            }
            try store.finish(t.id, outcome: .init(metrics: ["accuracy": 0.9], layerStats: layers), seconds: 1)
        }
        return path
    }

    @Test func activationTablesAveragePerChannelAndStayOutOfTheLayerTables() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-actreport-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ReportModel.load(databasePath: try Self.database(dir), sweep: "s")

        #expect(model.layerTables.map(\.method) == ["int8"])
        #expect(model.layerTables.first?.statNames == ["bits"])
        #expect(model.activationTables.map(\.method) == ["fp32 stats"])
        let table = try #require(model.activationTables.first)
        #expect(table.rows.map(\.layer) == ["conv1", "fc1"])
        let fc1 = try #require(table.rows.last)
        #expect(fc1.channelAbsMax == [1, 3, 8])
        #expect(fc1.topChannels == [2, 1])
        #expect(fc1.stats["act_absmax_max"]?.mean == 8)
        #expect(fc1.stats["act_outlier_ratio"]?.values == [5, 1.5])
        #expect(fc1.stats["act_kurtosis_max"]?.trialIDs.count == 2)
        #expect(table.mostOutlying?.layer == "fc1")

        let html = HTMLReport.render(model)
        #expect(html.contains("Activation outliers (layer inputs)"))
        let channels = try #require(html.range(of: "id=\"chart-act-0-channels\""))
        let rest = html[channels.lowerBound...]
        let svg = String(rest[..<(rest.range(of: "</svg>")?.lowerBound ?? rest.endIndex)])
        #expect(svg.components(separatedBy: "class=\"bar\"").count - 1 == 3)
        #expect(svg.components(separatedBy: "fill=\"#d62728\"").count - 1 == 2)
        #expect(html.contains("id=\"chart-act-0-act_outlier_ratio\""))
        #expect(html.contains("id=\"chart-act-0-act_kurtosis_max\""))

        let md = MarkdownReport.render(model)
        #expect(md.contains("| layer | Max \\|x\\| | Median \\|x\\| | Outlier ratio | Max kurtosis | top channels | trials |"))
        #expect(md.contains("| fc1 | 8 ± "))
        // Equal over the seeds but for float64 rounding: no interval.
        #expect(md.contains("| conv1 | 2.5 | 2.5 | 1 | 4 | 0 |"), "\(md)")
        #expect(md.contains("| 2, 1 |"))
        #expect(!md.contains("act_channel_absmax"))
    }
}
