import Foundation
import LatheResults
import Testing
@testable import LatheReport

@Suite("statistics")
struct StatisticsTests {
    @Test func ciOfKnownNumbers() throws {
        let s = try #require(Statistic(values: [0.90, 0.91, 0.92], trialIDs: [1, 2, 3]))
        #expect(s.n == 3)
        #expect(abs(s.mean - 0.91) < 1e-15)
        #expect(abs(try #require(s.std) - 0.01) < 1e-15)
        #expect(abs(try #require(s.ciHalfWidth) - 4.302653 * 0.01 / 3.0.squareRoot()) < 1e-15)
        #expect(s.min == 0.90 && s.max == 0.92)
        #expect(s.trialIDs == [1, 2, 3])
    }

    @Test func singleValueHasNoCI() throws {
        let s = try #require(Statistic(values: [0.8], trialIDs: [7]))
        #expect(s.n == 1 && s.mean == 0.8 && s.std == nil && s.ciHalfWidth == nil)
        #expect(s.lower == 0.8 && s.upper == 0.8)
        #expect(ReportFormat.statistic(s, metric: "accuracy") == "80.00 (n=1)")
        #expect(Statistic(values: [], trialIDs: []) == nil)
    }

    @Test func studentTQuantiles() {
        #expect(StudentT.quantile975(degreesOfFreedom: 1) == 12.706205)
        #expect(StudentT.quantile975(degreesOfFreedom: 2) == 4.302653)
        #expect(StudentT.quantile975(degreesOfFreedom: 9) == 2.262157)
        #expect(StudentT.quantile975(degreesOfFreedom: 30) == 2.042272)
        // Beyond the table: published values 2.021 (40), 2.000 (60), 1.980 (120), 1.962 (1000).
        for (nu, t) in [(40, 2.021), (60, 2.000), (120, 1.980), (1000, 1.962)] {
            #expect(abs(StudentT.quantile975(degreesOfFreedom: nu) - t) < 6e-4, "nu = \(nu)")
        }
        // Monotone across the table's end.
        #expect(StudentT.quantile975(degreesOfFreedom: 31) < 2.042 && StudentT.quantile975(degreesOfFreedom: 31) > 2.035)
    }

    @Test func paretoFrontOfAHandMadeExample() {
        // (cost, quality): A(1, .5) B(2, .7) C(3, .6) D(4, .9) E(2.5, .7) F(4, .9) G(5, .85)
        let cost = [1, 2, 3, 4, 2.5, 4, 5]
        let quality = [0.5, 0.7, 0.6, 0.9, 0.7, 0.9, 0.85]
        // C dominated by B; E by B (same quality, more cost); G by D; D and F identical: both on it.
        #expect(Pareto.front(cost: cost, quality: quality) == [0, 1, 3, 5])
        #expect(Pareto.front(cost: [], quality: []) == [])
        #expect(Pareto.front(cost: [3, 1], quality: [0.1, .nan]) == [0])
    }

    @Test func formatting() {
        #expect(ReportFormat.percent(0.91234) == "91.23")
        #expect(ReportFormat.signed(-0.004) == "0.00")
        #expect(ReportFormat.signed(1.234) == "+1.23")
        #expect(ReportFormat.signed(-1.5) == "-1.50")
        #expect(ReportFormat.bytes(62_114) == "60.7 KiB")
        #expect(ReportFormat.bytes(512) == "512 B")
        #expect(ReportFormat.milliseconds(0.1563) == "0.156")
        #expect(ReportFormat.milliseconds(12.34) == "12.3")
        #expect(ReportFormat.count(61_706) == "61,706")
        #expect(ReportFormat.plain(6.5) == "6.5" && ReportFormat.plain(8) == "8")
    }
}

@Suite("report model from a real database")
struct ReportModelTests {
    @Test func aggregatesEqualIndependentSQL() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let rows = try fx.db.query("""
            SELECT t.grp AS grp, t.method AS method, m.name AS name, COUNT(*) AS n, AVG(m.value) AS mean,
                   (SUM(m.value * m.value) - SUM(m.value) * SUM(m.value) / COUNT(*)) / (COUNT(*) - 1) AS var,
                   MIN(m.value) AS lo, MAX(m.value) AS hi, GROUP_CONCAT(t.id) AS ids
            FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id
            WHERE s.name = ? AND t.status = 'done' GROUP BY t.grp, t.method, m.name
            """, [.text(Fixture.sweepName)])
        #expect(rows.count > 50)
        for r in rows {
            let group = try #require(r["grp"]?.string), method = try #require(r["method"]?.string), name = try #require(r["name"]?.string)
            let a = try #require(model.aggregate(group: group, method: method), "\(group)/\(method)")
            let s = try #require(a[name], "\(method) \(name)")
            let n = Int(try #require(r["n"]?.int))
            #expect(s.n == n)
            let mean = try #require(r["mean"]?.double)
            #expect(abs(s.mean - mean) <= 1e-12 * max(1, abs(mean)), "\(method) \(name): \(s.mean) vs \(mean)")
            #expect(s.min == r["lo"]?.double && s.max == r["hi"]?.double)
            let ids = (r["ids"]?.string ?? "").split(separator: ",").compactMap { Int64($0) }.sorted()
            #expect(s.trialIDs.sorted() == ids)
            if n >= 2, let variance = r["var"]?.double {
                let std = max(variance, 0).squareRoot()
                #expect(abs((s.std ?? -1) - std) <= 1e-6 * max(1, std), "\(method) \(name) std")
                let half = StudentT.quantile975(degreesOfFreedom: n - 1) * std / Double(n).squareRoot()
                #expect(abs((s.ciHalfWidth ?? -1) - half) <= 1e-6 * max(1, half), "\(method) \(name) ci")
            } else {
                #expect(s.ciHalfWidth == nil && s.std == nil)
            }
        }
        // Every configuration with a done trial is aggregated, baselines first, with its trial ids.
        let configs = try fx.db.query("SELECT grp, method, GROUP_CONCAT(id) AS ids FROM trials WHERE status = 'done' GROUP BY grp, method")
        #expect(model.aggregates.count == configs.count)
        #expect(model.aggregates.first?.group == "baseline")
        for c in configs {
            let a = try #require(model.aggregate(group: c["grp"]?.string ?? "", method: c["method"]?.string ?? ""))
            #expect(a.trialIDs == (c["ids"]?.string ?? "").split(separator: ",").compactMap { Int64($0) }.sorted())
        }
    }

