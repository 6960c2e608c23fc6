import Foundation
import LatheResults
import Testing

/// `lathe sweep` and its results database: the one-writer lock, `--retry-failed`, read-only
/// media, and the command's help.
@Suite("lathe sweep database", .serialized)
struct SweepDatabaseTests {
    /// A one-seed sweep: its baseline and one quantized trial.
    static let spec = SweepCommandTests.spec
        .replacingOccurrences(of: "seeds = [0, 1]", with: "seeds = [0]")
        .replacingOccurrences(of: "[8, 4, 2]", with: "[8]")

    static func write(_ text: String, in dir: URL, name: String = "tiny.toml") throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func aSecondWriterIsRefusedNamingTheHoldersPid() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A baseline long enough to be running while the second sweep starts (it is killed).
        let spec = try Self.write(Self.spec.replacingOccurrences(of: "limit_train = 1500", with: "limit_train = 20000")
            .replacingOccurrences(of: "epochs = 1", with: "epochs = 50"), in: dir)
        let out = dir.appendingPathComponent("out").path
        let db = out + "/results.db"
        // A real sweep runs in one process...
        let first = Process()
        first.executableURL = CLIRunner.executable
        first.arguments = ["sweep", spec, "--out", out, "--workers", "1", "--no-report", "--plain", "--no-latency"]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, first.isRunning, (try? String(contentsOfFile: db + ".lock", encoding: .utf8)) != "\(first.processIdentifier)\n" {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(first.isRunning, "the first sweep should still be running")
        // ...and a second one on the same database, in another process, refuses at once.
        let started = Date()
        let second = try CLIRunner.run(["sweep", spec, "--out", out, "--resume", "--no-report", "--plain", "--no-latency"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("results database \(db) is in use by another sweep (pid \(first.processIdentifier)"), "\(second.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(first.isRunning, "the refused sweep must not disturb the running one")
        // The lock dies with its holder, even by SIGKILL: this process can take it then.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let lock = try WriterLock(database: db)
        // Held here, it refuses another process's sweep, naming this process.
        let third = try CLIRunner.run(["sweep", spec, "--out", out, "--resume", "--no-report", "--plain", "--no-latency"])
        #expect(third.status != 0 && third.stderr.contains("(pid \(getpid())"), "\(third.stderr)")
        withExtendedLifetime(lock) {}
    }

    @Test func retryFailedRerunsFailedTrialsAndTheirBaselineOnly() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = try Self.write(Self.spec, in: dir)
        let out = dir.appendingPathComponent("out").path
        let db = out + "/results.db"
        // The data is missing (as after a disk full): the baseline fails, and its trial with it.
        let missing = dir.appendingPathComponent("no-data").path
        let broken = try CLIRunner.run(["sweep", spec, "--out", out, "--data", missing, "--no-report", "--plain", "--no-latency"])
        #expect(broken.status == 0, "\(broken.stderr)")
        let failed = try SweepCommandTests.sqlite(db, "SELECT grp, status, attempts FROM trials ORDER BY id")
        #expect(failed == ["baseline|failed|1", "ptq|failed|1"], "\(failed)")
        // --resume alone leaves failed trials alone.
        let resumed = try CLIRunner.run(["sweep", spec, "--out", out, "--resume", "--no-report", "--plain", "--no-latency"])
        #expect(resumed.status == 0 && resumed.stderr.contains("0 to run"), "\(resumed.stderr)")
        // --retry-failed without --resume is refused.
        let alone = try CLIRunner.run(["sweep", spec, "--out", out, "--retry-failed", "--no-report", "--plain", "--no-latency"])
        #expect(alone.status != 0 && alone.stderr.contains("add --resume"), "\(alone.stderr)")
        // With the data back, --resume --retry-failed runs both again: baseline first.
        let retried = try CLIRunner.run(["sweep", spec, "--out", out, "--resume", "--retry-failed", "--no-report", "--plain", "--no-latency"])
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stderr.contains("2 failed trial(s) will run again") && retried.stderr.contains("2 to run"), "\(retried.stderr)")
        let done = try SweepCommandTests.sqlite(db, "SELECT grp, status, attempts, COALESCE(error, '') FROM trials ORDER BY id")
        #expect(done == ["baseline|done|2|", "ptq|done|2|"], "\(done)")
        // Done trials are never repeated: nothing left to retry, no trial or metric duplicated.
        let again = try CLIRunner.run(["sweep", spec, "--out", out, "--resume", "--retry-failed", "--no-report", "--plain", "--no-latency"])
        #expect(again.status == 0 && again.stderr.contains("0 to run"), "\(again.stderr)")
        #expect(try SweepCommandTests.sqlite(db, "SELECT COUNT(*), SUM(attempts) FROM trials") == ["2|4"])
        #expect(try SweepCommandTests.sqlite(db, "SELECT COUNT(*) FROM metrics WHERE name = 'accuracy'") == ["2"])
    }

