import Foundation
import Testing
@testable import LatheReport

/// notebooks/sweep_results.ipynb runs as a plain script (its code cells in order) with Debian's
/// Python 3, pandas and matplotlib against a real results database, and agrees with `lathe report`.
@Suite("notebooks")
struct NotebookTests {
    static let python = "/usr/bin/python3"
    static let notebook = Fixture.root.appendingPathComponent("notebooks/sweep_results.ipynb")

    /// The notebook's code cells joined into one script.
    static func script() throws -> String {
        let json = try JSONSerialization.jsonObject(with: try Data(contentsOf: notebook))
        let nb = try #require(json as? [String: Any], "the notebook is not a JSON object")
        #expect(nb["nbformat"] as? Int == 4)
        let cells = try #require(nb["cells"] as? [[String: Any]], "the notebook has no cells")
        let code = cells.filter { $0["cell_type"] as? String == "code" }.map { cell -> String in
            if let lines = cell["source"] as? [String] { return lines.joined() }
            return cell["source"] as? String ?? ""
        }
        #expect(code.count >= 4)
        return code.joined(separator: "\n\n")
    }

    static func run(script: String, environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func notebookPlotsTheParetoFrontsAndRanking() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.python), "\(Self.python) missing: run scripts/bootstrap.sh")
        let fx = try Fixture.make()
        defer { fx.remove() }
        let out = fx.directory.appendingPathComponent("notebook-out")
        let result = try Self.run(script: try Self.script(), environment: [
            "LATHE_RESULTS_DB": fx.path, "LATHE_NOTEBOOK_OUT": out.path,
            "MPLCONFIGDIR": fx.directory.appendingPathComponent("mpl").path,
        ])
        try #require(result.status == 0, "notebook failed (needs python3-pandas python3-matplotlib, see scripts/bootstrap.sh):\n\(result.output)")
        #expect(result.output.contains("sweep '\(Fixture.sweepName)'"))
        for name in ["pareto_size.png", "pareto_latency.png", "accuracy_flips.png", "speedups.png", "ranking.png"] {
            let data = try Data(contentsOf: out.appendingPathComponent(name))
            #expect(data.count > 10_000, "\(name) is \(data.count) bytes")
            #expect(Array(data.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(name) is not a PNG")
        }
        // The notebook's fronts and statistics agree with the report's.
        #expect(result.output.contains("pareto_size.png: front = lowbit int2, uniform int4, uniform int8, dense fp32"))
        #expect(result.output.contains("pareto_latency.png: front = magnitude 50%, uniform int8, dense fp32"))
        let model = try ReportModel.load(databasePath: fx.path, sweep: Fixture.sweepName)
        let csv = try String(contentsOf: out.appendingPathComponent("notebook_aggregates.csv"), encoding: .utf8)
        let (_, rows) = CSV.records(csv)
        #expect(rows.count == model.aggregates.count)
        for row in rows {
            let a = try #require(model.aggregate(group: row["grp"] ?? "", method: row["method"] ?? ""))
            #expect(row["trial_ids"] == a.trialIDs.map(String.init).joined(separator: " "))
            // Speedups as the report shows them: estimate, interval and the noise mark.
            for metric in ReportMetric.speedups {
                let f = try #require(SpeedupFigure.of(a, metric, in: model))
                for (column, value) in [(metric, f.estimate), ("\(metric)_lower", f.lower), ("\(metric)_upper", f.upper)] {
                    let v = try #require(value)
                    #expect(abs((Double(row[column] ?? "") ?? .nan) - v) <= 1e-9 * max(1, v), "\(a.method) \(column)")
                }
                #expect(row["\(metric)_within_noise"] == (f.withinNoise ? "True" : "False"), "\(a.method) \(metric)")
            }
            for metric in ["accuracy", "flip_rate", "kl_to_baseline", "size_bytes", "latency_b1_ms"] {
                let s = try #require(a[metric])
                #expect(abs((Double(row["\(metric)_mean"] ?? "") ?? .nan) - s.mean) <= 1e-9 * max(1, abs(s.mean)))
                if let ci = s.ciHalfWidth {
                    #expect(abs((Double(row["\(metric)_ci95"] ?? "") ?? .nan) - ci) <= 1e-9 * max(1, ci), "\(a.method) \(metric)")
                } else {
                    #expect((row["\(metric)_ci95"] ?? "").isEmpty, "\(a.method) \(metric): n=1 has no CI")
                }
            }
        }
    }

    /// A `--no-latency` sweep: the notebook says so and draws no latency or speedup chart.
    @Test func notebookRunsWithoutLatency() throws {
        let sweep = try MiniSweep.make([1, 2].flatMap { seed -> [MiniSweep.Trial] in [
            .init(group: "baseline", method: "fp32", seed: seed, metrics: ["accuracy": 0.9, "size_bytes": 4000, "flip_rate": 0, "kl_to_baseline": 0]),
            .init(group: "q", method: "int8", seed: seed, metrics: [
                "accuracy": 0.88 + 0.01 * Double(seed), "size_bytes": 1000, "flip_rate": 0.02, "kl_to_baseline": 0.01]),
        ] })
        defer { sweep.remove() }
        let out = sweep.directory.appendingPathComponent("notebook-out")
        let result = try Self.run(script: try Self.script(), environment: [
            "LATHE_RESULTS_DB": sweep.model.database, "LATHE_NOTEBOOK_OUT": out.path,
            "MPLCONFIGDIR": sweep.directory.appendingPathComponent("mpl").path,
        ])
        try #require(result.status == 0, "notebook failed:\n\(result.output)")
        #expect(result.output.contains("latency not measured (--no-latency, or its latency phase failed)"))
        for name in ["pareto_size.png", "accuracy_flips.png", "ranking.png"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) missing")
        }
        for name in ["pareto_latency.png", "speedups.png"] {
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) drawn without latency")
        }
    }

    @Test func notebookNamesAMissingDatabase() throws {
        let result = try Self.run(script: try Self.script(), environment: ["LATHE_RESULTS_DB": "/nonexistent/results.db"])
        #expect(result.status != 0)
        #expect(result.output.contains("no results database at /nonexistent/results.db"))
    }
}
