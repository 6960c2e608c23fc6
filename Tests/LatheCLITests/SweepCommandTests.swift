import Foundation
import LathePlugins
import Testing

/// `lathe sweep` end to end: real child processes per trial, a real SQLite database.
@Suite("lathe sweep", .serialized)
struct SweepCommandTests {
    static let spec = """
    name = "tiny"
    model = "mlp"
    seeds = [0, 1]
    limit_train = 1500
    limit_test = 400
    timeout = 300

    [baseline]
    epochs = 1
    batch_size = 100

    [[groups]]
    name = "ptq"
    stages = [{ kind = "quantize", method = "uniform/symmetric", params = { per_channel = true } }]
    grid = { "quantize.params.bits" = [8, 4, 2] }
    """

    static func sqlite(_ db: String, _ sql: String) throws -> [String] {
        let r = try CLIRunner.runTool("/usr/bin/env", ["python3", "-c", """
        import sqlite3, sys
        for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(str(v) for v in row))
        """, db, sql])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test func killedSweepResumesWithNoTrialLostOrRepeated() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("tiny.toml")
        try Data(Self.spec.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let db = out + "/results.db"
        // Start with one worker and SIGKILL the parent once two trials are done.
        let process = Process()
        process.executableURL = CLIRunner.executable
        process.arguments = ["sweep", spec.path, "--out", out, "--workers", "1", "--no-report", "--plain", "--no-latency"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(240)
        var done = 0
        while Date() < deadline, process.isRunning {
            Thread.sleep(forTimeInterval: 0.3)
            if FileManager.default.fileExists(atPath: db) {
                done = Int((try? Self.sqlite(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'"))?.first ?? "0") ?? 0
                if done >= 3 { break }
            }
        }
        #expect(done >= 3 && process.isRunning, "the sweep should still be running with 3 trials done")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try Self.sqlite(db, "SELECT status, COUNT(*) FROM trials GROUP BY status ORDER BY status")
        #expect(before.contains { !$0.hasPrefix("done") }, "some trials must be unfinished after the kill: \(before)")

        let resume = try CLIRunner.run(["sweep", spec.path, "--out", out, "--workers", "2", "--resume", "--no-report", "--plain",
                                        "--latency-budget", "1"])
        #expect(resume.status == 0, "\(resume.stderr)")
        let rows = try Self.sqlite(db, "SELECT method, seed, status FROM trials ORDER BY method, seed")
        let expected = ["baseline (fp32)", "ptq: bits=2", "ptq: bits=4", "ptq: bits=8"].flatMap { m in [0, 1].map { "\(m)|\($0)|done" } }
        #expect(rows == expected)
        // One set of metrics per trial, none left over from the interrupted attempt.
        let metrics = try Self.sqlite(db, "SELECT COUNT(DISTINCT trial_id), COUNT(*) FROM metrics WHERE name = 'accuracy'")
        #expect(metrics == ["8|8"])
        // Every trial records its agreement with the same seed's baseline; the baseline reads 0 and 0.
        let agreement = try Self.sqlite(db, """
            SELECT t.method, f.value, k.value FROM trials t
            JOIN metrics f ON f.trial_id = t.id AND f.name = 'flip_rate'
            JOIN metrics k ON k.trial_id = t.id AND k.name = 'kl_to_baseline' WHERE t.seed = 0 ORDER BY t.method
            """).map { $0.split(separator: "|").map(String.init) }
        #expect(agreement.map { $0[0] } == ["baseline (fp32)", "ptq: bits=2", "ptq: bits=4", "ptq: bits=8"])
        #expect(agreement.first.map { Array($0[1...]) } == ["0.0", "0.0"])
        #expect(agreement.dropFirst().allSatisfy { (Double($0[2]) ?? 0) > 0 }, "\(agreement)")
        #expect(agreement.count == 4 && (Double(agreement[1][1]) ?? 0) > 0, "2-bit weights must flip some predictions: \(agreement)")
        #expect(try Self.sqlite(db, "SELECT COUNT(*) FROM sweeps") == ["1"])
        // The latency phase timed every trial's saved model after the trials; each speedup lies
        // inside its interval, and each baseline's is its control (itself against a copy).
        let latency = try Self.sqlite(db, """
            SELECT t.grp, l.value, s.value, lo.value, hi.value FROM trials t
            JOIN metrics l ON l.trial_id = t.id AND l.name = 'latency_b256_ms'
            JOIN metrics s ON s.trial_id = t.id AND s.name = 'speedup_b1'
            JOIN metrics lo ON lo.trial_id = t.id AND lo.name = 'speedup_b1_lower'
            JOIN metrics hi ON hi.trial_id = t.id AND hi.name = 'speedup_b1_upper' ORDER BY t.id
            """).map { $0.split(separator: "|").map(String.init) }
        #expect(latency.count == 8, "every trial timed: \(latency)")
        for row in latency {
            let v = row.dropFirst().compactMap(Double.init)
            #expect(v.count == 4 && v[0] > 0 && v[2] <= v[1] && v[1] <= v[3], "\(row)")
        }
        #expect(resume.stderr.contains("latency: timing 10 models"), "8 trials and 2 baseline controls: \(resume.stderr)")
        // Resuming a complete sweep runs nothing.
        let again = try CLIRunner.run(["sweep", spec.path, "--out", out, "--resume", "--no-report", "--plain", "--no-latency"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("0 to run"))
        // Without --resume the existing sweep is refused.
        let refused = try CLIRunner.run(["sweep", spec.path, "--out", out, "--no-report", "--plain", "--no-latency"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--resume"))
    }

    /// A crashing plugin, one that leaves half its output unwritten and one that writes into its
    /// read-only input during QAT: each loses its own trial, with the reason, and no metrics.
    @Test func misbehavingPluginsLoseOnlyTheirTrials() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("registry").path
        let fixtures = try ["segfault", "half_written", "writes_input"].map { try PluginCommandTests.fixture($0, in: dir) }
        let root = PluginCommandTests.root.path
        for lib in fixtures + ["\(root)/.build/plugins/libLatheUniform.so"] {
            let add = try CLIRunner.run(["plugins", "add", lib, "--registry", registry])
            #expect(add.status == 0, "\(add.stderr)")
        }
        let spec = dir.appendingPathComponent("crash.toml")
        try Data((Self.spec.replacingOccurrences(of: "name = \"tiny\"", with: "name = \"crash\"")
            .replacingOccurrences(of: "seeds = [0, 1]", with: "seeds = [0]") + """

            [[groups]]
            name = "crashing"
            stages = [{ kind = "quantize", method = "segfault/crash" }]

            [[groups]]
            name = "half"
            stages = [{ kind = "quantize", method = "half_written/sym8" }]

            [[groups]]
            name = "inplace"
            stages = [{ kind = "quantize", method = "writes_input/sym8", workflow = "qat", qat_epochs = 1 }]
            """).utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let result = try CLIRunner.run(["sweep", spec.path, "--out", out, "--registry", registry, "--no-report", "--plain", "--no-latency"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("crashed with SIGSEGV"))
        let rows = try Self.sqlite(out + "/results.db", "SELECT method, status, COALESCE(error, '') FROM trials ORDER BY id")
        #expect(rows.count == 7)
        #expect(rows.filter { $0.hasSuffix("|done|") }.count == 4, "\(rows)")
        #expect(rows.contains("crashing|failed|crashed with signal 11 (SIGSEGV)"), "\(rows)")
        #expect(rows.contains { $0.hasPrefix("half|failed|") && $0.contains("unwritten") }, "\(rows)")
        #expect(rows.contains { $0.hasPrefix("inplace|failed|") && $0.contains("read-only input") }, "\(rows)")
        #expect(try Self.sqlite(out + "/results.db", "SELECT COUNT(*) FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.status = 'failed'") == ["0"])
    }

    /// A rebuild while a sweep runs replaces or removes the `lathe` file it started from: its
    /// trials, latency phase and report still run the build that started (`/proc/<pid>/exe`).
    @Test func aSweepOutlivesTheRemovalOfItsExecutable() throws {
        let root = PluginCommandTests.root
        // A hard link beside the build (same file system, found checkout), removed mid-run.
        let bin = root.appendingPathComponent(".build/replaced-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        let lathe = bin.appendingPathComponent("lathe")
        try FileManager.default.linkItem(at: CLIRunner.executable, to: lathe)
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("tiny.toml")
        try Data(Self.spec.replacingOccurrences(of: "seeds = [0, 1]", with: "seeds = [0]")
            .replacingOccurrences(of: "[8, 4, 2]", with: "[8, 4]").utf8).write(to: spec)
        let out = dir.appendingPathComponent("out").path
        let log = dir.appendingPathComponent("sweep.log")
        let child = try SlurmRun.start(lathe.path, ["sweep", spec.path, "--out", out, "--workers", "1", "--plain", "--latency-budget", "1",
                                                    "--registry", root.appendingPathComponent("registry").path], logTo: log)
        // Once the sweep has opened its database the binary is running: remove its file.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, !FileManager.default.fileExists(atPath: out + "/results.db"), try child.poll() == nil {
            Thread.sleep(forTimeInterval: 0.1)
        }
        try FileManager.default.removeItem(at: lathe)
        let exit = try SlurmRun.wait(for: child)
        let said = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(exit.succeeded, "\(said)")
        #expect(try Self.sqlite(out + "/results.db", "SELECT status, COUNT(*) FROM trials GROUP BY status") == ["done|3"], "\(said)")
        #expect(try Self.sqlite(out + "/results.db", "SELECT COUNT(*) FROM metrics WHERE name = 'latency_b1_ms'") == ["3"])
        #expect(FileManager.default.fileExists(atPath: out + "/report/report.html"), "\(said)")
    }

    @Test func invalidSpecIsRefusedBeforeAnythingRuns() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("bad.toml")
        try Data(Self.spec.replacingOccurrences(of: "[8, 4, 2]", with: "[8, 99]").utf8).write(to: spec)
        let out = dir.appendingPathComponent("out")
        let result = try CLIRunner.run(["sweep", spec.path, "--out", out.path, "--no-report", "--plain", "--no-latency"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("bad.toml:15:") && result.stderr.contains("got 99"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
