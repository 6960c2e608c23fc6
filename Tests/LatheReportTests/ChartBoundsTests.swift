import Foundation
import LatheResults
import Testing
@testable import LatheReport

@Suite("chart bounds")
struct ChartBoundsTests {
    /// Two seeds (t = 12.7) of methods whose seeds disagree wildly: the 95% intervals span far
    /// beyond 0…100 % accuracy and below 0 ms latency. A long method name too.
    static func twoSeedModel() throws -> (ReportModel, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lathe-chart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("results.db").path
        let store = try ResultsStore(path: path)
        let configs: [(group: String, method: String, acc: [Double], ms: [Double], bytes: Double)] = [
            ("baseline", "dense fp32", [0.98, 0.99], [0.20, 0.21], 246_824),
            ("quant", "uniform int8", [0.97, 0.985], [0.15, 0.16], 62_114),
            ("quant", "lowbit int2 with a very long descriptive method name", [0.30, 0.95], [0.05, 0.90], 15_900),
            ("prune", "magnitude 90%", [0.10, 0.97], [0.02, 0.60], 123_412),
        ]
        var records: [ResultsStore.TrialRecord] = []
        for seed: Int64 in [1, 2] {
            for c in configs {
                records.append(.init(key: "\(c.group)/\(c.method)/\(seed)", group: c.group, method: c.method, configJSON: "{}", seed: seed))
            }
        }
        let id = try store.createSweep(name: "two-seeds", specPath: "two.toml", specText: "", latheVersion: "0", host: "h",
                                       workers: 1, threads: 1, trials: records)
        for trial in try store.trials(sweep: id) {
            try store.markRunning(trial.id)
            guard let c = configs.first(where: { $0.method == trial.record.method }) else { continue }
            let k = Int(trial.record.seed - 1)
            try store.finish(trial.id, outcome: .init(metrics: ["accuracy": c.acc[k], "latency_b1_ms": c.ms[k], "size_bytes": c.bytes],
                                                      layerStats: [:], provenance: [:]), seconds: 1)
        }
        return (try ReportModel.load(databasePath: path, sweep: "two-seeds"), directory)
    }

    /// The numbers of the `<text class="…">` elements of class `cls` (tick labels).
    static func ticks(_ svg: String, _ cls: String) throws -> [Double] {
        let regex = try NSRegularExpression(pattern: "<text class=\"\(cls)\"[^>]*>([^<]*)</text>")
        return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).compactMap { m in
            Range(m.range(at: 1), in: svg).flatMap { Double(svg[$0]) }
        }
    }

    @Test func axesStayInsidePhysicalBoundsAndHugeIntervalsAreClipped() throws {
        let (model, directory) = try Self.twoSeedModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The premise: intervals far outside the physical range.
        let acc = try #require(model.aggregate(group: "prune", method: "magnitude 90%")?["accuracy"])
        #expect(acc.lower < -1 && acc.upper > 2)
        let ms = try #require(model.aggregate(group: "quant", method: "lowbit int2 with a very long descriptive method name")?["latency_b1_ms"])
        #expect(ms.lower < -1)

        for front in [model.paretoLatency, model.paretoSize] {
            let svg = ReportCharts.chart(model, front: front, id: "c").render()
            let y = try Self.ticks(svg, "y-tick")
            #expect(y.count >= 2)
            #expect(y.allSatisfy { $0 >= 0 && $0 <= 100 }, "y ticks \(y)")
            #expect(svg.contains("class=\"clipped\""))
            #expect(svg.contains("<title>lowbit int2 with a very long descriptive method name</title>"))
            #expect(svg.contains("</title>lowbit int2 w…"))
            if front.costMetric == ReportMetric.latencyB1 {
                let x = try Self.ticks(svg, "x-tick")
                #expect(x.count >= 2 && x.allSatisfy { $0 >= 0 }, "x ticks \(x)")
            }
        }
    }

    @Test func boundedLinearAxisEndsAtTheBound() {
        let axis = Axis.linear(min: 97, max: 100, bounds: 0...100)
        #expect(axis.upper == 100 && axis.ticks.allSatisfy { $0 <= 100 })
        let free = Axis.linear(min: 97, max: 100)
        #expect(free.upper > 100)
    }

    @Test func domainCutsIntervalsToTheMeansReach() {
        let d = ScatterChart.domain([50, 60], intervals: [-300...400], bounds: 0...100, log: false)
        #expect(d.min() == 40 && d.max() == 70)
    }
}