    @Test func knownAccuracyCIAndSingleSeed() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let int8 = try #require(model.aggregate(group: "quant", method: "uniform int8")?["accuracy"])
        #expect(abs(int8.mean - 0.91) < 1e-12)
        #expect(abs(try #require(int8.ciHalfWidth) - 4.302653 * 0.01 / 3.0.squareRoot()) < 1e-9)
        let lowbit = try #require(model.aggregate(group: "quant", method: "lowbit int2"))
        #expect(lowbit.n == 1 && lowbit["accuracy"]?.ciHalfWidth == nil && lowbit.seeds == [2])
    }

    @Test func paretoFrontsOverMethodMeans() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let size = model.paretoSize.front.map { model.paretoSize.points[$0].method }
        #expect(size == ["lowbit int2", "uniform int4", "uniform int8", "dense fp32"])
        let latency = model.paretoLatency.front.map { model.paretoLatency.points[$0].method }
        #expect(latency == ["magnitude 50%", "uniform int8", "dense fp32"])
        #expect(model.paretoSize.points.count == 5)
        #expect(model.paretoSize.points.filter(\.onFront).count == 4)
        // Points are the aggregates' means.
        for p in model.paretoLatency.points {
            let a = try #require(model.aggregate(group: p.group, method: p.method))
            #expect(p.cost == a["latency_b1_ms"]?.mean && p.quality == a["accuracy"]?.mean)
        }
    }

    @Test func layerTablesAreMeanPerLayerOverSeeds() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        #expect(model.layerTables.map(\.method) == ["uniform int8", "uniform int4"])
        for table in model.layerTables {
            #expect(table.statNames.first == "sensitivity_drop" && table.hasSensitivity)
            #expect(table.rows.map(\.layer) == Fixture.layers)
            for row in table.rows {
                let sql = try fx.db.query("""
                    SELECT AVG(l.value) AS mean, COUNT(*) AS n FROM layer_stats l JOIN trials t ON t.id = l.trial_id
                    WHERE t.method = ? AND l.layer = ? AND l.name = 'sensitivity_drop' AND t.status = 'done'
                    """, [.text(table.method), .text(row.layer)]).first
                let drop = try #require(row.stats["sensitivity_drop"])
                #expect(drop.n == 3 && Int64(drop.n) == sql?["n"]?.int)
                #expect(abs(drop.mean - (sql?["mean"]?.double ?? .nan)) < 1e-12)
            }
        }
    }

    @Test func failuresProvenanceAndStatus() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        #expect(model.trials.count == 14)
        #expect(model.statusCounts == ["done": 13, "failed": 1])
        let failure = try #require(model.failures.first)
        #expect(model.failures.count == 1 && failure.method == "lowbit int2" && failure.seed == 1 && failure.error == Fixture.failure)
        #expect(failure.metrics.isEmpty)
        let seed = try #require(model.provenance.first { $0.key == "seed" })
        #expect(seed.values.count == 3 && seed.values.map(\.trials).reduce(0, +) == 13)
        #expect(model.provenance.first { $0.key == "abi" }?.values == [.init(value: "1.0", trials: 13)])
        #expect(model.metricNames.prefix(6) == ["accuracy", "baseline_accuracy", "accuracy_delta", "flip_rate", "kl_to_baseline", "size_bytes"])
        #expect(model.sweep.specPath == "sweeps/fixture.toml" && model.sweep.workers == 2)
    }

    @Test func loadErrorsNameTheFileAndSweep() throws {
        let fx = try Fixture.make()
        defer { fx.remove() }
        #expect(throws: ReportError("no results database at /nonexistent/x.db")) {
            try ReportModel.load(databasePath: "/nonexistent/x.db", sweep: "s")
        }
        let unknown = #expect(throws: ReportError.self) { try ReportModel.load(databasePath: fx.path, sweep: "nope") }
        #expect(unknown?.message.contains("no sweep named 'nope' in \(fx.path)") == true)
        #expect(unknown?.message.contains(Fixture.sweepName) == true)
        let other = fx.directory.appendingPathComponent("other.db").path
        let db = try SQLiteDatabase(path: other)
        try db.execute("CREATE TABLE t (x)")
        let notLathe = #expect(throws: ReportError.self) { try ReportModel.sweepNames(databasePath: other) }
        #expect(notLathe?.message.contains("is not a Lathe results database") == true)
        let garbage = fx.directory.appendingPathComponent("garbage.db")
        try Data("this is not sqlite at all, just text that is long enough to be a header".utf8).write(to: garbage)
        #expect(throws: ReportError.self) { try ReportModel.sweepNames(databasePath: garbage.path) }
        #expect(try ReportModel.sweepNames(databasePath: fx.path) == [Fixture.sweepName])
    }
}