    @Test func sweepsThatShareACacheTrainEachBaselineOnce() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("shared-cache").path
        let one = Self.spec.replacingOccurrences(of: "seeds = [0, 1]", with: "seeds = [3]")
            .replacingOccurrences(of: "grid = { \"quantize.params.bits\" = [8, 4, 2] }", with: "")
        var hits: [String] = []
        for name in ["first", "second"] {
            let spec = try Self.write(one.replacingOccurrences(of: "name = \"tiny\"", with: "name = \"\(name)\""), in: dir, name: "\(name).toml")
            let out = dir.appendingPathComponent(name).path
            let run = try CLIRunner.run(["sweep", spec, "--out", out, "--cache", cache, "--no-report", "--plain", "--no-latency"])
            #expect(run.status == 0, "\(run.stderr)")
            hits += try SweepCommandTests.sqlite(out + "/results.db", "SELECT p.value FROM provenance p JOIN trials t ON t.id = p.trial_id WHERE t.grp = 'baseline' AND p.key = 'baseline_cache_hit'")
            #expect(!FileManager.default.fileExists(atPath: out + "/cache"), "\(name) wrote its own cache")
        }
        // The first sweep trained seed 3's baseline into the shared folder; the second found it there.
        #expect(hits == ["false", "true"], "\(hits)")
        let files = try FileManager.default.contentsOfDirectory(atPath: cache + "/models").filter { $0.hasSuffix(".safetensors") }
        #expect(files.count == 1, "\(files)")
    }

    /// Runs `arguments` of `lathe` with `directory` read-only: a read-only bind mount in a
    /// private mount namespace when root (chmod does not stop root), else chmod 0555.
    static func runWithReadOnly(_ directory: URL, _ arguments: [String]) throws -> CLIRunner.Result {
        guard geteuid() == 0 else {
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path) }
            return try CLIRunner.run(arguments)
        }
        let quoted = ([CLIRunner.executable.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let d = "'\(directory.path)'"
        // Exit 98: the mount failed; 99: the directory is still writable. Either fails the test.
        return try CLIRunner.runTool("/usr/bin/unshare", ["-m", "sh", "-c", """
            mount --bind \(d) \(d) && mount -o remount,ro,bind \(d) || exit 98
            if touch \(d)/probe 2>/dev/null; then exit 99; fi
            exec \(quoted.joined(separator: " "))
            """])
    }

    @Test func aDatabaseOnReadOnlyMediaIsReportedAndRefusedForWritingWithTheReason() throws {
        let dir = try CLIRunner.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let media = dir.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: media, withIntermediateDirectories: true)
        let db = media.appendingPathComponent("results.db").path
        do {
            let store = try ResultsStore(path: db)
            let id = try store.createSweep(name: "ro", specPath: "ro.toml", specText: "", latheVersion: "0", host: "h", workers: 1, threads: 1,
                                           trials: [.init(key: "b", group: "baseline", method: "baseline (fp32)", configJSON: "[]", seed: 0)])
            let trial = try #require(try store.trials(sweep: id).first)
            try store.markRunning(trial.id)
            try store.finish(trial.id, outcome: .init(metrics: ["accuracy": 0.9, "size_bytes": 1000]), seconds: 1)
        }
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the store must be closed: a clean WAL database on the media")
        // A report reads it (written elsewhere), and writes nothing onto the media.
        let report = dir.appendingPathComponent("report").path
        let read = try Self.runWithReadOnly(media, ["report", db, "--sweep", "ro", "-o", report])
        #expect(read.status == 0, "status \(read.status): \(read.stderr)")
        #expect(FileManager.default.fileExists(atPath: report + "/report.html"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: media.path) == ["results.db"])
        // A sweep cannot write there: the error names the database and the reason.
        let spec = try Self.write(Self.spec.replacingOccurrences(of: "name = \"tiny\"", with: "name = \"ro\""), in: dir)
        let write = try Self.runWithReadOnly(media, ["sweep", spec, "--db", db, "--out", dir.appendingPathComponent("out").path,
                                                     "--resume", "--no-report", "--plain", "--no-latency"])
        #expect(write.status != 0 && write.status != 98 && write.status != 99)
        #expect(write.stderr.contains("cannot write results database \(db)") && write.stderr.contains("Read-only file system")
                || geteuid() != 0 && write.stderr.contains("Permission denied"), "\(write.stderr)")
    }

    @Test func helpStatesEachDefaultOnce() throws {
        let help = try CLIRunner.run(["sweep", "--help"])
        #expect(help.status == 0)
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("Parallel trial processes (default: one per core)."), "\(help.stdout)")
        #expect(!text.contains("(default: one per core). (default:"), "\(help.stdout)")
        #expect(text.contains("--retry-failed"))
    }
}
