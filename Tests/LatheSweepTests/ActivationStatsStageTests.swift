import Foundation
import LatheModels
import LatheResults
import LatheTestSupport
import LathePlugins
@testable import LatheSweep
import LatheTrain
import Testing

/// The `activation_stats` stage: spec checks, what a trial records, and the round trip of
/// those records through the results database.
@Suite("activation_stats stage", .serialized)
struct ActivationStatsStageTests {
    static func spec(_ stage: String) -> String {
        """
        name = "t"
        model = "mlp"
        seeds = [0]

        [[groups]]
        name = "stats"
        stages = [\(stage)]
        """
    }

    static func parse(_ text: String) throws -> SweepSpec {
        try SweepSpec.parse(text, file: "spec.toml", registry: try Registry(directory: SourceTree.root.appendingPathComponent("registry").path))
    }

    @Test func badValuesNameTheLineKeyAndRange() throws {
        for (stage, message) in [
            (#"{ kind = "activation_stats", samples = 0 }"#, "spec.toml:7: [group 'stats' stage 1 (activation_stats)]: key 'samples' = 0: expected an integer in 1...2147483647"),
            (#"{ kind = "activation_stats", top_k = 2000 }"#, "spec.toml:7: [group 'stats' stage 1 (activation_stats)]: key 'top_k' = 2000: expected an integer in 1...1024"),
        ] {
            #expect(throws: SweepError(message)) { _ = try Self.parse(Self.spec(stage)) }
        }
        #expect(throws: (any Error).self) { _ = try Self.parse(Self.spec(#"{ kind = "activation_stats", samples = 1.5 }"#)) }
        #expect(throws: (any Error).self) { _ = try Self.parse(Self.spec(#"{ kind = "activation_stats", topk = 3 }"#)) }
        let ok = try Self.parse(Self.spec(#"{ kind = "activation_stats", samples = 64, top_k = 2 }"#))
        #expect(ok.groups.first?.stages.first?["kind"] == .string("activation_stats"))
    }

    /// A trial of the mlp baseline with the stage records every Linear's statistics; they come
    /// back unchanged from the results database.
    @Test func trialRecordsLayerStatsThatRoundTripThroughTheDatabase() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-actstats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = TrialPlan(group: "stats", label: "stats", stages: [
            try TrialStorageTests.stage("activation_stats", #"{"samples": 64, "top_k": 3}"#),
        ], seed: 1)
        let outcome = try TrialRunner.run(TrialStorageTests.job(plan, cache: dir), progress: ProgressReporter(style: .silent))
        let linears = try Zoo.make("mlp", options: ModelOptions()).layers.compactMap { $0 as? Linear }
        #expect(Set(linears.map(\.name)).isSubset(of: outcome.layerStats.keys))
        for l in linears {
            let row = try #require(outcome.layerStats[l.name])
            let channels = (0..<l.inFeatures).compactMap { row["act_channel_absmax.\($0)"] }
            #expect(channels.count == l.inFeatures)
            #expect(row["act_absmax_max"] == channels.max())
            #expect(row["act_top1_channel"].map { channels[Int($0)] } == channels.max())
            #expect(row["act_top3_channel"] != nil && row["act_top4_channel"] == nil)
        }
        let ratios = linears.compactMap { outcome.layerStats[$0.name]?["act_outlier_ratio"] }
        #expect(outcome.metrics["act_outlier_ratio_max"] == ratios.max())

        let store = try ResultsStore(path: dir.appendingPathComponent("r.db").path)
        let id = try store.createSweep(name: "s", specPath: "s.toml", specText: "", latheVersion: "0", host: "h", workers: 1, threads: 1,
                                       trials: [.init(key: "k", group: "stats", method: "stats", configJSON: "{}", seed: 1)])
        let trial = try #require(try store.trials(sweep: id).first)
        try store.markRunning(trial.id)
        try store.finish(trial.id, outcome: outcome, seconds: 1)
        var back: [String: [String: Double]] = [:]
        for r in try store.db.query("SELECT layer, name, value FROM layer_stats WHERE trial_id = ?", [.integer(trial.id)]) {
            if let layer = r["layer"]?.string, let name = r["name"]?.string, let value = r["value"]?.double { back[layer, default: [:]][name] = value }
        }
        #expect(back == outcome.layerStats)
        #expect(try store.metrics(trial: trial.id)["act_kurtosis_max"] == outcome.metrics["act_kurtosis_max"])
    }
}
