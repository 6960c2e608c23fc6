import Foundation
import Testing

/// `lathe reproduce` end to end: a real sweep, real child processes, the real database.
@Suite("lathe reproduce", .serialized)
struct ReproduceCommandTests {
    static let spec = """
    name = "repro"
    model = "mlp"
    seeds = [0]
    limit_train = 1500
    limit_test = 400
    timeout = 300

    [baseline]
    epochs = 1
    batch_size = 100

    [[groups]]
    name = "ptq"
    stages = [{ kind = "quantize", method = "uniform/symmetric", params = { bits = 4, per_channel = true } }]

    [[groups]]
    name = "pruning"
    stages = [{ kind = "prune", criterion = "prune/magnitude", sparsity = 0.5, finetune_epochs = 1 }]
    """

    /// The row of `metric` in `lathe reproduce`'s table: recorded, now, verdict.
    static func row(_ metric: String, in stdout: String) -> [String]? {
        stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == metric }.map { Array($0.dropFirst()) }
    }

    /// Runs one SQL statement on `db` and commits it.
    static func update(_ db: String, _ sql: String) throws {
        let r = try CLIRunner.runTool("/usr/bin/env", ["python3", "-c", """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1]); n = c.execute(sys.argv[2]).rowcount; c.commit()
        sys.exit(0 if n == 1 else 1)
        """, db, sql])
        #expect(r.status == 0, "\(sql): \(r.stderr)")
    }

    @Test func reproducesAPTQAndAPruningTrialToTheLastDigitAndRefusesChangedProvenance() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("repro.toml")
        try Data(Self.spec.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let db = out + "/results.db"
        let sweep = try CLIRunner.run(["sweep", spec.path, "--out", out, "--workers", "2", "--no-report", "--plain", "--no-latency"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let ids = Dictionary(uniqueKeysWithValues: try SweepCommandTests.sqlite(db, "SELECT grp, id FROM trials WHERE status = 'done'").map {
            let f = $0.split(separator: "|").map(String.init)
            return (f[0], f[1])
        })
        let ptq = try #require(ids["ptq"]), pruning = try #require(ids["pruning"])

        // The provenance holds what re-runs the trial.
        let provenance = Dictionary(uniqueKeysWithValues: try SweepCommandTests.sqlite(db, "SELECT key, value FROM provenance WHERE trial_id = \(ptq)").map {
            let f = $0.split(separator: "|", maxSplits: 1).map(String.init)
            return (f[0], f.count > 1 ? f[1] : "")
        })
        #expect(provenance["model"] == "mlp" && provenance["dataset"] == "fashion-mnist", "\(provenance)")
        #expect(provenance["limit_train"] == "1500" && provenance["limit_test"] == "400" && provenance["seed"] == "0" && provenance["threads"] == "1")
        #expect(provenance["baseline_recipe"]?.contains(#""batchSize":100"#) == true, "\(provenance)")
        #expect(provenance["data_fingerprint"]?.hasPrefix("fnv1a64:train=") == true, "\(provenance)")
        #expect(provenance["cache_directory"] == out + "/cache")
        #expect(provenance["plugin.uniform.sha256"]?.count == 64 && provenance["libtorch"] != nil && provenance["lathe_version"] != nil)

        // compress_seconds: the method's own time, a fraction of the trial's; none for the baseline.
        let compress = Dictionary(uniqueKeysWithValues: try SweepCommandTests.sqlite(db, """
            SELECT t.grp, m.value, t.seconds FROM trials t JOIN metrics m ON m.trial_id = t.id AND m.name = 'compress_seconds'
            """).map { row -> (String, (Double, Double)) in
            let f = row.split(separator: "|").map(String.init)
            return (f[0], (Double(f[1]) ?? -1, Double(f[2]) ?? -1))
        })
        #expect(compress["baseline"]?.0 == 0, "\(compress)")
        for group in ["ptq", "pruning"] {
            let (method, trial) = try #require(compress[group])
            #expect(method > 0 && method < trial, "\(group): compress_seconds \(method) of a \(trial) s trial")
        }
        // The pruning stage's fine-tuning epoch counts as training, not as compression.
        let training = try SweepCommandTests.sqlite(db, "SELECT value FROM metrics WHERE name = 'train_seconds' AND trial_id = \(pruning)")
        #expect(training.count == 1 && (Double(training[0]) ?? 0) > 0, "\(training)")

        // A PTQ trial from the cached baseline: every compared metric identical.
        let recordedAccuracy = try SweepCommandTests.sqlite(db, "SELECT value FROM metrics WHERE name = 'accuracy' AND trial_id = \(ptq)")
        let again = try CLIRunner.run(["reproduce", db, ptq])
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("baseline: cached"), "\(again.stdout)")
        let row = try #require(Self.row("accuracy", in: again.stdout), "\(again.stdout)")
        #expect(row.count == 3 && row[0] == row[1] && row[2] == "yes", "\(row)")
        #expect(Double(row[0]) == recordedAccuracy.first.flatMap(Double.init), "\(row) vs \(recordedAccuracy)")
        #expect(Self.row("train_seconds", in: again.stdout)?.suffix(3) == ["varies,", "not", "compared"], "timing is shown, not compared: \(again.stdout)")
        #expect(again.stdout.contains("reproduced: every compared metric is identical"))

        // A pruning trial with the cache gone: the baseline is retrained, with the same result.
        try FileManager.default.removeItem(atPath: out + "/cache")
        let retrained = try CLIRunner.run(["reproduce", db, pruning])
        #expect(retrained.status == 0, "\(retrained.stdout)\n\(retrained.stderr)")
        #expect(retrained.stdout.contains("baseline: not cached: retrained"), "\(retrained.stdout)")
        for metric in ["accuracy", "baseline_accuracy", "sparsity_masked", "flip_rate", "kl_to_baseline"] {
            #expect(Self.row(metric, in: retrained.stdout)?.last == "yes", "\(metric): \(retrained.stdout)")
        }

        // Another plugin library or other data: refused, naming the key and both values, nothing run.
        let sha = try #require(provenance["plugin.uniform.sha256"])
        let fake = String(repeating: "0", count: 64)
        try Self.update(db, "UPDATE provenance SET value = '\(fake)' WHERE trial_id = \(ptq) AND key = 'plugin.uniform.sha256'")
        let plugin = try CLIRunner.run(["reproduce", db, ptq])
        #expect(plugin.status == 1, "\(plugin.stderr)")
        #expect(plugin.stderr.contains("plugin.uniform.sha256 differs: recorded \(fake), now \(sha)"), "\(plugin.stderr)")
        #expect(!plugin.stderr.contains("re-running"), "\(plugin.stderr)")
        try Self.update(db, "UPDATE provenance SET value = 'fnv1a64:train=0,test=0' WHERE trial_id = \(pruning) AND key = 'data_fingerprint'")
        let data = try CLIRunner.run(["reproduce", db, pruning])
        #expect(data.status == 1 && data.stderr.contains("data_fingerprint differs: recorded fnv1a64:train=0,test=0, now fnv1a64:train="),
                "\(data.stderr)")
        // A trial that has no result to compare with is refused too.
        let missing = try CLIRunner.run(["reproduce", db, "999"])
        #expect(missing.status == 1 && missing.stderr.contains("has no trial 999"), "\(missing.stderr)")
    }
}
