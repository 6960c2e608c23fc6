import Foundation
import LatheResults
import Testing

/// `lathe report` end to end: a real results database, the real executable.
@Suite("lathe report")
struct ReportCommandTests {
    /// A results database with the given sweeps, each of 2 methods × 2 seeds (+ baselines) and one failed trial.
    static func database(sweeps: [String], in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("results.db").path
        let store = try ResultsStore(path: path)
        for name in sweeps {
            var records: [ResultsStore.TrialRecord] = []
            for seed: Int64 in [1, 2] {
                for (group, method) in [("baseline", "dense fp32"), ("quant", "int8"), ("prune", "l1 50%")] {
                    records.append(.init(key: "\(method)/\(seed)", group: group, method: method, configJSON: "{}", seed: seed))
                }
            }
            records.append(.init(key: "int2/1", group: "quant", method: "int2", configJSON: "{}", seed: 1))
            let id = try store.createSweep(name: name, specPath: "sweeps/\(name).toml", specText: "name = \"\(name)\"", latheVersion: "0.1.0",
                                           host: "test", workers: 1, threads: 1, trials: records)
            for (i, t) in try store.trials(sweep: id).enumerated() {
                try store.markRunning(t.id)
                if t.record.method == "int2" {
                    try store.fail(t.id, error: "timeout after 60 s", seconds: 60)
                    continue
                }
                let size: Double = t.record.method == "int8" ? 62_000 : t.record.method == "l1 50%" ? 120_000 : 246_000
                let accuracy = 0.9 - Double(i) * 0.003
                try store.finish(t.id, outcome: .init(metrics: [
                    "accuracy": accuracy, "size_bytes": size, "latency_b1_ms": 0.1 + Double(i) * 0.01, "compression_ratio": 246_000 / size,
                ], layerStats: ["conv1": ["sensitivity_drop": 0.5]]), seconds: 3)
            }
        }
        return path
    }

    @Test func writesAllFilesAndPrintsTheHTMLPath() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try Self.database(sweeps: ["alpha"], in: dir)
        let out = dir.appendingPathComponent("out/report")
        // --sweep omitted: the only sweep.
        let result = try CLIRunner.run(["report", db, "-o", out.path])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.last.map(String.init) == out.appendingPathComponent("report.html").path)
        #expect(result.stdout.contains("sweep 'alpha': 7 trials (6 done, 1 failed), 3 configurations"))
        for name in ["report.html", "report.md", "trials.csv", "aggregates.csv", "report.json"] {
            let data = try Data(contentsOf: out.appendingPathComponent(name))
            #expect(data.count > 50, "\(name)")
        }
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<svg").count - 1 == 2)
        #expect(html.contains("timeout after 60 s"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any]
        #expect((json?["trials"] as? [Any])?.count == 7)
        let csv = try String(contentsOf: out.appendingPathComponent("trials.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("trial_id,") && csv.split(separator: "\n").count == 8)
        // No temporary folder left beside the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path) == ["report"])

        // Again, into the existing folder, naming the sweep; default output folder beside the database.
        let again = try CLIRunner.run(["report", db, "--sweep", "alpha", "--out", out.path])
        #expect(again.status == 0, "\(again.stderr)")
        let defaulted = try CLIRunner.run(["report", db])
        #expect(defaulted.status == 0, "\(defaulted.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("report-alpha/report.html").path))
    }

    @Test func badInputFailsWithAMessageAndWritesNothing() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")

        let missing = try CLIRunner.run(["report", dir.appendingPathComponent("nope.db").path, "-o", out.path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no results database at \(dir.appendingPathComponent("nope.db").path)"), "\(missing.stderr)")

        let db = try Self.database(sweeps: ["alpha", "beta"], in: dir)
        let unknown = try CLIRunner.run(["report", db, "--sweep", "gamma", "-o", out.path])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no sweep named 'gamma' in \(db) (its sweeps: alpha, beta)"), "\(unknown.stderr)")

        let ambiguous = try CLIRunner.run(["report", db, "-o", out.path])
        #expect(ambiguous.status != 0)
        #expect(ambiguous.stderr.contains("holds 2 sweeps: alpha, beta; choose one with --sweep NAME"), "\(ambiguous.stderr)")

        let notDB = dir.appendingPathComponent("notes.txt")
        try Data("hello, this is not a database at all, it is a long enough text file".utf8).write(to: notDB)
        let garbage = try CLIRunner.run(["report", notDB.path, "--sweep", "alpha", "-o", out.path])
        #expect(garbage.status != 0)
        #expect(garbage.stderr.contains(notDB.path), "\(garbage.stderr)")

        let empty = try CLIRunner.run(["report", db, "--sweep", "", "-o", out.path])
        #expect(empty.status != 0 && empty.stderr.contains("--sweep"))

        #expect(!FileManager.default.fileExists(atPath: out.path))
        let beta = try CLIRunner.run(["report", db, "--sweep", "beta", "-o", out.path])
        #expect(beta.status == 0, "\(beta.stderr)")
        #expect(try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8).contains("# Sweep “beta”"))
    }
}
